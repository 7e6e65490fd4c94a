// Matrix-vector products for decoding: C [t, n] = alpha · X [t, k] · W [n, k]ᵀ (+ bias [n]) (+ C), for a
// few rows t ≤ 8 (one new token, or a short chunk).
// Why not the tiled matmul: its 64×64 output tiles compute 64 rows when only one exists, so a decoding
// step wastes ~98% of its work, and the LM head alone (one row × vocab) dominates. Here one workgroup
// owns one output column j: its 64 invocations stream W's row j (contiguous, read once for all t rows),
// keep t partial sums each, and reduce them by a fixed tree (deterministic).

import type { Step } from '../gpu/step.ts';
import { numel, type Tensor } from '../gpu/tensor.ts';
import { rowGrid } from './grid.ts';

const WG = 64;
export const GEMV_MAX_ROWS = 8;

export function gemvWgsl(bias: boolean, accumulate: boolean): string {
  return /* wgsl */ `
struct Params { t: u32, n: u32, k: u32, gridX: u32, alpha: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
${bias ? '@group(0) @binding(4) var<storage, read> Bias: array<f32>;' : ''}
var<workgroup> part: array<f32, ${WG * GEMV_MAX_ROWS}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let j = wg.x + wg.y * p.gridX;
  if (j >= p.n) { return; }
  var acc: array<f32, ${GEMV_MAX_ROWS}>;
  for (var r = 0u; r < ${GEMV_MAX_ROWS}u; r++) { acc[r] = 0.0; }
  let wBase = j * p.k;
  for (var i = tid; i < p.k; i += ${WG}u) {
    let w = W[wBase + i];
    for (var r = 0u; r < p.t; r++) { acc[r] += X[r * p.k + i] * w; }
  }
  for (var r = 0u; r < ${GEMV_MAX_ROWS}u; r++) { part[r * ${WG}u + tid] = acc[r]; }
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (tid < s) {
      for (var r = 0u; r < p.t; r++) { part[r * ${WG}u + tid] += part[r * ${WG}u + tid + s]; }
    }
    workgroupBarrier();
  }
  if (tid < p.t) {
    var v = p.alpha * part[tid * ${WG}u];
    ${bias ? 'v += Bias[j];' : ''}
    ${accumulate ? 'v += C[tid * p.n + j];' : ''}
    C[tid * p.n + j] = v;
  }
}
`;
}

export interface GemvArgs {
  x: Tensor;
  w: Tensor;
  c: Tensor;
  t: number;
  n: number;
  k: number;
  bias?: Tensor;
  alpha?: number;
  accumulate?: boolean;
}

export async function gemv(step: Step, a: GemvArgs): Promise<void> {
  if (a.t < 1 || a.t > GEMV_MAX_ROWS) throw new RangeError(`gemv: ${a.t} rows (1..${GEMV_MAX_ROWS})`);
  for (const x of [a.x, a.w, a.c, ...(a.bias ? [a.bias] : [])]) {
    if (x.dtype !== 'f32') throw new TypeError(`gemv: ${x.label} is ${x.dtype}, expected f32`);
  }
  if (numel(a.x.shape) < a.t * a.k || numel(a.w.shape) < a.n * a.k || numel(a.c.shape) < a.t * a.n) {
    throw new RangeError('gemv: a tensor is smaller than its shape');
  }
  const grid = rowGrid(a.n, step.gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  const params = new ArrayBuffer(32);
  new Uint32Array(params, 0, 4).set([a.t, a.n, a.k, grid[0]]);
  new Float32Array(params, 16, 1)[0] = a.alpha ?? 1;
  const bias = a.bias !== undefined;
  const acc = a.accumulate ?? false;
  await step.dispatch({
    kernel: { label: `gemv${bias ? '_bias' : ''}${acc ? '_acc' : ''}`, code: gemvWgsl(bias, acc) },
    params,
    buffers: [a.x, a.w, a.c, ...(a.bias ? [a.bias] : [])].map((x) => ({ buffer: x.buffer })),
    workgroups: grid,
  });
}
