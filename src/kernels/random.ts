// Dropout from the counter-based Philox4x32-10 RNG (no state on the GPU: mask bits are a pure function
// of key, stream and element index, so the backward regenerates the forward's mask and a resumed or
// shared run draws the same masks).
//   y [n] = x [n] ⊙ keep / (1 − p),  keep_i = uniform(philox((i/4, s0, s1, 0), key)[i % 4]) ≥ p
// The backward is the same op on the gradient with the same key and stream. Matches
// src/reference/random.ts bit for bit.

import type { Step } from '../gpu/step.ts';
import { numel, type Tensor } from '../gpu/tensor.ts';
import type { Stream } from '../reference/random.ts';

const WG = 64;

/** WGSL Philox4x32-10; 64-bit products from 16-bit halves (WGSL has no mulhi). */
export const PHILOX_WGSL = /* wgsl */ `
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
  let aLo = a & 0xffffu; let aHi = a >> 16u; let bLo = b & 0xffffu; let bHi = b >> 16u;
  let ll = aLo * bLo; let lh = aLo * bHi; let hl = aHi * bLo; let hh = aHi * bHi;
  let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
  return vec2<u32>(hi, a * b);
}
fn philox4x32_10(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = ctr;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    if (r > 0u) { k = k + vec2<u32>(0x9e3779b9u, 0xbb67ae85u); }
    let p0 = mulhilo(0xd2511f53u, c.x);
    let p1 = mulhilo(0xcd9e8d57u, c.z);
    c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
  }
  return c;
}
fn uniform01(w: u32) -> f32 { return f32(w >> 8u) / 16777216.0; }
`;

export function dropoutWgsl(): string {
  return /* wgsl */ `
struct Params { n: u32, s0: u32, key0: u32, key1: u32, p: f32, scale: f32, width: u32, s1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
${PHILOX_WGSL}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let q = g.x + g.y * p.width; // one invocation per 4 elements: one Philox call
  let i0 = q * 4u;
  if (i0 >= p.n) { return; }
  let r = philox4x32_10(vec4<u32>(q, p.s0, p.s1, 0u), vec2<u32>(p.key0, p.key1));
  for (var j = 0u; j < 4u; j++) {
    let i = i0 + j;
    if (i < p.n) {
      let keep = uniform01(r[j]) >= p.p;
      Y[i] = select(0.0, X[i] * p.scale, keep);
    }
  }
}
`;
}

export interface DropoutArgs {
  x: Tensor;
  y: Tensor;
  p: number;
  /** The run's seed as two u32. */
  key: readonly [number, number];
  /** Distinct per use (e.g. [layer·module, micro-step]), so masks never repeat. */
  stream: Stream;
}

/** y = dropout(x); the backward is the same call on the gradient. y must not alias x. */
export async function dropout(step: Step, a: DropoutArgs): Promise<void> {
  const n = numel(a.x.shape);
  if (numel(a.y.shape) !== n) throw new RangeError('dropout: x and y differ in size');
  if (!(a.p >= 0 && a.p < 1)) throw new RangeError(`dropout: p = ${a.p} is outside [0, 1)`);
  if (a.x.buffer === a.y.buffer) throw new RangeError('dropout: y must not alias x');
  const quads = Math.ceil(n / 4);
  const groups = Math.max(1, Math.ceil(quads / WG));
  const gx = Math.min(groups, step.gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  const params = new ArrayBuffer(32);
  const u = new Uint32Array(params);
  const f = new Float32Array(params);
  u.set([n, a.stream[0] >>> 0, a.key[0] >>> 0, a.key[1] >>> 0]);
  f[4] = a.p;
  f[5] = 1 / (1 - a.p);
  u[6] = gx * WG;
  u[7] = a.stream[1] >>> 0;
  await step.dispatch({
    kernel: { label: 'dropout', code: dropoutWgsl() },
    params,
    buffers: [{ buffer: a.x.buffer }, { buffer: a.y.buffer }],
    workgroups: [gx, Math.ceil(groups / gx)],
  });
}
