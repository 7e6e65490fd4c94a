// The optimizer step on the GPU: global gradient-norm clipping and AdamW (PyTorch semantics).
//   gradNorm:  grads g_1..g_n (f32, any sizes) → stats [2] = (‖g‖₂ over all, clip coefficient)
//   adamw:     p, g, m, v [n] f32, stats → p, m, v updated in place; g is multiplied by the coefficient
// Why this shape: the norm and the coefficient never leave the GPU (no readback inside a step); each
// tensor's sum of squares is reduced in a fixed order and the per-tensor sums are added in tensor order
// by one invocation, so the norm is bitwise reproducible. Bias corrections are computed on the CPU in
// float64 and passed as uniforms.

import type { Step } from '../gpu/step.ts';
import { numel, type Tensor } from '../gpu/tensor.ts';
import type { AdamWConfig } from '../reference/optim.ts';
import { grid1d } from './grid.ts';
import { reduceRows } from './reduce.ts';

export function clipWgsl(): string {
  return /* wgsl */ `
struct Params { count: u32, maxNorm: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Sums: array<f32>;
@group(0) @binding(2) var<storage, read_write> Stats: array<f32>;
@compute @workgroup_size(1)
fn main() {
  var total = 0.0;
  for (var i = 0u; i < p.count; i++) { total += Sums[i]; }
  let norm = sqrt(total);
  var coef = 1.0;
  if (p.maxNorm > 0.0) { coef = min(1.0, p.maxNorm / (norm + 1e-6)); }
  Stats[0] = norm;
  Stats[1] = coef;
}
`;
}

export function adamwWgsl(): string {
  return /* wgsl */ `
struct Params { n: u32, width: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, decay: f32, stepSize: f32, bc2Sqrt: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> P: array<f32>;
@group(0) @binding(2) var<storage, read_write> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> M: array<f32>;
@group(0) @binding(4) var<storage, read_write> V: array<f32>;
@group(0) @binding(5) var<storage, read> Stats: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.width;
  if (i >= p.n) { return; }
  let g = G[i] * Stats[1];
  G[i] = g;
  let w = P[i] * (1.0 - p.lr * p.decay);
  let m = p.beta1 * M[i] + (1.0 - p.beta1) * g;
  let v = p.beta2 * V[i] + (1.0 - p.beta2) * g * g;
  M[i] = m;
  V[i] = v;
  P[i] = w - p.stepSize * (m / (sqrt(v) / p.bc2Sqrt + p.eps));
}
`;
}

/** Records stats = (global gradient norm, clip coefficient); maxNorm ≤ 0 means no clipping (coef 1). */
export async function gradNorm(step: Step, grads: readonly Tensor[], stats: Tensor, maxNorm: number): Promise<void> {
  const gpu = step.gpu;
  if (stats.dtype !== 'f32' || numel(stats.shape) < 2) throw new RangeError('gradNorm: stats must hold 2 f32');
  const sums = gpu.empty([Math.max(1, grads.length)], 'f32', 'grad sums of squares');
  const one = gpu.empty([1], 'f32', 'grad sum of squares');
  step.clear(sums.buffer);
  for (let i = 0; i < grads.length; i++) {
    await reduceRows(step, grads[i], 1, one, { squares: true });
    step.copy(one.buffer, sums.buffer, 4, 0, 4 * i);
  }
  const params = new ArrayBuffer(8);
  new Uint32Array(params, 0, 1)[0] = grads.length;
  new Float32Array(params, 4, 1)[0] = maxNorm;
  await step.dispatch({
    kernel: { label: 'grad_clip', code: clipWgsl() },
    params,
    buffers: [{ buffer: sums.buffer }, { buffer: stats.buffer }],
    workgroups: [1],
  });
  step.onDone(() => gpu.release(sums, one));
}

export interface AdamWTensors {
  param: Tensor;
  grad: Tensor;
  m: Tensor;
  v: Tensor;
}

/** One AdamW update at step t (1-based) of each tensor, gradients scaled by stats[1] first. */
export async function adamw(
  step: Step,
  tensors: readonly AdamWTensors[],
  stats: Tensor,
  cfg: AdamWConfig,
  t: number,
): Promise<void> {
  if (!(t >= 1)) throw new RangeError(`adamw: step ${t} must be ≥ 1`);
  const stepSize = cfg.lr / (1 - cfg.beta1 ** t);
  const bc2Sqrt = Math.sqrt(1 - cfg.beta2 ** t);
  for (const x of tensors) {
    const n = numel(x.param.shape);
    for (const o of [x.grad, x.m, x.v]) {
      if (numel(o.shape) !== n || o.dtype !== 'f32')
        throw new RangeError(`adamw: ${o.label} does not match ${x.param.label}`);
    }
    const { workgroups, width } = grid1d(n, step.gpu.caps.limits.maxComputeWorkgroupsPerDimension);
    const params = new ArrayBuffer(36);
    new Uint32Array(params, 0, 2).set([n, width]);
    new Float32Array(params, 8, 7).set([cfg.lr, cfg.beta1, cfg.beta2, cfg.eps, cfg.weightDecay, stepSize, bc2Sqrt]);
    await step.dispatch({
      kernel: { label: 'adamw', code: adamwWgsl() },
      params,
      buffers: [x.param, x.grad, x.m, x.v, stats].map((b) => ({ buffer: b.buffer })),
      workgroups,
    });
  }
}
