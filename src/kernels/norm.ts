// RMSNorm forward and backward (Hugging Face LlamaRMSNorm; also Qwen3's per-head q_norm/k_norm with
// rows = tokens·heads and d = head_dim).
//   forward:  x [rows,d], w [d] → y [rows,d], rstd [rows]     y = w ⊙ x · rstd,  rstd = (mean x² + eps)^-½
//   backward: dy, x, w, rstd → dx [rows,d] (optionally added into dx), and with dw: g = dy ⊙ x̂ per row,
//             then dw = Σ_rows g by the fixed-order column reduction.
// Why: one workgroup per row; the sum of squares and the backward's dot product are reduced by a fixed
// tree in workgroup memory (no atomics, bitwise reproducible). rstd is saved so the backward does not
// recompute the row statistics.

import type { Step } from '../gpu/step.ts';
import { numel, type Tensor } from '../gpu/tensor.ts';
import { reduceColumns } from './reduce.ts';
import { rowGrid } from './grid.ts';
import { treeSumWgsl } from './workgroup-tree.ts';

const WG = 64;

export function rmsnormForwardWgsl(): string {
  return /* wgsl */ `
struct Params { rows: u32, d: u32, gridX: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<storage, read_write> Rstd: array<f32>;
var<workgroup> part: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = wg.x + wg.y * p.gridX;
  if (row >= p.rows) { return; }
  let base = row * p.d;
  var acc = 0.0;
  for (var i = t; i < p.d; i += ${WG}u) { let v = X[base + i]; acc += v * v; }
  part[t] = acc;
  ${treeSumWgsl(WG, 'part')}
  let rstd = inverseSqrt(part[0] / f32(p.d) + p.eps);
  for (var i = t; i < p.d; i += ${WG}u) { Y[base + i] = W[i] * (X[base + i] * rstd); }
  if (t == 0u) { Rstd[row] = rstd; }
}
`;
}

export function rmsnormBackwardWgsl(accumulateDx: boolean, withG: boolean): string {
  return /* wgsl */ `
struct Params { rows: u32, d: u32, gridX: u32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> DY: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read> W: array<f32>;
@group(0) @binding(4) var<storage, read> Rstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> DX: array<f32>;
${withG ? '@group(0) @binding(6) var<storage, read_write> G: array<f32>;' : ''}
var<workgroup> part: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = wg.x + wg.y * p.gridX;
  if (row >= p.rows) { return; }
  let base = row * p.d;
  let rstd = Rstd[row];
  var acc = 0.0;
  for (var i = t; i < p.d; i += ${WG}u) { acc += DY[base + i] * W[i] * X[base + i]; }
  part[t] = acc;
  ${treeSumWgsl(WG, 'part')}
  let mean = part[0] * rstd / f32(p.d);
  for (var i = t; i < p.d; i += ${WG}u) {
    let xh = X[base + i] * rstd;
    let dx = rstd * (DY[base + i] * W[i] - xh * mean);
    ${accumulateDx ? 'DX[base + i] += dx;' : 'DX[base + i] = dx;'}
    ${withG ? 'G[base + i] = DY[base + i] * xh;' : ''}
  }
}
`;
}

function checkF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'f32') throw new TypeError(`${op}: ${t.label} is ${t.dtype}, expected f32`);
}

export interface RmsnormForwardArgs {
  x: Tensor;
  w: Tensor;
  y: Tensor;
  rstd: Tensor;
  rows: number;
  d: number;
  eps: number;
}

export async function rmsnormForward(step: Step, a: RmsnormForwardArgs): Promise<void> {
  checkF32('rmsnorm', a.x, a.w, a.y, a.rstd);
  if (numel(a.x.shape) < a.rows * a.d || numel(a.y.shape) < a.rows * a.d)
    throw new RangeError('rmsnorm: x or y too small');
  if (numel(a.w.shape) !== a.d) throw new RangeError(`rmsnorm: weight has ${numel(a.w.shape)} values, d is ${a.d}`);
  const grid = rowGrid(a.rows, step.gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  const params = new ArrayBuffer(16);
  new Uint32Array(params, 0, 3).set([a.rows, a.d, grid[0]]);
  new Float32Array(params, 12, 1)[0] = a.eps;
  await step.dispatch({
    kernel: { label: 'rmsnorm_fwd', code: rmsnormForwardWgsl() },
    params,
    buffers: [{ buffer: a.x.buffer }, { buffer: a.w.buffer }, { buffer: a.y.buffer }, { buffer: a.rstd.buffer }],
    workgroups: grid,
  });
}

export interface RmsnormBackwardArgs {
  dy: Tensor;
  x: Tensor;
  w: Tensor;
  rstd: Tensor;
  dx: Tensor;
  rows: number;
  d: number;
  /** dx += result (the residual stream's gradient already holds the skip path). */
  accumulateDx?: boolean;
  /** The weight's gradient, when the norm is trainable (full fine-tuning). */
  dw?: Tensor;
  accumulateDw?: boolean;
}

export async function rmsnormBackward(step: Step, a: RmsnormBackwardArgs): Promise<void> {
  checkF32('rmsnorm backward', a.dy, a.x, a.w, a.rstd, a.dx, ...(a.dw ? [a.dw] : []));
  const gpu = step.gpu;
  const g = a.dw ? gpu.empty([a.rows, a.d], 'f32', 'rmsnorm dw rows') : null;
  const grid = rowGrid(a.rows, gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  const acc = a.accumulateDx ?? false;
  await step.dispatch({
    kernel: { label: `rmsnorm_bwd${acc ? '_acc' : ''}${g ? '_dw' : ''}`, code: rmsnormBackwardWgsl(acc, g !== null) },
    params: new Uint32Array([a.rows, a.d, grid[0], 0]),
    buffers: [a.dy, a.x, a.w, a.rstd, a.dx, ...(g ? [g] : [])].map((t) => ({ buffer: t.buffer })),
    workgroups: grid,
  });
  if (g && a.dw) {
    await reduceColumns(step, g, a.rows, a.d, a.dw, { accumulate: a.accumulateDw });
    step.onDone(() => gpu.release(g));
  }
}
