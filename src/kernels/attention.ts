// Causal, segment-aware self-attention with grouped-query attention: forward and backward (FlashAttention-2).
//   q, o, dO, dq  [B, T, Hq, D]     (q_proj's output [B·T, Hq·D] as is: no transpose pass)
//   k, v, dk, dv  [B, T, Hkv, D]    (k_proj/v_proj outputs); query head h reads kv head floor(h / (Hq/Hkv))
//   segments      [B, T] u32        packed examples: key j is visible to query i iff j ≤ i, seg[j] = seg[i]
//                                   and, with a sliding window W (Mistral), i − j < W; a segment id ≥ 2^16
//                                   is a branch that also sees its prefix segment id >> 16 (never 0)
//   lse           [B, Hq, T] f32    per-row logsumexp of the scaled, masked scores (saved for the backward)
//   forward:  o = softmax(q·kᵀ·scale + mask)·v, scale = 1/sqrt(D), softmax in f32
//   backward: δ = rowsum(dO ⊙ o) [B, Hq, T]; P = exp(q·kᵀ·scale − lse); dS = P ⊙ (dO·vᵀ − δ);
//             dv = Pᵀ·dO, dk = scale·dSᵀ·q, dq = scale·dS·k
// Why this shape: no T×T matrix ever reaches global memory. The forward gives each workgroup a tile of
// queries of one head (Q staged in workgroup memory) and streams K/V tiles of its kv head through
// workgroup memory, keeping the running max, sum and output accumulators in registers (online softmax).
// Each row is served by TPR invocations that own interleaved output columns. The backward recomputes P
// tile by tile from q, k and lse. Without float atomics, dk/dv and dq are two passes: one workgroup per
// (kv head, key tile) loops over the group's query heads and the query tiles in a fixed order and owns
// its dk/dv rows; one workgroup per (query head, query tile) owns its dq rows. Every sum has a fixed
// order, so results are bitwise reproducible. Tile sizes are chosen per head dim to fit the device's
// workgroup memory; staged rows are padded to D+1 floats against bank conflicts. Masked pairs skip their
// dot products, key tiles before the window or after the last query are not visited, and no subgroup
// size is assumed.

import type { Gpu } from '../gpu/gpu.ts';
import type { Step } from '../gpu/step.ts';
import { numel, type Tensor } from '../gpu/tensor.ts';

/** Invocations per workgroup (at most; small tiles use fewer). */
const THREADS = 128;
/** Score of a masked pair; anything at or below LIVE is masked. */
const NEG = '-3.0e38';
const LIVE = '-1.0e38';
const NO_WINDOW = 0xffffffff;

/** A kernel's tiling: `rows` tile rows each served by `tpr` invocations, against tiles of `cols`. */
export interface AttentionTiles {
  rows: number;
  cols: number;
  tpr: number;
}

type KernelKind = 'fwd' | 'dq' | 'dkv';

// Preferred first: bigger tiles reuse each staged K/V (or Q/dO) tile more.
const CANDIDATES: readonly [number, number][] = [
  [32, 32],
  [32, 16],
  [16, 16],
  [16, 8],
  [8, 8],
];

/** Workgroup memory of a kernel variant, in bytes. */
export function attentionWorkgroupBytes(kind: KernelKind, d: number, rows: number, cols: number): number {
  const dp = d + 1;
  switch (kind) {
    case 'fwd': // Q [rows], K, V [cols], S [rows·cols], key segments
      return 4 * ((rows + 2 * cols) * dp + rows * cols + cols);
    case 'dq': // Q, dO [rows], K, V [cols], dS, key segments
      return 4 * ((2 * rows + 2 * cols) * dp + rows * cols + cols);
    case 'dkv': // K, V [rows], Q, dO [cols], P, dS, and lse, δ, segments of the query tile
      return 4 * ((2 * rows + 2 * cols) * dp + 2 * rows * cols + 3 * cols);
  }
}

/** The largest candidate tiling that fits `limitBytes` of workgroup memory. */
export function attentionTiles(kind: KernelKind, d: number, limitBytes: number): AttentionTiles {
  for (const [rows, cols] of CANDIDATES) {
    if (attentionWorkgroupBytes(kind, d, rows, cols) <= limitBytes) {
      return { rows, cols, tpr: Math.min(THREADS / rows, cols) };
    }
  }
  throw new RangeError(`attention ${kind}: head_dim ${d} needs more than ${limitBytes} bytes of workgroup memory`);
}

const PARAMS = 'struct Params { batch: u32, seq: u32, hq: u32, hkv: u32, group: u32, window: u32, scale: f32, d: u32 }';

/**
 * The shared prelude: parameters, sizes (D per row, DP per padded staged row, DPT columns owned by each
 * invocation) and the visibility rule.
 */
function header(d: number, t: AttentionTiles): string {
  return /* wgsl */ `${PARAMS}
@group(0) @binding(0) var<uniform> p: Params;
const NT = ${t.rows * t.tpr}u;
const TPR = ${t.tpr}u;
const D = ${d}u;
const DP = ${d + 1}u;
const DPT = ${Math.ceil(d / t.tpr)}u;
fn visible(i: u32, j: u32, si: u32, sj: u32) -> bool {
  return j <= i && (si == sj || (sj != 0u && sj == (si >> 16u))) && i - j < p.window;
}`;
}

/** Loads `n` rows (tokens t0.. of head `head` of `heads`) into a padded tile; rows past T are 0. */
function loadTile(dst: string, src: string, n: number, t0: string, head: string, heads: string): string {
  return `for (var e = li; e < ${n}u * D; e += NT) {
      let rr = e / D; let dd = e % D; let t = ${t0} + rr;
      var x = 0.0;
      if (t < p.seq) { x = ${src}[((b * p.seq + t) * ${heads} + ${head}) * D + dd]; }
      ${dst}[rr * DP + dd] = x;
    }`;
}

/**
 * sdot = Σ a[ra]·b[rb] over two staged rows. The loop runs to the uniform p.d (= D): with a constant
 * bound lavapipe unrolls it and compiles several times slower; a GPU loses little, the loop being a
 * dependent chain of fma.
 */
function dotRows(a: string, ra: string, bName: string, rb: string): string {
  return `var sdot = 0.0;
        for (var dd = 0u; dd < p.d; dd++) { sdot = fma(${a}[${ra} * DP + dd], ${bName}[${rb} * DP + dd], sdot); }`;
}

/** Loops over the columns this invocation owns (c, c + TPR, ...): interleaved, so reads are contiguous. */
const OWNED = 'for (var x = 0u; x < DPT; x++) { let col = c + x * TPR; if (col < D) {';

export function attentionForwardWgsl(d: number, t: AttentionTiles): string {
  const { rows: BQ, cols: BK } = t;
  return /* wgsl */ `
${header(d, t)}
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;
@group(0) @binding(3) var<storage, read> V: array<f32>;
@group(0) @binding(4) var<storage, read> Seg: array<u32>;
@group(0) @binding(5) var<storage, read_write> O: array<f32>;
@group(0) @binding(6) var<storage, read_write> L: array<f32>;
var<workgroup> Qs: array<f32, ${BQ}u * DP>;
var<workgroup> Ks: array<f32, ${BK}u * DP>;
var<workgroup> Vs: array<f32, ${BK}u * DP>;
var<workgroup> Ss: array<f32, ${BQ * BK}>;
var<workgroup> Kseg: array<u32, ${BK}>;

@compute @workgroup_size(${t.rows * t.tpr})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let b = wg.z;
  let h = wg.y;
  let hk = h / p.group;
  let q0 = wg.x * ${BQ}u;
  let r = li / TPR;
  let c = li % TPR;
  let i = q0 + r;
  let rowValid = i < p.seq;
  var si = 0u;
  if (rowValid) { si = Seg[b * p.seq + i]; }
  ${loadTile('Qs', 'Q', BQ, 'q0', 'h', 'p.hq')}
  var m = ${NEG};
  var l = 0.0;
  var acc: array<f32, DPT>;
  let qLast = min(q0 + ${BQ}u, p.seq) - 1u;
  var kStart = 0u;
  if (q0 + 1u > p.window) { kStart = ((q0 + 1u - p.window) / ${BK}u) * ${BK}u; }
  for (var k0 = kStart; k0 <= qLast; k0 += ${BK}u) {
    ${loadTile('Ks', 'K', BK, 'k0', 'hk', 'p.hkv')}
    ${loadTile('Vs', 'V', BK, 'k0', 'hk', 'p.hkv')}
    if (li < ${BK}u && k0 + li < p.seq) { Kseg[li] = Seg[b * p.seq + k0 + li]; }
    workgroupBarrier();
    for (var jj = c; jj < ${BK}u; jj += TPR) {
      var s = ${NEG};
      if (rowValid && visible(i, k0 + jj, si, Kseg[jj])) {
        ${dotRows('Qs', 'r', 'Ks', 'jj')}
        s = sdot * p.scale;
      }
      Ss[r * ${BK}u + jj] = s;
    }
    workgroupBarrier();
    // Online softmax: every invocation of row r computes the same m and l, in the same order.
    var tmax = ${NEG};
    for (var jj = 0u; jj < ${BK}u; jj++) { tmax = max(tmax, Ss[r * ${BK}u + jj]); }
    if (tmax > ${LIVE}) {
      let mNew = max(m, tmax);
      let alpha = exp(m - mNew);
      l *= alpha;
      for (var x = 0u; x < DPT; x++) { acc[x] *= alpha; }
      for (var jj = 0u; jj < ${BK}u; jj++) {
        let s = Ss[r * ${BK}u + jj];
        if (s > ${LIVE}) {
          let pr = exp(s - mNew);
          l += pr;
          ${OWNED} acc[x] = fma(pr, Vs[jj * DP + col], acc[x]); } }
        }
      }
      m = mNew;
    }
    workgroupBarrier();
  }
  if (rowValid) {
    let base = ((b * p.seq + i) * p.hq + h) * D;
    ${OWNED} O[base + col] = select(0.0, acc[x] / l, l > 0.0); } }
    if (c == 0u) { L[(b * p.hq + h) * p.seq + i] = select(0.0, m + log(l), l > 0.0); }
  }
}
`;
}

const DELTA_WG = 64;

/** δ[b, h, i] = Σ_d dO[b, i, h, d]·o[b, i, h, d], one invocation per row. */
export function attentionDeltaWgsl(): string {
  return /* wgsl */ `
${PARAMS}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> DO: array<f32>;
@group(0) @binding(2) var<storage, read> O: array<f32>;
@group(0) @binding(3) var<storage, read_write> Delta: array<f32>;
@compute @workgroup_size(${DELTA_WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
  let row = g.x + g.y * n.x * ${DELTA_WG}u;
  if (row >= p.batch * p.hq * p.seq) { return; }
  let i = row % p.seq;
  let h = (row / p.seq) % p.hq;
  let b = row / (p.seq * p.hq);
  let base = ((b * p.seq + i) * p.hq + h) * p.d;
  var acc = 0.0;
  for (var dd = 0u; dd < p.d; dd++) { acc = fma(DO[base + dd], O[base + dd], acc); }
  Delta[row] = acc;
}
`;
}

/** dk, dv: one workgroup per (key tile, kv head, batch); rows are keys, cols are queries. */
export function attentionBackwardKvWgsl(d: number, t: AttentionTiles): string {
  const { rows: BK, cols: BQ } = t;
  return /* wgsl */ `
${header(d, t)}
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;
@group(0) @binding(3) var<storage, read> V: array<f32>;
@group(0) @binding(4) var<storage, read> Seg: array<u32>;
@group(0) @binding(5) var<storage, read> DO: array<f32>;
@group(0) @binding(6) var<storage, read> L: array<f32>;
@group(0) @binding(7) var<storage, read> Delta: array<f32>;
@group(0) @binding(8) var<storage, read_write> DK: array<f32>;
@group(0) @binding(9) var<storage, read_write> DV: array<f32>;
var<workgroup> Ks: array<f32, ${BK}u * DP>;
var<workgroup> Vs: array<f32, ${BK}u * DP>;
var<workgroup> Qs: array<f32, ${BQ}u * DP>;
var<workgroup> DOs: array<f32, ${BQ}u * DP>;
var<workgroup> Ps: array<f32, ${BK * BQ}>;
var<workgroup> DSs: array<f32, ${BK * BQ}>;
var<workgroup> Lq: array<f32, ${BQ}>;
var<workgroup> Dq: array<f32, ${BQ}>;
var<workgroup> Qseg: array<u32, ${BQ}>;

@compute @workgroup_size(${t.rows * t.tpr})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let b = wg.z;
  let hk = wg.y;
  let k0 = wg.x * ${BK}u;
  let r = li / TPR;
  let c = li % TPR;
  let j = k0 + r;
  let rowValid = j < p.seq;
  var sj = 0u;
  if (rowValid) { sj = Seg[b * p.seq + j]; }
  ${loadTile('Ks', 'K', BK, 'k0', 'hk', 'p.hkv')}
  ${loadTile('Vs', 'V', BK, 'k0', 'hk', 'p.hkv')}
  var dk: array<f32, DPT>;
  var dv: array<f32, DPT>;
  let kLast = min(k0 + ${BK}u, p.seq) - 1u;
  var qEnd = p.seq;
  if (p.window < p.seq) { qEnd = min(p.seq, kLast + p.window); }
  let qStart = (k0 / ${BQ}u) * ${BQ}u;
  // The group's query heads, then the query tiles, in a fixed order: dk and dv sum deterministically.
  for (var g = 0u; g < p.group; g++) {
    let h = hk * p.group + g;
    for (var q0 = qStart; q0 < qEnd; q0 += ${BQ}u) {
      ${loadTile('Qs', 'Q', BQ, 'q0', 'h', 'p.hq')}
      ${loadTile('DOs', 'DO', BQ, 'q0', 'h', 'p.hq')}
      if (li < ${BQ}u && q0 + li < p.seq) {
        let row = (b * p.hq + h) * p.seq + q0 + li;
        Lq[li] = L[row];
        Dq[li] = Delta[row];
        Qseg[li] = Seg[b * p.seq + q0 + li];
      }
      workgroupBarrier();
      for (var ii = c; ii < ${BQ}u; ii += TPR) {
        var pr = 0.0;
        var ds = 0.0;
        if (rowValid && q0 + ii < p.seq && visible(q0 + ii, j, Qseg[ii], sj)) {
          {
            ${dotRows('Qs', 'ii', 'Ks', 'r')}
            pr = exp(sdot * p.scale - Lq[ii]);
          }
          ${dotRows('DOs', 'ii', 'Vs', 'r')}
          ds = pr * (sdot - Dq[ii]);
        }
        Ps[r * ${BQ}u + ii] = pr;
        DSs[r * ${BQ}u + ii] = ds;
      }
      workgroupBarrier();
      for (var ii = 0u; ii < ${BQ}u; ii++) {
        let pr = Ps[r * ${BQ}u + ii];
        let ds = DSs[r * ${BQ}u + ii];
        if (pr != 0.0 || ds != 0.0) {
          ${OWNED}
            dv[x] = fma(pr, DOs[ii * DP + col], dv[x]);
            dk[x] = fma(ds, Qs[ii * DP + col], dk[x]);
          } }
        }
      }
      workgroupBarrier();
    }
  }
  if (rowValid) {
    let base = ((b * p.seq + j) * p.hkv + hk) * D;
    ${OWNED}
      DK[base + col] = dk[x] * p.scale;
      DV[base + col] = dv[x];
    } }
  }
}
`;
}

/** dq: one workgroup per (query tile, query head, batch); rows are queries, cols are keys. */
export function attentionBackwardQWgsl(d: number, t: AttentionTiles): string {
  const { rows: BQ, cols: BK } = t;
  return /* wgsl */ `
${header(d, t)}
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> K: array<f32>;
@group(0) @binding(3) var<storage, read> V: array<f32>;
@group(0) @binding(4) var<storage, read> Seg: array<u32>;
@group(0) @binding(5) var<storage, read> DO: array<f32>;
@group(0) @binding(6) var<storage, read> L: array<f32>;
@group(0) @binding(7) var<storage, read> Delta: array<f32>;
@group(0) @binding(8) var<storage, read_write> DQ: array<f32>;
var<workgroup> Qs: array<f32, ${BQ}u * DP>;
var<workgroup> DOs: array<f32, ${BQ}u * DP>;
var<workgroup> Ks: array<f32, ${BK}u * DP>;
var<workgroup> Vs: array<f32, ${BK}u * DP>;
var<workgroup> DSs: array<f32, ${BQ * BK}>;
var<workgroup> Kseg: array<u32, ${BK}>;

@compute @workgroup_size(${t.rows * t.tpr})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let b = wg.z;
  let h = wg.y;
  let hk = h / p.group;
  let q0 = wg.x * ${BQ}u;
  let r = li / TPR;
  let c = li % TPR;
  let i = q0 + r;
  let rowValid = i < p.seq;
  var si = 0u;
  var lseI = 0.0;
  var di = 0.0;
  if (rowValid) {
    si = Seg[b * p.seq + i];
    lseI = L[(b * p.hq + h) * p.seq + i];
    di = Delta[(b * p.hq + h) * p.seq + i];
  }
  ${loadTile('Qs', 'Q', BQ, 'q0', 'h', 'p.hq')}
  ${loadTile('DOs', 'DO', BQ, 'q0', 'h', 'p.hq')}
  var dq: array<f32, DPT>;
  let qLast = min(q0 + ${BQ}u, p.seq) - 1u;
  var kStart = 0u;
  if (q0 + 1u > p.window) { kStart = ((q0 + 1u - p.window) / ${BK}u) * ${BK}u; }
  for (var k0 = kStart; k0 <= qLast; k0 += ${BK}u) {
    ${loadTile('Ks', 'K', BK, 'k0', 'hk', 'p.hkv')}
    ${loadTile('Vs', 'V', BK, 'k0', 'hk', 'p.hkv')}
    if (li < ${BK}u && k0 + li < p.seq) { Kseg[li] = Seg[b * p.seq + k0 + li]; }
    workgroupBarrier();
    for (var jj = c; jj < ${BK}u; jj += TPR) {
      var ds = 0.0;
      if (rowValid && visible(i, k0 + jj, si, Kseg[jj])) {
        var pr = 0.0;
        {
          ${dotRows('Qs', 'r', 'Ks', 'jj')}
          pr = exp(sdot * p.scale - lseI);
        }
        ${dotRows('DOs', 'r', 'Vs', 'jj')}
        ds = pr * (sdot - di);
      }
      DSs[r * ${BK}u + jj] = ds;
    }
    workgroupBarrier();
    for (var jj = 0u; jj < ${BK}u; jj++) {
      let ds = DSs[r * ${BK}u + jj];
      if (ds != 0.0) {
        ${OWNED} dq[x] = fma(ds, Ks[jj * DP + col], dq[x]); } }
      }
    }
    workgroupBarrier();
  }
  if (rowValid) {
    let base = ((b * p.seq + i) * p.hq + h) * D;
    ${OWNED} DQ[base + col] = dq[x] * p.scale; } }
  }
}
`;
}

export interface AttentionShapeArgs {
  segments: Tensor;
  batch: number;
  seq: number;
  headsQ: number;
  headsKV: number;
  headDim: number;
  /** Sliding window (Mistral): key j is visible to query i only if i − j < window. None by default. */
  window?: number;
  /** Score scale; 1/sqrt(headDim) by default. */
  scale?: number;
  /** Caps the workgroup memory the tiling may use (below the device's limit); for tests and tuning. */
  maxWorkgroupBytes?: number;
}

export interface AttentionForwardArgs extends AttentionShapeArgs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  o: Tensor;
  lse: Tensor;
}

export interface AttentionBackwardArgs extends AttentionShapeArgs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** The forward's output and logsumexp. */
  o: Tensor;
  lse: Tensor;
  dO: Tensor;
  /** Overwritten with the gradients. */
  dq: Tensor;
  dk: Tensor;
  dv: Tensor;
}

function params(a: AttentionShapeArgs): ArrayBuffer {
  const buf = new ArrayBuffer(32);
  const window = a.window ?? NO_WINDOW;
  new Uint32Array(buf, 0, 6).set([a.batch, a.seq, a.headsQ, a.headsKV, a.headsQ / a.headsKV, window]);
  new Float32Array(buf, 24, 1)[0] = a.scale ?? 1 / Math.sqrt(a.headDim);
  new Uint32Array(buf, 28, 1)[0] = a.headDim;
  return buf;
}

function check(op: string, a: AttentionShapeArgs, qLike: Tensor[], kvLike: Tensor[], rowLike: Tensor[]): void {
  const { batch: B, seq: T, headsQ: hq, headsKV: hkv, headDim: d } = a;
  for (const n of [B, T, hq, hkv, d]) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`${op}: bad shape ${B}×${T}×${hq}/${hkv}×${d}`);
  }
  if (hq % hkv !== 0) throw new RangeError(`${op}: ${hq} query heads is not a multiple of ${hkv} kv heads`);
  if (a.window !== undefined && (!Number.isInteger(a.window) || a.window < 1 || a.window >= NO_WINDOW)) {
    throw new RangeError(`${op}: bad sliding window ${a.window}`);
  }
  const need = (ts: Tensor[], n: number) => {
    for (const t of ts) {
      if (t.dtype !== 'f32') throw new TypeError(`${op}: ${t.label} is ${t.dtype}, expected f32`);
      if (numel(t.shape) < n) throw new RangeError(`${op}: ${t.label} has ${numel(t.shape)} values, needs ${n}`);
    }
  };
  need(qLike, B * T * hq * d);
  need(kvLike, B * T * hkv * d);
  need(rowLike, B * hq * T);
  if (a.segments.dtype !== 'u32') throw new TypeError(`${op}: segments must be u32`);
  if (numel(a.segments.shape) < B * T) throw new RangeError(`${op}: segments needs ${B * T} values`);
}

function tiles(step: Step, kind: KernelKind, a: AttentionShapeArgs): AttentionTiles {
  const limit = step.gpu.caps.limits.maxComputeWorkgroupStorageSize;
  return attentionTiles(kind, a.headDim, Math.min(limit, a.maxWorkgroupBytes ?? limit));
}

function label(kind: string, d: number, t: AttentionTiles): string {
  return `attention_${kind}_d${d}_${t.rows}x${t.cols}`;
}

/** Records o = attention(q, k, v) and the per-row logsumexp into `step`. */
export async function attentionForward(step: Step, a: AttentionForwardArgs): Promise<void> {
  check('attention', a, [a.q, a.o], [a.k, a.v], [a.lse]);
  const t = tiles(step, 'fwd', a);
  await step.dispatch({
    kernel: { label: label('fwd', a.headDim, t), code: attentionForwardWgsl(a.headDim, t) },
    params: params(a),
    buffers: [a.q, a.k, a.v, a.segments, a.o, a.lse].map((x) => ({ buffer: x.buffer })),
    workgroups: [Math.ceil(a.seq / t.rows), a.headsQ, a.batch],
  });
}

/** Records dq, dk, dv (overwritten) of attention given dO, the inputs, o and lse, into `step`. */
export async function attentionBackward(step: Step, a: AttentionBackwardArgs): Promise<void> {
  check('attention backward', a, [a.q, a.o, a.dO, a.dq], [a.k, a.v, a.dk, a.dv], [a.lse]);
  const gpu: Gpu = step.gpu;
  const rows = a.batch * a.headsQ * a.seq;
  const delta = gpu.empty([a.batch, a.headsQ, a.seq], 'f32', 'attention delta');
  const groups = Math.ceil(rows / DELTA_WG);
  const gx = Math.min(groups, gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  const u = params(a);
  await step.dispatch({
    kernel: { label: 'attention_delta', code: attentionDeltaWgsl() },
    params: u,
    buffers: [a.dO, a.o, delta].map((x) => ({ buffer: x.buffer })),
    workgroups: [gx, Math.ceil(groups / gx)],
  });
  const tk = tiles(step, 'dkv', a);
  await step.dispatch({
    kernel: { label: label('dkv', a.headDim, tk), code: attentionBackwardKvWgsl(a.headDim, tk) },
    params: u,
    buffers: [a.q, a.k, a.v, a.segments, a.dO, a.lse, delta, a.dk, a.dv].map((x) => ({ buffer: x.buffer })),
    workgroups: [Math.ceil(a.seq / tk.rows), a.headsKV, a.batch],
  });
  const tq = tiles(step, 'dq', a);
  await step.dispatch({
    kernel: { label: label('dq', a.headDim, tq), code: attentionBackwardQWgsl(a.headDim, tq) },
    params: u,
    buffers: [a.q, a.k, a.v, a.segments, a.dO, a.lse, delta, a.dq].map((x) => ({ buffer: x.buffer })),
    workgroups: [Math.ceil(a.seq / tq.rows), a.headsQ, a.batch],
  });
  step.onDone(() => gpu.release(delta));
}
