// gelu_new (GPT-2's MLP activation, the tanh approximation), forward and backward in place.
//   x, y, dy: [n] f32.  y = ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³)
//   backward: dx = dy·(½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²)), written over dy.
// Why its own kernel: the backward needs the pre-activation kept from the forward; u is clamped to
// ±15 before tanh (where tanh is ±1 in f32) so no exp overflows on any WGSL implementation.

import type { Step } from '../gpu/step.ts';
import { numel, type Tensor } from '../gpu/tensor.ts';
import { grid1d } from './grid.ts';

const PRELUDE = `
struct Params { n: u32, width: u32 }
@group(0) @binding(0) var<uniform> p: Params;
const C: f32 = 0.7978845608028654;
const K: f32 = 0.044715;
fn th(x: f32) -> f32 { return tanh(clamp(C * (x + K * x * x * x), -15.0, 15.0)); }`;

export function geluForwardWgsl(): string {
  return /* wgsl */ `${PRELUDE}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.width;
  if (i >= p.n) { return; }
  let x = X[i];
  Y[i] = 0.5 * x * (1.0 + th(x));
}
`;
}

export function geluBackwardWgsl(): string {
  return /* wgsl */ `${PRELUDE}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> DY: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.width;
  if (i >= p.n) { return; }
  let x = X[i];
  let t = th(x);
  DY[i] = DY[i] * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * C * (1.0 + 3.0 * K * x * x));
}
`;
}

function check(op: string, a: Tensor, b: Tensor): number {
  const n = numel(a.shape);
  for (const t of [a, b]) {
    if (t.dtype !== 'f32') throw new TypeError(`${op}: ${t.label} is ${t.dtype}, expected f32`);
    if (numel(t.shape) !== n) throw new RangeError(`${op}: ${t.label} has ${numel(t.shape)} elements, not ${n}`);
  }
  return n;
}

export async function geluForward(step: Step, x: Tensor, y: Tensor): Promise<void> {
  const n = check('gelu', x, y);
  const { workgroups, width } = grid1d(n, step.gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  await step.dispatch({
    kernel: { label: 'gelu_new_fwd', code: geluForwardWgsl() },
    params: new Uint32Array([n, width]),
    buffers: [{ buffer: x.buffer }, { buffer: y.buffer }],
    workgroups,
  });
}

/** Overwrites dy with dx, given the forward's input x. */
export async function geluBackwardInPlace(step: Step, x: Tensor, dy: Tensor): Promise<void> {
  const n = check('gelu backward', x, dy);
  const { workgroups, width } = grid1d(n, step.gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  await step.dispatch({
    kernel: { label: 'gelu_new_bwd', code: geluBackwardWgsl() },
    params: new Uint32Array([n, width]),
    buffers: [{ buffer: x.buffer }, { buffer: dy.buffer }],
    workgroups,
  });
}
