// SwiGLU, the Llama/Qwen/Mistral MLP's gate: h = silu(g) ⊙ u, forward and backward.
//   g, u, h, dh, dg, du: [n] f32 (g = x·W_gateᵀ, u = x·W_upᵀ, h feeds down_proj).
//   backward: du = dh ⊙ silu(g),  dg = dh ⊙ u ⊙ σ(g)(1 + g(1 − σ(g))).
// Why separate from the matmuls: the backward needs g and u again, which are kept from the forward
// (or recomputed under gradient checkpointing); dg and du may overwrite g and u in place.
// σ is computed as 1/(1+exp(−g)) clamped so exp never overflows to inf·0.

import type { Step } from '../gpu/step.ts';
import { numel, type Tensor } from '../gpu/tensor.ts';
import { grid1d } from './grid.ts';

const SIGMOID = 'fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-clamp(x, -80.0, 80.0))); }';

export function swigluForwardWgsl(): string {
  return /* wgsl */ `
struct Params { n: u32, width: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> U: array<f32>;
@group(0) @binding(3) var<storage, read_write> H: array<f32>;
${SIGMOID}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.width;
  if (i >= p.n) { return; }
  let g = G[i];
  H[i] = g * sigmoid(g) * U[i];
}
`;
}

// dg and du are written over G and U (bound read_write), which the backward no longer needs after.
export function swigluBackwardWgsl(): string {
  return /* wgsl */ `
struct Params { n: u32, width: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> DH: array<f32>;
@group(0) @binding(2) var<storage, read_write> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> U: array<f32>;
${SIGMOID}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.width;
  if (i >= p.n) { return; }
  let g = G[i];
  let u = U[i];
  let s = sigmoid(g);
  let dh = DH[i];
  U[i] = dh * g * s;
  G[i] = dh * u * s * (1.0 + g * (1.0 - s));
}
`;
}

function check(op: string, ...ts: Tensor[]): number {
  const n = numel(ts[0].shape);
  for (const t of ts) {
    if (t.dtype !== 'f32') throw new TypeError(`${op}: ${t.label} is ${t.dtype}, expected f32`);
    if (numel(t.shape) !== n) throw new RangeError(`${op}: ${t.label} has ${numel(t.shape)} elements, not ${n}`);
  }
  return n;
}

export async function swigluForward(step: Step, g: Tensor, u: Tensor, h: Tensor): Promise<void> {
  const n = check('swiglu', g, u, h);
  const { workgroups, width } = grid1d(n, step.gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  await step.dispatch({
    kernel: { label: 'swiglu_fwd', code: swigluForwardWgsl() },
    params: new Uint32Array([n, width]),
    buffers: [{ buffer: g.buffer }, { buffer: u.buffer }, { buffer: h.buffer }],
    workgroups,
  });
}

/** Overwrites g with dg and u with du. */
export async function swigluBackwardInPlace(step: Step, dh: Tensor, g: Tensor, u: Tensor): Promise<void> {
  const n = check('swiglu backward', dh, g, u);
  const { workgroups, width } = grid1d(n, step.gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  await step.dispatch({
    kernel: { label: 'swiglu_bwd', code: swigluBackwardWgsl() },
    params: new Uint32Array([n, width]),
    buffers: [{ buffer: dh.buffer }, { buffer: g.buffer }, { buffer: u.buffer }],
    workgroups,
  });
}
