// Rotary position embeddings, Hugging Face rotate_half layout, in place, forward and backward.
//   x [T, H, D] (q or k after projection), positions [T] u32 (per-token: packed examples restart at 0),
//   table [P, D/2, 2] f32 = (cos, sin) of p·inv_freq[i] for p < P.
//   forward:  (x[i], x[i+D/2]) ← (x[i]·cos − x[i+D/2]·sin, x[i+D/2]·cos + x[i]·sin)
//   backward: the same with −sin (a rotation's inverse is its transpose).
// Why a table: WGSL's cos/sin are only accurate near [−π, π], and angles reach thousands of radians;
// the table is computed on the CPU in float64 from the float32 angle, as HF computes it.

import type { Gpu } from '../gpu/gpu.ts';
import type { Step } from '../gpu/step.ts';
import { numel, type Tensor } from '../gpu/tensor.ts';

const WG = 64;

/** (cos, sin) of every position < maxPositions and frequency, interleaved: [P, D/2, 2]. */
export function ropeTable(invFreq: ArrayLike<number>, maxPositions: number): Float32Array {
  const half = invFreq.length;
  const out = new Float32Array(maxPositions * half * 2);
  for (let p = 0; p < maxPositions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * Math.fround(invFreq[i]));
      out[(p * half + i) * 2] = Math.cos(angle);
      out[(p * half + i) * 2 + 1] = Math.sin(angle);
    }
  }
  return out;
}

export function uploadRopeTable(gpu: Gpu, invFreq: ArrayLike<number>, maxPositions: number): Tensor {
  return gpu.upload(ropeTable(invFreq, maxPositions), [maxPositions, invFreq.length, 2], 'f32', 'rope table');
}

export function ropeWgsl(inverse: boolean): string {
  return /* wgsl */ `
struct Params { tokens: u32, heads: u32, half: u32, maxPos: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read> Pos: array<u32>;
@group(0) @binding(3) var<storage, read> Table: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
  let idx = g.x + g.y * n.x * ${WG}u;
  let perToken = p.heads * p.half;
  if (idx >= p.tokens * perToken) { return; }
  let t = idx / perToken;
  let rem = idx % perToken;
  let h = rem / p.half;
  let i = rem % p.half;
  let pos = min(Pos[t], p.maxPos - 1u);
  let c = Table[(pos * p.half + i) * 2u];
  let s = ${inverse ? '-' : ''}Table[(pos * p.half + i) * 2u + 1u];
  let base = (t * p.heads + h) * 2u * p.half;
  let a = X[base + i];
  let b = X[base + i + p.half];
  X[base + i] = a * c - b * s;
  X[base + i + p.half] = b * c + a * s;
}
`;
}

export interface RopeArgs {
  x: Tensor;
  positions: Tensor;
  table: Tensor;
  tokens: number;
  heads: number;
  headDim: number;
}

/** Rotates x in place (forward), or applies the inverse rotation to a gradient (backward). */
export async function rope(step: Step, a: RopeArgs, direction: 'forward' | 'backward'): Promise<void> {
  if (a.headDim % 2 !== 0) throw new RangeError(`rope: head_dim ${a.headDim} is odd`);
  if (a.x.dtype !== 'f32' || a.table.dtype !== 'f32') throw new TypeError('rope: x and table must be f32');
  if (a.positions.dtype !== 'u32') throw new TypeError('rope: positions must be u32');
  if (numel(a.x.shape) < a.tokens * a.heads * a.headDim) throw new RangeError(`rope: ${a.x.label} too small`);
  const half = a.headDim / 2;
  const maxPos = numel(a.table.shape) / (half * 2);
  if (!Number.isInteger(maxPos)) throw new RangeError('rope: table does not match head_dim');
  const n = a.tokens * a.heads * half;
  const groups = Math.max(1, Math.ceil(n / WG));
  const x = Math.min(groups, step.gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  await step.dispatch({
    kernel: { label: `rope_${direction}`, code: ropeWgsl(direction === 'backward') },
    params: new Uint32Array([a.tokens, a.heads, half, maxPos]),
    buffers: [{ buffer: a.x.buffer }, { buffer: a.positions.buffer }, { buffer: a.table.buffer }],
    workgroups: [x, Math.ceil(groups / x)],
  });
}
