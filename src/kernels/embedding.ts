// Embedding gather (forward) and its scatter-add (backward) without float atomics.
//   forward:  out [T, D] = E [V, D] rows at ids [T] (u32)
//   backward: dE[v,:] += Σ_{t: ids[t] = v} dout[t,:], in increasing t.
// Why a CPU-built index for the backward: the token ids come from the CPU (the data batch), so the
// host groups positions by id once (`groupTokens`) and each workgroup owns one distinct id, adding its
// rows in a fixed order. Two tokens never write the same row concurrently, so no atomics are needed
// and the result is bitwise reproducible.

import type { Step } from '../gpu/step.ts';
import { numel, type Tensor } from '../gpu/tensor.ts';
import { rowGrid } from './grid.ts';

const WG = 64;

export function gatherWgsl(): string {
  return /* wgsl */ `
struct Params { tokens: u32, d: u32, vocab: u32, gridX: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> E: array<f32>;
@group(0) @binding(2) var<storage, read> Ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> Out: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) l: u32) {
  let t = wg.x + wg.y * p.gridX;
  if (t >= p.tokens) { return; }
  let id = min(Ids[t], p.vocab - 1u);
  for (var j = l; j < p.d; j += ${WG}u) { Out[t * p.d + j] = E[id * p.d + j]; }
}
`;
}

export function scatterAddWgsl(): string {
  return /* wgsl */ `
struct Params { groups: u32, d: u32, gridX: u32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> DOut: array<f32>;
@group(0) @binding(2) var<storage, read> Unique: array<u32>;
@group(0) @binding(3) var<storage, read> Offsets: array<u32>;
@group(0) @binding(4) var<storage, read> Positions: array<u32>;
@group(0) @binding(5) var<storage, read_write> DE: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) l: u32) {
  let gi = wg.x + wg.y * p.gridX;
  if (gi >= p.groups) { return; }
  let row = Unique[gi];
  let start = Offsets[gi];
  let end = Offsets[gi + 1u];
  for (var j = l; j < p.d; j += ${WG}u) {
    var acc = DE[row * p.d + j];
    for (var k = start; k < end; k++) { acc += DOut[Positions[k] * p.d + j]; }
    DE[row * p.d + j] = acc;
  }
}
`;
}

/** Token positions grouped by id: unique ids ascending, CSR offsets, positions in increasing order. */
export interface TokenGroups {
  unique: Uint32Array;
  offsets: Uint32Array;
  positions: Uint32Array;
}

export function groupTokens(ids: ArrayLike<number>, vocab: number): TokenGroups {
  const counts = new Map<number, number>();
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t];
    if (!Number.isInteger(id) || id < 0 || id >= vocab)
      throw new RangeError(`token id ${id} at ${t} is outside [0, ${vocab})`);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const unique = Uint32Array.from([...counts.keys()].sort((a, b) => a - b));
  const offsets = new Uint32Array(unique.length + 1);
  const slot = new Map<number, number>();
  for (let i = 0; i < unique.length; i++) {
    offsets[i + 1] = offsets[i] + counts.get(unique[i])!;
    slot.set(unique[i], offsets[i]);
  }
  const positions = new Uint32Array(ids.length);
  for (let t = 0; t < ids.length; t++) {
    const s = slot.get(ids[t])!;
    positions[s] = t;
    slot.set(ids[t], s + 1);
  }
  return { unique, offsets, positions };
}

export async function embeddingForward(
  step: Step,
  a: { table: Tensor; ids: Tensor; out: Tensor; tokens: number; vocab: number; d: number },
): Promise<void> {
  if (a.ids.dtype !== 'u32') throw new TypeError('embedding: ids must be u32');
  if (numel(a.table.shape) < a.vocab * a.d) throw new RangeError(`embedding: ${a.table.label} smaller than V×D`);
  if (numel(a.out.shape) < a.tokens * a.d) throw new RangeError(`embedding: ${a.out.label} smaller than T×D`);
  const grid = rowGrid(a.tokens, step.gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  await step.dispatch({
    kernel: { label: 'embedding_gather', code: gatherWgsl() },
    params: new Uint32Array([a.tokens, a.d, a.vocab, grid[0]]),
    buffers: [{ buffer: a.table.buffer }, { buffer: a.ids.buffer }, { buffer: a.out.buffer }],
    workgroups: grid,
  });
}

/** Uploads a TokenGroups index within the step; release the three tensors after it. */
export function uploadTokenGroups(step: Step, g: TokenGroups): { unique: Tensor; offsets: Tensor; positions: Tensor } {
  return {
    unique: step.upload(g.unique, [g.unique.length], 'u32', 'embedding unique ids'),
    offsets: step.upload(g.offsets, [g.offsets.length], 'u32', 'embedding offsets'),
    positions: step.upload(g.positions, [g.positions.length], 'u32', 'embedding positions'),
  };
}

/** dE += scatter of dout by the grouped ids (dE [V, D] accumulates across micro-batches). */
export async function embeddingBackward(
  step: Step,
  a: { dout: Tensor; groups: TokenGroups; dTable: Tensor; d: number },
): Promise<void> {
  const gpu = step.gpu;
  const n = a.groups.unique.length;
  if (n === 0) return;
  const t = uploadTokenGroups(step, a.groups);
  const grid = rowGrid(n, gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  await step.dispatch({
    kernel: { label: 'embedding_scatter_add', code: scatterAddWgsl() },
    params: new Uint32Array([n, a.d, grid[0], 0]),
    buffers: [a.dout, t.unique, t.offsets, t.positions, a.dTable].map((x) => ({ buffer: x.buffer })),
    workgroups: grid,
  });
  step.onDone(() => gpu.release(t.unique, t.offsets, t.positions));
}
