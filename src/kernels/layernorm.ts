// LayerNorm forward and backward (PyTorch nn.LayerNorm with weight and bias: GPT-2's ln_1, ln_2, ln_f).
//   forward:  x [rows,d], w [d], b [d] → y [rows,d], mean [rows], rstd [rows]
//             y = w ⊙ (x − mean)·rstd + b,  rstd = (Σ(x − mean)²/d + eps)^-½ (two passes over the row)
//   backward: dy, x, w, mean, rstd → dx (written or added), and when trained dw = Σ_rows dy ⊙ x̂ and
//             db = Σ_rows dy by the fixed-order column reduction
//             dx = rstd·(g − mean(g) − x̂·mean(g ⊙ x̂)), g = dy ⊙ w
// Why: one workgroup per row with fixed-tree reductions in workgroup memory (no atomics, reproducible);
// the mean is subtracted before squaring so rows with a large offset keep their precision.

import type { Step } from '../gpu/step.ts';
import { numel, type Tensor } from '../gpu/tensor.ts';
import { rowGrid } from './grid.ts';
import { reduceColumns } from './reduce.ts';
import { treeSumWgsl } from './workgroup-tree.ts';

const WG = 64;

export function layernormForwardWgsl(): string {
  return /* wgsl */ `
struct Params { rows: u32, d: u32, gridX: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read_write> Mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> Rstd: array<f32>;
var<workgroup> part: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = wg.x + wg.y * p.gridX;
  if (row >= p.rows) { return; }
  let base = row * p.d;
  var acc = 0.0;
  for (var i = t; i < p.d; i += ${WG}u) { acc += X[base + i]; }
  part[t] = acc;
  ${treeSumWgsl(WG, 'part')}
  let mean = part[0] / f32(p.d);
  workgroupBarrier();
  acc = 0.0;
  for (var i = t; i < p.d; i += ${WG}u) { let c = X[base + i] - mean; acc += c * c; }
  part[t] = acc;
  ${treeSumWgsl(WG, 'part')}
  let rstd = inverseSqrt(part[0] / f32(p.d) + p.eps);
  for (var i = t; i < p.d; i += ${WG}u) { Y[base + i] = W[i] * ((X[base + i] - mean) * rstd) + B[i]; }
  if (t == 0u) { Mean[row] = mean; Rstd[row] = rstd; }
}
`;
}

export function layernormBackwardWgsl(accumulateDx: boolean, withG: boolean): string {
  return /* wgsl */ `
struct Params { rows: u32, d: u32, gridX: u32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> DY: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read> W: array<f32>;
@group(0) @binding(4) var<storage, read> Mean: array<f32>;
@group(0) @binding(5) var<storage, read> Rstd: array<f32>;
@group(0) @binding(6) var<storage, read_write> DX: array<f32>;
${withG ? '@group(0) @binding(7) var<storage, read_write> G: array<f32>;' : ''}
var<workgroup> sg: array<f32, ${WG}>;
var<workgroup> sgx: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = wg.x + wg.y * p.gridX;
  if (row >= p.rows) { return; }
  let base = row * p.d;
  let mean = Mean[row];
  let rstd = Rstd[row];
  var a = 0.0;
  var c = 0.0;
  for (var i = t; i < p.d; i += ${WG}u) {
    let g = DY[base + i] * W[i];
    a += g;
    c += g * (X[base + i] - mean) * rstd;
  }
  sg[t] = a;
  sgx[t] = c;
  ${treeSumWgsl(WG, 'sg', 'sgx')}
  let mg = sg[0] / f32(p.d);
  let mgx = sgx[0] / f32(p.d);
  for (var i = t; i < p.d; i += ${WG}u) {
    let xh = (X[base + i] - mean) * rstd;
    let dx = rstd * (DY[base + i] * W[i] - mg - xh * mgx);
    ${accumulateDx ? 'DX[base + i] += dx;' : 'DX[base + i] = dx;'}
    ${withG ? 'G[base + i] = DY[base + i] * xh;' : ''}
  }
}
`;
}

function checkF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'f32') throw new TypeError(`${op}: ${t.label} is ${t.dtype}, expected f32`);
}

export interface LayernormForwardArgs {
  x: Tensor;
  w: Tensor;
  b: Tensor;
  y: Tensor;
  mean: Tensor;
  rstd: Tensor;
  rows: number;
  d: number;
  eps: number;
}

export async function layernormForward(step: Step, a: LayernormForwardArgs): Promise<void> {
  checkF32('layernorm', a.x, a.w, a.b, a.y, a.mean, a.rstd);
  if (numel(a.x.shape) < a.rows * a.d || numel(a.y.shape) < a.rows * a.d) {
    throw new RangeError('layernorm: x or y too small');
  }
  if (numel(a.w.shape) !== a.d || numel(a.b.shape) !== a.d) throw new RangeError('layernorm: w and b must be [d]');
  const grid = rowGrid(a.rows, step.gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  const params = new ArrayBuffer(16);
  new Uint32Array(params, 0, 3).set([a.rows, a.d, grid[0]]);
  new Float32Array(params, 12, 1)[0] = a.eps;
  await step.dispatch({
    kernel: { label: 'layernorm_fwd', code: layernormForwardWgsl() },
    params,
    buffers: [a.x, a.w, a.b, a.y, a.mean, a.rstd].map((t) => ({ buffer: t.buffer })),
    workgroups: grid,
  });
}

export interface LayernormBackwardArgs {
  dy: Tensor;
  x: Tensor;
  w: Tensor;
  mean: Tensor;
  rstd: Tensor;
  dx: Tensor;
  rows: number;
  d: number;
  accumulateDx?: boolean;
  /** Gradients of the weight and bias, when the norm trains (full fine-tuning). */
  dw?: Tensor;
  db?: Tensor;
  accumulateDw?: boolean;
}

export async function layernormBackward(step: Step, a: LayernormBackwardArgs): Promise<void> {
  checkF32('layernorm backward', a.dy, a.x, a.w, a.mean, a.rstd, a.dx);
  const gpu = step.gpu;
  const g = a.dw ? gpu.empty([a.rows, a.d], 'f32', 'layernorm dw rows') : null;
  const grid = rowGrid(a.rows, gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  const acc = a.accumulateDx ?? false;
  await step.dispatch({
    kernel: {
      label: `layernorm_bwd${acc ? '_acc' : ''}${g ? '_dw' : ''}`,
      code: layernormBackwardWgsl(acc, g !== null),
    },
    params: new Uint32Array([a.rows, a.d, grid[0], 0]),
    buffers: [a.dy, a.x, a.w, a.mean, a.rstd, a.dx, ...(g ? [g] : [])].map((t) => ({ buffer: t.buffer })),
    workgroups: grid,
  });
  if (g && a.dw) {
    await reduceColumns(step, g, a.rows, a.d, a.dw, { accumulate: a.accumulateDw });
    step.onDone(() => gpu.release(g));
  }
  if (a.db) await reduceColumns(step, a.dy, a.rows, a.d, a.db, { accumulate: a.accumulateDw });
}
