// Matmul for skinny shapes: a short reduction (k ≤ 32: x·Aᵀ·Bᵀ's second product, dxa·A) or a narrow
// side (n ≤ 32, or m ≤ 32 for 'tn': LoRA's x·Aᵀ, dy·B, dA, dB at rank r). Same products, operands and
// epilogue as src/kernels/matmul.ts (C = α·op(A)·op(B) (+ bias) (+ C), batched with strides).
// Why not the tiled kernel: its workgroups stage 32-deep k slices of a 32×32 or 128×64 block in shared
// memory between barriers, so with k or n at 8 most of its loads, multiply-adds and barriers work on
// padding; on CPU-emulated adapters (SwiftShader, lavapipe) barriers and shared-memory traffic are what
// costs, and a LoRA step spent as long in its rank-r products as in the base weights' products.
// Here each invocation owns a TR×TC block of C and walks k straight through global memory (vec4 loads
// along the contiguous dimension where aligned): no shared memory, no barriers. Every output is one fma
// chain over k = 0, 1, …, K−1 from 0 (zero-padded quads add fma(0, 0, c) = c), then α·c, + bias, + C:
// the tiled kernel's exact order, so both give the same bits and switching kernels by shape changes no
// result (tested). No atomics and no split k: the same inputs give the same bits every run.

import type { Step } from '../gpu/step.ts';
import type { MatmulArgs, MatmulProduct } from './matmul.ts';

/** Outputs per invocation (tr rows × tc columns, multiples of 4) and invocations per workgroup. */
export interface SkinnyPlan {
  tr: number;
  tc: number;
  wg: number;
}

export interface SkinnyConfig {
  product: MatmulProduct;
  inputType: 'f32' | 'f16';
  outputType: 'f32' | 'f16';
  bias: boolean;
  accumulate: boolean;
  /** vec4 loads of A / B (contiguous dimension and batch stride multiples of 4), vec4 stores of C. */
  vecA: boolean;
  vecB: boolean;
  vecC: boolean;
  plan: SkinnyPlan;
}

/** The largest dimension that counts as skinny. */
export const SKINNY_MAX = 32;

/**
 * The plan for a shape, or null when the tiled kernel fits it better: skinny when k ≤ 32, n ≤ 32, or
 * m ≤ 32 for 'tn' (a weight gradient of a rank-r factor). 4×4 outputs per invocation: 8 vec4 loads feed
 * 64 multiply-adds. In SwiftShader 4×4, 4×8, 8×8 and 16×8 blocks and 4 to 64 invocations per workgroup
 * timed alike within noise on the LoRA shapes (bench/lora-matmul.ts), and 4×4 compiles in half the time
 * of 4×8 on lavapipe (seconds per variant with a cold shader cache). On CPU-emulated (fallback) adapters
 * 16 invocations per workgroup keep several workgroups in flight across the cores; elsewhere 64 (whole
 * warps; not measured on a discrete GPU).
 */
export function skinnyPlan(
  product: MatmulProduct,
  m: number,
  n: number,
  k: number,
  fallbackAdapter: boolean,
): SkinnyPlan | null {
  const skinny = k <= SKINNY_MAX || n <= SKINNY_MAX || (product === 'tn' && m <= SKINNY_MAX);
  if (!skinny) return null;
  return { tr: 4, tc: 4, wg: fallbackAdapter ? 16 : 64 };
}

/** Which of each operand's stored dimensions is contiguous: k for A [M,K] and B [N,K]. */
function alongK(product: MatmulProduct): { a: boolean; b: boolean } {
  return { a: product !== 'tn', b: product === 'nt' };
}

export function skinnyConfig(
  product: MatmulProduct,
  args: MatmulArgs,
  strideA: number,
  strideB: number,
  plan: SkinnyPlan,
): SkinnyConfig {
  const { m, n, k } = args;
  const along = alongK(product);
  const aligned = (...xs: number[]) => xs.every((x) => x % 4 === 0);
  return {
    product,
    inputType: args.a.dtype === 'f16' ? 'f16' : 'f32',
    outputType: args.c.dtype === 'f16' ? 'f16' : 'f32',
    bias: args.bias !== undefined,
    accumulate: args.accumulate ?? false,
    vecA: aligned(along.a ? k : m, strideA),
    vecB: aligned(along.b ? k : n, strideB),
    vecC: aligned(n),
    plan,
  };
}

export function skinnyLabel(cfg: SkinnyConfig): string {
  const { tr, tc, wg } = cfg.plan;
  const vec = `${cfg.vecA ? 'v' : 's'}${cfg.vecB ? 'v' : 's'}${cfg.vecC ? 'v' : 's'}`;
  return (
    `matmul_skinny_${cfg.product}_${cfg.inputType}_${cfg.outputType}${cfg.bias ? '_bias' : ''}` +
    `${cfg.accumulate ? '_acc' : ''}_${vec}_${tr}x${tc}_wg${wg}`
  );
}

/**
 * One vec4 of a stored matrix [rows, cols] (cols contiguous) at (row, col), col a multiple of 4.
 * Indices along k read zero past k (so padded terms add fma(0, 0, c) = c); indices along m or n are
 * clamped into the matrix (those outputs are never stored). Branch-free (clamped loads and selects):
 * straight-line code compiles faster on LLVM-based adapters.
 */
function loader(name: 'A' | 'B', vec: boolean, kIsCol: boolean, rows: string, cols: string): string {
  const at = `base + min(row, ${rows} - 1u) * ${cols}`;
  const scalars = (first: string) =>
    `vec4<f32>(${[0, 1, 2, 3].map((c) => `f32(${name}[at + min(${first} + ${c}u, ${cols} - 1u)])`).join(', ')})`;
  let body: string;
  if (kIsCol) {
    body = vec
      ? `return vec4<f32>(${name}4[(${at} + col) / 4u]);`
      : `let at = ${at};
  return select(vec4<f32>(), ${scalars('col')}, vec4<u32>(col) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(${cols}));`;
  } else {
    body = vec
      ? `return select(vec4<f32>(), vec4<f32>(${name}4[(${at} + min(col, ${cols} - 4u)) / 4u]), row < ${rows});`
      : `let at = ${at};
  return select(vec4<f32>(), ${scalars('col')}, row < ${rows});`;
  }
  return `fn load${name}(base: u32, row: u32, col: u32) -> vec4<f32> {
  ${body}
}`;
}

export function skinnyWgsl(cfg: SkinnyConfig): string {
  const { tr, tc, wg } = cfg.plan;
  if (tr % 4 !== 0 || tc % 4 !== 0) throw new RangeError(`skinny matmul plan ${JSON.stringify(cfg.plan)}`);
  const along = alongK(cfg.product);
  const inT = cfg.inputType;
  const outT = cfg.outputType;
  // A is stored [M,K] or [K,M]; B is stored [N,K] or [K,N].
  const loaders = [
    loader('A', cfg.vecA, along.a, along.a ? 'p.m' : 'p.k', along.a ? 'p.k' : 'p.m'),
    loader('B', cfg.vecB, along.b, along.b ? 'p.n' : 'p.k', along.b ? 'p.k' : 'p.n'),
  ];
  // Per quad of k: the loads, and the scalar each fma reads (as in the tiled kernel).
  const loads: string[] = [];
  let aAt: (i: number, kk: number) => string;
  let bAt: (kk: number, j: number) => string;
  if (along.a) {
    for (let i = 0; i < tr; i++) loads.push(`let a${i} = loadA(aBase, i0 + ${i}u, q);`);
    aAt = (i, kk) => `a${i}[${kk}]`;
  } else {
    for (let kk = 0; kk < 4; kk++) {
      for (let t = 0; t < tr / 4; t++) loads.push(`let a${kk}_${t} = loadA(aBase, q + ${kk}u, i0 + ${4 * t}u);`);
    }
    aAt = (i, kk) => `a${kk}_${Math.floor(i / 4)}[${i % 4}]`;
  }
  if (along.b) {
    for (let j = 0; j < tc; j++) loads.push(`let b${j} = loadB(bBase, j0 + ${j}u, q);`);
    bAt = (kk, j) => `b${j}[${kk}]`;
  } else {
    for (let kk = 0; kk < 4; kk++) {
      for (let t = 0; t < tc / 4; t++) loads.push(`let b${kk}_${t} = loadB(bBase, q + ${kk}u, j0 + ${4 * t}u);`);
    }
    bAt = (kk, j) => `b${kk}_${Math.floor(j / 4)}[${j % 4}]`;
  }
  const decls: string[] = [];
  const fmas: string[] = [];
  for (let i = 0; i < tr; i++) for (let j = 0; j < tc; j++) decls.push(`var c${i}_${j} = 0.0;`);
  for (let kk = 0; kk < 4; kk++) {
    for (let i = 0; i < tr; i++) {
      for (let j = 0; j < tc; j++) fmas.push(`c${i}_${j} = fma(${aAt(i, kk)}, ${bAt(kk, j)}, c${i}_${j});`);
    }
  }
  // α·c, + bias, + C: per element in the tiled kernel's order, 4 columns at a time.
  const stores: string[] = [];
  for (let i = 0; i < tr; i++) {
    const body: string[] = [];
    for (let t = 0; t < tc / 4; t++) {
      const cols = [0, 1, 2, 3].map((c) => 4 * t + c);
      if (cfg.vecC) {
        body.push(`if (j0 + ${4 * t}u < p.n) {
      let idx = (cBase + row * p.n + j0 + ${4 * t}u) / 4u;
      var v = p.alpha * vec4<f32>(${cols.map((j) => `c${i}_${j}`).join(', ')});
      ${cfg.bias ? `v += vec4<f32>(bias4[(j0 + ${4 * t}u) / 4u]);` : ''}
      ${cfg.accumulate ? 'v += vec4<f32>(C4[idx]);' : ''}
      C4[idx] = vec4<${outT}>(v);
    }`);
      } else {
        for (const j of cols) {
          body.push(`if (j0 + ${j}u < p.n) {
      let idx = cBase + row * p.n + j0 + ${j}u;
      var v = p.alpha * c${i}_${j};
      ${cfg.bias ? `v += f32(bias[j0 + ${j}u]);` : ''}
      ${cfg.accumulate ? 'v += f32(C[idx]);' : ''}
      C[idx] = ${outT}(v);
    }`);
        }
      }
    }
    stores.push(`if (i0 + ${i}u < p.m) {
    let row = i0 + ${i}u;
    ${body.join('\n    ')}
  }`);
  }
  const f16 = inT === 'f16' || outT === 'f16';
  const operand = (name: 'A' | 'B', vec: boolean, binding: number) =>
    vec
      ? `@group(0) @binding(${binding}) var<storage, read> ${name}4: array<vec4<${inT}>>;`
      : `@group(0) @binding(${binding}) var<storage, read> ${name}: array<${inT}>;`;
  const c = cfg.vecC ? 'C4' : 'C';
  const cType = cfg.vecC ? `vec4<${outT}>` : outT;
  return /* wgsl */ `
${f16 ? 'enable f16;' : ''}
struct Params { m: u32, n: u32, k: u32, strideA: u32, strideB: u32, strideC: u32, alpha: f32, colBlocks: u32, blocks: u32, gridX: u32 }
@group(0) @binding(0) var<uniform> p: Params;
${operand('A', cfg.vecA, 1)}
${operand('B', cfg.vecB, 2)}
@group(0) @binding(3) var<storage, read_write> ${c}: array<${cType}>;
${cfg.bias ? `@group(0) @binding(4) var<storage, read> ${cfg.vecC ? 'bias4' : 'bias'}: array<${cType}>;` : ''}
${loaders.join('\n')}

@compute @workgroup_size(${wg}, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let blk = (wg.x + wg.y * p.gridX) * ${wg}u + li;
  if (blk >= p.blocks) { return; }
  let i0 = (blk / p.colBlocks) * ${tr}u;
  let j0 = (blk % p.colBlocks) * ${tc}u;
  let aBase = wg.z * p.strideA;
  let bBase = wg.z * p.strideB;
  let cBase = wg.z * p.strideC;
  ${decls.join('\n  ')}
  for (var q = 0u; q < p.k; q += 4u) {
    ${loads.join('\n    ')}
    ${fmas.join('\n    ')}
  }
  ${stores.join('\n  ')}
}
`;
}

/**
 * Records the skinny kernel for C = α·op(A)·op(B) (+ bias) (+ C). The caller (matmul()) has checked
 * shapes and dtypes and resolved the default strides.
 */
export async function skinnyMatmul(
  step: Step,
  args: MatmulArgs,
  product: MatmulProduct,
  strideA: number,
  strideB: number,
  plan: SkinnyPlan,
): Promise<void> {
  const { m, n, k } = args;
  const batch = args.batch ?? 1;
  const cfg = skinnyConfig(product, args, strideA, strideB, plan);
  const colBlocks = Math.ceil(n / plan.tc);
  const blocks = Math.ceil(m / plan.tr) * colBlocks;
  if (blocks === 0 || batch === 0) return; // an empty C: nothing to write (and no 0-sized grid)
  const maxPerDim = step.gpu.caps.limits.maxComputeWorkgroupsPerDimension;
  const groups = Math.ceil(blocks / plan.wg);
  const gridX = Math.min(groups, maxPerDim);
  const gridY = Math.ceil(groups / gridX);
  if (gridY > maxPerDim || batch > maxPerDim) {
    throw new RangeError(`skinny matmul ${product}: ${batch}×${m}×${n} is too many outputs for one dispatch`);
  }
  const params = new ArrayBuffer(48);
  new Uint32Array(params, 0, 6).set([m, n, k, strideA, strideB, m * n]);
  new Float32Array(params, 24, 1)[0] = args.alpha ?? 1;
  new Uint32Array(params, 28, 3).set([colBlocks, blocks, gridX]);
  const buffers = [{ buffer: args.a.buffer }, { buffer: args.b.buffer }, { buffer: args.c.buffer }];
  if (args.bias) buffers.push({ buffer: args.bias.buffer });
  await step.dispatch({
    kernel: { label: skinnyLabel(cfg), code: skinnyWgsl(cfg) },
    params,
    buffers,
    workgroups: [gridX, gridY, batch],
  });
}
