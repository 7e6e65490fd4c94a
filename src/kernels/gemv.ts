// Matrix-vector products for decoding: C [t, n] = alpha · X [t, k] · W [n, k]ᵀ (+ bias [n]) (+ C), for a
// few rows t ≤ 8 (one new token, or a short chunk).
// Why not the tiled matmul: its 64×64 output tiles compute 64 rows when only one exists, so a decoding
// step wastes ~98% of its work, and the LM head alone (one row × vocab) dominates. Here a few invocations
// own one output column j: they stream W's row j (contiguous, read once for all t rows),
// keep t partial sums each, and reduce them by a fixed tree (deterministic).
// A workgroup serves 16 columns with 4 invocations each, so the LM head takes vocab/16 workgroups.

import type { Step } from '../gpu/step.ts';
import { numel, type Tensor } from '../gpu/tensor.ts';
import { rowGrid } from './grid.ts';

const WG = 64;
/** Output columns per workgroup and invocations per column (few workgroups: cheap on every driver). */
const COLS = 16;
const TPC = WG / COLS;
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
  let lane = tid % ${TPC}u;
  let j = (wg.x + wg.y * p.gridX) * ${COLS}u + tid / ${TPC}u;
  var acc: array<f32, ${GEMV_MAX_ROWS}>;
  for (var r = 0u; r < ${GEMV_MAX_ROWS}u; r++) { acc[r] = 0.0; }
  if (j < p.n) {
    let wBase = j * p.k;
    for (var i = lane; i < p.k; i += ${TPC}u) {
      let w = W[wBase + i];
      for (var r = 0u; r < p.t; r++) { acc[r] += X[r * p.k + i] * w; }
    }
  }
  for (var r = 0u; r < ${GEMV_MAX_ROWS}u; r++) { part[r * ${WG}u + tid] = acc[r]; }
  workgroupBarrier();
  for (var s = ${TPC / 2}u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var r = 0u; r < p.t; r++) { part[r * ${WG}u + tid] += part[r * ${WG}u + tid + s]; }
    }
    workgroupBarrier();
  }
  if (lane == 0u && j < p.n) {
    for (var r = 0u; r < p.t; r++) {
      var v = p.alpha * part[r * ${WG}u + tid];
      ${bias ? 'v += Bias[j];' : ''}
      ${accumulate ? 'v += C[r * p.n + j];' : ''}
      C[r * p.n + j] = v;
    }
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
  const grid = rowGrid(Math.ceil(a.n / COLS), step.gpu.caps.limits.maxComputeWorkgroupsPerDimension);
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
