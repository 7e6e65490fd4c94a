// The LM head fused with cross-entropy, in vocabulary chunks: full-vocabulary logits never exist.
//   h [N, D] f32, W [V, D] (lm_head, or the tied embedding), labels [N] i32 (−100 = ignored)
//   loss[0] += invCount · Σ_valid (lse_t − z_t[label_t]);  optional rowLoss [N]; optional dh [N, D] and
//   dW [V, D] (accumulated), from dlogits = invCount · (softmax − onehot).
// Why two sweeps over the vocabulary: the softmax needs each row's logsumexp over ALL chunks before any
// gradient can be formed. Sweep 1 keeps a running (max, Σexp) per row, merged chunk by chunk exactly as
// an online softmax does; sweep 2 recomputes each chunk's logits and turns them into dlogits in place,
// then feeds the two gradient matmuls. Only one [N, chunk] block of logits is alive at a time. Each W
// chunk is copied out (copyBufferToBuffer) so the matmul kernels need no offset bindings, which would
// otherwise have to be 256-byte aligned. Row statistics use a fixed tree: bitwise reproducible.

import type { Step } from '../gpu/step.ts';
import { numel, type Tensor } from '../gpu/tensor.ts';
import { matmul } from './matmul.ts';
import { reduceRows } from './reduce.ts';
import { rowGrid } from './grid.ts';
import { treeReduceWgsl, treeSumWgsl } from './workgroup-tree.ts';

const WG = 64;

/** Merges one chunk of logits into the per-row running (max, Σexp, target logit) in Stats [N, 4]. */
export function ceStatsWgsl(): string {
  return /* wgsl */ `
struct Params { rows: u32, cols: u32, v0: u32, first: u32, gridX: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Z: array<f32>;
@group(0) @binding(2) var<storage, read> Labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> Stats: array<f32>;
var<workgroup> red: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = wg.x + wg.y * p.gridX;
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  var m = -3.0e38;
  for (var j = t; j < p.cols; j += ${WG}u) { m = max(m, Z[base + j]); }
  red[t] = m;
  ${treeReduceWgsl(WG, 'red[t] = max(red[t], red[t + s]);')}
  let mc = red[0];
  workgroupBarrier();
  var acc = 0.0;
  for (var j = t; j < p.cols; j += ${WG}u) { acc += exp(Z[base + j] - mc); }
  red[t] = acc;
  ${treeSumWgsl(WG, 'red')}
  if (t == 0u) {
    let sc = red[0];
    let o = row * 4u;
    if (p.first == 1u) {
      Stats[o] = mc;
      Stats[o + 1u] = sc;
      Stats[o + 2u] = 0.0;
    } else {
      let mOld = Stats[o];
      let mNew = max(mOld, mc);
      Stats[o + 1u] = Stats[o + 1u] * exp(mOld - mNew) + sc * exp(mc - mNew);
      Stats[o] = mNew;
    }
    let y = Labels[row];
    if (y >= i32(p.v0) && y < i32(p.v0 + p.cols)) { Stats[o + 2u] = Z[base + u32(y) - p.v0]; }
  }
}
`;
}

/** Per-row logsumexp and loss (0 on ignored rows) from the merged statistics. */
export function ceFinishWgsl(): string {
  return /* wgsl */ `
struct Params { rows: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Stats: array<f32>;
@group(0) @binding(2) var<storage, read> Labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> Lse: array<f32>;
@group(0) @binding(4) var<storage, read_write> RowLoss: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let r = g.x;
  if (r >= p.rows) { return; }
  let lse = Stats[r * 4u] + log(Stats[r * 4u + 1u]);
  Lse[r] = lse;
  RowLoss[r] = select(0.0, lse - Stats[r * 4u + 2u], Labels[r] >= 0);
}
`;
}

/** loss[0] = (accumulate ? loss[0] : 0) + scale · sum[0]. */
export function ceAccumulateWgsl(): string {
  return /* wgsl */ `
struct Params { scale: f32, accumulate: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Sum: array<f32>;
@group(0) @binding(2) var<storage, read_write> Loss: array<f32>;
@compute @workgroup_size(1)
fn main() {
  var base = 0.0;
  if (p.accumulate == 1u) { base = Loss[0]; }
  Loss[0] = base + p.scale * Sum[0];
}
`;
}

/** Turns a chunk of logits into dlogits = scale · (softmax − onehot), in place; 0 on ignored rows. */
export function ceGradWgsl(): string {
  return /* wgsl */ `
struct Params { rows: u32, cols: u32, v0: u32, scale: f32, gridX: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> Z: array<f32>;
@group(0) @binding(2) var<storage, read> Labels: array<i32>;
@group(0) @binding(3) var<storage, read> Lse: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = wg.x + wg.y * p.gridX;
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let y = Labels[row];
  let lse = Lse[row];
  for (var j = t; j < p.cols; j += ${WG}u) {
    var g = 0.0;
    if (y >= 0) {
      let hit = select(0.0, 1.0, u32(y) == p.v0 + j);
      g = p.scale * (exp(Z[base + j] - lse) - hit);
    }
    Z[base + j] = g;
  }
}
`;
}

export interface LmHeadLossArgs {
  h: Tensor;
  w: Tensor;
  labels: Tensor;
  n: number;
  d: number;
  vocab: number;
  /** 1 / non-ignored tokens over all micro-batches of the accumulated step. */
  invCount: number;
  /** [1]: receives (or, with accumulateLoss, adds) this micro-batch's share of the loss. */
  loss: Tensor;
  accumulateLoss?: boolean;
  /** [N]: each token's unscaled loss (0 where ignored), for the per-token view and evaluation. */
  rowLoss?: Tensor;
  /** [N, D]: gradient w.r.t. h (overwritten, or added with accumulateDh). */
  dh?: Tensor;
  accumulateDh?: boolean;
  /** [V, D]: the head weight's gradient, always accumulated (zero it at the start of a step). */
  dw?: Tensor;
  /** Vocabulary columns per chunk (default 8192). */
  chunk?: number;
}

export async function lmHeadCrossEntropy(step: Step, a: LmHeadLossArgs): Promise<void> {
  const gpu = step.gpu;
  const { n, d, vocab } = a;
  if (a.labels.dtype !== 'i32' || numel(a.labels.shape) < n) throw new TypeError('lm head: labels must be i32 [N]');
  if (numel(a.h.shape) < n * d || numel(a.w.shape) < vocab * d) throw new RangeError('lm head: h or W too small');
  if (a.w.dtype !== a.h.dtype) throw new TypeError(`lm head: W is ${a.w.dtype} but h is ${a.h.dtype}`);
  const chunk = Math.min(a.chunk ?? 8192, vocab);
  const esize = a.w.dtype === 'f16' ? 2 : 4;
  if ((chunk * d * esize) % 4 !== 0) throw new RangeError('lm head: chunk·D must fill whole 4-byte words');
  const logits = gpu.empty([n, chunk], 'f32', 'logits chunk');
  const wChunk = gpu.empty([chunk, d], a.w.dtype, 'lm head W chunk');
  const stats = gpu.empty([n, 4], 'f32', 'ce stats');
  const lse = gpu.empty([n], 'f32', 'ce logsumexp');
  const rowLoss = a.rowLoss ?? gpu.empty([n], 'f32', 'ce row loss');
  const total = gpu.empty([1], 'f32', 'ce loss sum');
  const dwChunk = a.dw ? gpu.empty([chunk, d], 'f32', 'lm head dW chunk') : null;
  const grid = rowGrid(n, gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  const chunks: [number, number][] = [];
  for (let v0 = 0; v0 < vocab; v0 += chunk) chunks.push([v0, Math.min(chunk, vocab - v0)]);

  const chunkLogits = async (v0: number, vc: number) => {
    step.copy(a.w.buffer, wChunk.buffer, vc * d * esize, v0 * d * esize, 0);
    await matmul(step, { a: a.h, b: wChunk, c: logits, m: n, n: vc, k: d }, 'nt');
  };

  for (const [v0, vc] of chunks) {
    await chunkLogits(v0, vc);
    await step.dispatch({
      kernel: { label: 'ce_stats', code: ceStatsWgsl() },
      params: new Uint32Array([n, vc, v0, v0 === 0 ? 1 : 0, grid[0], 0, 0, 0]),
      buffers: [logits, a.labels, stats].map((t) => ({ buffer: t.buffer })),
      workgroups: grid,
    });
  }
  await step.dispatch({
    kernel: { label: 'ce_finish', code: ceFinishWgsl() },
    params: new Uint32Array([n, 0, 0, 0]),
    buffers: [stats, a.labels, lse, rowLoss].map((t) => ({ buffer: t.buffer })),
    workgroups: [Math.ceil(n / 64)],
  });
  await reduceRows(step, rowLoss, 1, total);
  const accParams = new ArrayBuffer(8);
  new Float32Array(accParams, 0, 1)[0] = a.invCount;
  new Uint32Array(accParams, 4, 1)[0] = a.accumulateLoss ? 1 : 0;
  await step.dispatch({
    kernel: { label: 'ce_accumulate', code: ceAccumulateWgsl() },
    params: accParams,
    buffers: [{ buffer: total.buffer }, { buffer: a.loss.buffer }],
    workgroups: [1],
  });

  if (a.dh || a.dw) {
    for (const [v0, vc] of chunks) {
      await chunkLogits(v0, vc);
      const gp = new ArrayBuffer(32);
      new Uint32Array(gp, 0, 3).set([n, vc, v0]);
      new Float32Array(gp, 12, 1)[0] = a.invCount;
      new Uint32Array(gp, 16, 1)[0] = grid[0];
      await step.dispatch({
        kernel: { label: 'ce_grad', code: ceGradWgsl() },
        params: gp,
        buffers: [logits, a.labels, lse].map((t) => ({ buffer: t.buffer })),
        workgroups: grid,
      });
      if (a.dh) {
        const accumulate = v0 > 0 || (a.accumulateDh ?? false);
        await matmul(step, { a: logits, b: wChunk, c: a.dh, m: n, n: d, k: vc, accumulate }, 'nn');
      }
      if (a.dw && dwChunk) {
        const bytes = vc * d * 4;
        step.copy(a.dw.buffer, dwChunk.buffer, bytes, v0 * d * 4, 0);
        await matmul(step, { a: logits, b: a.h, c: dwChunk, m: vc, n: d, k: n, accumulate: true }, 'tn');
        step.copy(dwChunk.buffer, a.dw.buffer, bytes, 0, v0 * d * 4);
      }
    }
  }
  step.onDone(() => {
    gpu.release(logits, wChunk, stats, lse, total, ...(a.rowLoss ? [] : [rowLoss]), ...(dwChunk ? [dwChunk] : []));
  });
}
