// The floor for matmul benchmarks: one invocation per output element, reading A and B straight from
// global memory with no tiling or register blocking. Same layouts and results as matmul.ts (no bias,
// no accumulate); never used by the engine.
//   'nn' A [M,K]·B [K,N];  'nt' A [M,K]·B[N,K]ᵀ;  'tn' A[K,M]ᵀ·B [K,N]  →  C [M,N], f32.

import type { Step } from '../gpu/step.ts';
import type { Tensor } from '../gpu/tensor.ts';
import type { MatmulProduct } from '../reference/matmul.ts';

export function naiveMatmulWgsl(product: MatmulProduct): string {
  const a = product === 'tn' ? 'A[kk * p.m + row]' : 'A[row * p.k + kk]';
  const b = product === 'nt' ? 'B[col * p.k + kk]' : 'B[kk * p.n + col]';
  return /* wgsl */ `
struct Params { m: u32, n: u32, k: u32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.y;
  let col = gid.x;
  if (row >= p.m || col >= p.n) { return; }
  var acc = 0.0;
  for (var kk = 0u; kk < p.k; kk++) { acc += ${a} * ${b}; }
  C[row * p.n + col] = acc;
}
`;
}

export async function naiveMatmul(
  step: Step,
  args: { a: Tensor; b: Tensor; c: Tensor; m: number; n: number; k: number },
  product: MatmulProduct,
): Promise<void> {
  await step.dispatch({
    kernel: { label: `matmul_naive_${product}`, code: naiveMatmulWgsl(product) },
    params: new Uint32Array([args.m, args.n, args.k, 0]),
    buffers: [{ buffer: args.a.buffer }, { buffer: args.b.buffer }, { buffer: args.c.buffer }],
    workgroups: [Math.ceil(args.n / 16), Math.ceil(args.m / 16)],
  });
}
