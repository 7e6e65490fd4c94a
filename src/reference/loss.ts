// CPU reference for the LM head fused with cross-entropy, in float64.
//   logits [N, V] = h [N, D] · Wᵀ (W [V, D]);  labels [N] with −100 = ignored
//   loss = invCount · Σ_{valid t} (logsumexp(logits_t) − logits_t[label_t])
//   dlogits = invCount · (softmax(logits_t) − onehot(label_t)) on valid rows, 0 on ignored rows
//   dh = dlogits · W,  dW = dlogitsᵀ · h
// invCount is 1 / (non-ignored tokens over every micro-batch of the accumulated step), so the sum over
// micro-batches equals the loss of one big batch.

export const IGNORE_INDEX = -100;

export interface CrossEntropyRef {
  loss: number;
  rowLoss: Float64Array;
  lse: Float64Array;
  dlogits: Float64Array;
}

export function crossEntropyRef(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  vocab: number,
  invCount: number,
): CrossEntropyRef {
  const n = labels.length;
  const rowLoss = new Float64Array(n);
  const lse = new Float64Array(n);
  const dlogits = new Float64Array(n * vocab);
  let loss = 0;
  for (let t = 0; t < n; t++) {
    let m = -Infinity;
    for (let j = 0; j < vocab; j++) m = Math.max(m, logits[t * vocab + j]);
    let s = 0;
    for (let j = 0; j < vocab; j++) s += Math.exp(logits[t * vocab + j] - m);
    lse[t] = m + Math.log(s);
    const y = labels[t];
    if (y === IGNORE_INDEX) continue;
    rowLoss[t] = lse[t] - logits[t * vocab + y];
    loss += rowLoss[t];
    for (let j = 0; j < vocab; j++) {
      dlogits[t * vocab + j] = invCount * (Math.exp(logits[t * vocab + j] - lse[t]) - (j === y ? 1 : 0));
    }
  }
  return { loss: loss * invCount, rowLoss, lse, dlogits };
}

export function lmHeadLogitsRef(h: ArrayLike<number>, w: ArrayLike<number>, n: number, d: number, vocab: number) {
  const out = new Float64Array(n * vocab);
  for (let t = 0; t < n; t++) {
    for (let v = 0; v < vocab; v++) {
      let acc = 0;
      for (let k = 0; k < d; k++) acc += h[t * d + k] * w[v * d + k];
      out[t * vocab + v] = acc;
    }
  }
  return out;
}

/** The fused head's loss and gradients w.r.t. the hidden states and the head's weight. */
export function lmHeadCrossEntropyRef(
  h: ArrayLike<number>,
  w: ArrayLike<number>,
  labels: ArrayLike<number>,
  d: number,
  vocab: number,
  invCount: number,
): { loss: number; rowLoss: Float64Array; dh: Float64Array; dw: Float64Array } {
  const n = labels.length;
  const ce = crossEntropyRef(lmHeadLogitsRef(h, w, n, d, vocab), labels, vocab, invCount);
  const dh = new Float64Array(n * d);
  const dw = new Float64Array(vocab * d);
  for (let t = 0; t < n; t++) {
    for (let v = 0; v < vocab; v++) {
      const g = ce.dlogits[t * vocab + v];
      if (g === 0) continue;
      for (let k = 0; k < d; k++) {
        dh[t * d + k] += g * w[v * d + k];
        dw[v * d + k] += g * h[t * d + k];
      }
    }
  }
  return { loss: ce.loss, rowLoss: ce.rowLoss, dh, dw };
}

/** 1 / (number of labels that are not ignored), over every micro-batch of an accumulated step. */
export function inverseTokenCount(labelBatches: ArrayLike<number>[]): number {
  let count = 0;
  for (const labels of labelBatches) for (let i = 0; i < labels.length; i++) if (labels[i] !== IGNORE_INDEX) count++;
  return count > 0 ? 1 / count : 0;
}
