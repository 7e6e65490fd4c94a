// CPU reference for causal, segment-aware self-attention with grouped-query attention, as Hugging Face
// Llama/Qwen2/Qwen3/Mistral compute it (eager path): scores = q·kᵀ·scale, masked, softmax, times v.
//   q [B, T, Hq, D], k and v [B, T, Hkv, D], segments [B, T] → o [B, T, Hq, D], lse [B, Hq, T]
//   query head h reads kv head floor(h / (Hq/Hkv)).
//   key j is visible to query i iff j ≤ i, seg[j] = seg[i] and (with a sliding window W) i − j < W.
//   A segment id ≥ 2^16 is a branch: its queries also see the keys of its prefix segment, id >> 16
//   (never padding's 0). Evaluation lays a prompt and several continuations of it out in one row that way.
// Why: plain float64 with the whole score row materialized, so it is obviously right; it is the
// oracle for the tiled online-softmax kernels in kernels/attention.ts.

export interface AttentionShape {
  batch: number;
  seq: number;
  headsQ: number;
  headsKV: number;
  headDim: number;
  /** Sliding window (Mistral): key j is visible to query i only if i − j < window. */
  window?: number;
  /** Score scale; 1/sqrt(headDim) by default. */
  scale?: number;
}

/** Segment ids at or above this are branches of segment id >> 16. */
export const BRANCH = 65536;

/** A branch's segment id: it sees its own tokens and those of segment `prefix` (1 ≤ prefix < 2^16). */
export function branchSegment(prefix: number, branch: number): number {
  if (!(prefix >= 1 && prefix < BRANCH && branch >= 1 && branch < BRANCH)) {
    throw new RangeError(`branch segment needs 1 ≤ prefix, branch < ${BRANCH} (got ${prefix}, ${branch})`);
  }
  return prefix * BRANCH + branch;
}

/** Whether query i (segment si) may attend key j (segment sj). */
export function attentionVisible(i: number, j: number, si: number, sj: number, window = Infinity): boolean {
  return j <= i && (si === sj || (sj !== 0 && sj === Math.floor(si / BRANCH))) && i - j < window;
}

interface Row {
  /** Visible key positions. */
  keys: number[];
  /** Softmax probabilities over `keys`. */
  p: number[];
  lse: number;
}

function softmaxRow(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  segments: ArrayLike<number>,
  s: AttentionShape,
  b: number,
  h: number,
  i: number,
): Row {
  const { seq: T, headsQ, headsKV, headDim: D } = s;
  const scale = s.scale ?? 1 / Math.sqrt(D);
  const hk = Math.floor(h / (headsQ / headsKV));
  const qBase = ((b * T + i) * headsQ + h) * D;
  const keys: number[] = [];
  const scores: number[] = [];
  for (let j = 0; j < T; j++) {
    if (!attentionVisible(i, j, segments[b * T + i], segments[b * T + j], s.window)) continue;
    const kBase = ((b * T + j) * headsKV + hk) * D;
    let dot = 0;
    for (let d = 0; d < D; d++) dot += q[qBase + d] * k[kBase + d];
    keys.push(j);
    scores.push(dot * scale);
  }
  if (keys.length === 0) return { keys, p: [], lse: 0 };
  const m = Math.max(...scores);
  let sum = 0;
  const p = scores.map((x) => {
    const e = Math.exp(x - m);
    sum += e;
    return e;
  });
  for (let x = 0; x < p.length; x++) p[x] /= sum;
  return { keys, p, lse: m + Math.log(sum) };
}

function checkShape(s: AttentionShape): void {
  if (s.headsQ % s.headsKV !== 0) throw new RangeError(`attention: ${s.headsQ} query heads, ${s.headsKV} kv heads`);
}

/** Forward: o and the per-row logsumexp of the scaled, masked scores. */
export function attentionRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  segments: ArrayLike<number>,
  s: AttentionShape,
): { o: Float64Array; lse: Float64Array } {
  checkShape(s);
  const { batch: B, seq: T, headsQ, headsKV, headDim: D } = s;
  const o = new Float64Array(B * T * headsQ * D);
  const lse = new Float64Array(B * headsQ * T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < headsQ; h++) {
      const hk = Math.floor(h / (headsQ / headsKV));
      for (let i = 0; i < T; i++) {
        const row = softmaxRow(q, k, segments, s, b, h, i);
        lse[(b * headsQ + h) * T + i] = row.lse;
        const oBase = ((b * T + i) * headsQ + h) * D;
        row.keys.forEach((j, x) => {
          const vBase = ((b * T + j) * headsKV + hk) * D;
          for (let d = 0; d < D; d++) o[oBase + d] += row.p[x] * v[vBase + d];
        });
      }
    }
  }
  return { o, lse };
}

/** Backward: the gradients of Σ o ⊙ dO with respect to q, k and v. */
export function attentionBackwardRef(
  dO: ArrayLike<number>,
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  segments: ArrayLike<number>,
  s: AttentionShape,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  checkShape(s);
  const { batch: B, seq: T, headsQ, headsKV, headDim: D } = s;
  const scale = s.scale ?? 1 / Math.sqrt(D);
  const dq = new Float64Array(B * T * headsQ * D);
  const dk = new Float64Array(B * T * headsKV * D);
  const dv = new Float64Array(B * T * headsKV * D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < headsQ; h++) {
      const hk = Math.floor(h / (headsQ / headsKV));
      for (let i = 0; i < T; i++) {
        const row = softmaxRow(q, k, segments, s, b, h, i);
        const qBase = ((b * T + i) * headsQ + h) * D;
        // dP_j = dO_i · v_j; δ = Σ_j P_j dP_j; dS_j = P_j (dP_j − δ).
        const dp = row.keys.map((j) => {
          const vBase = ((b * T + j) * headsKV + hk) * D;
          let x = 0;
          for (let d = 0; d < D; d++) x += dO[qBase + d] * v[vBase + d];
          return x;
        });
        let delta = 0;
        row.keys.forEach((_, x) => (delta += row.p[x] * dp[x]));
        row.keys.forEach((j, x) => {
          const kvBase = ((b * T + j) * headsKV + hk) * D;
          const ds = row.p[x] * (dp[x] - delta) * scale;
          for (let d = 0; d < D; d++) {
            dq[qBase + d] += ds * k[kvBase + d];
            dk[kvBase + d] += ds * q[qBase + d];
            dv[kvBase + d] += row.p[x] * dO[qBase + d];
          }
        });
      }
    }
  }
  return { dq, dk, dv };
}
