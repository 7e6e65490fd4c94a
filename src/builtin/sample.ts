// A small sampler over LlamaGpu.logits for the model card and the tests: each new token re-runs the whole
// (at most context-long) window, which is fine for a 0.9M-parameter model and needs no KV cache.
// topK 1 is greedy; otherwise the top k logits, divided by the temperature, are softmax-sampled with
// Philox draws keyed by the seed, so a sample is reproducible.

import type { LlamaGpu } from '../model/llama-gpu.ts';
import { philox4x32 } from '../reference/random.ts';

export interface SampleOptions {
  maxNewTokens: number;
  topK: number;
  temperature?: number;
  seed?: number;
  /** Generation stops after any of these ids (it is kept in the output). */
  stopIds?: readonly number[];
}

/** The new token ids after `prompt` (which must not be empty). */
export async function sample(model: LlamaGpu, prompt: readonly number[], o: SampleOptions): Promise<number[]> {
  if (prompt.length === 0) throw new RangeError('the prompt needs at least one token');
  const ctx = model.spec.maxPositionEmbeddings;
  const vocab = model.spec.vocabSize;
  const all = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < o.maxNewTokens; i++) {
    const ids = all.slice(-ctx);
    const n = ids.length;
    const logits = await model.logits({
      batch: 1,
      seq: n,
      ids,
      labels: ids,
      positions: ids.map((_, t) => t),
      segments: ids.map(() => 1),
    });
    const last = logits.subarray((n - 1) * vocab, n * vocab);
    const next = pick(last, o, i);
    all.push(next);
    out.push(next);
    if (o.stopIds?.includes(next)) break;
  }
  return out;
}

function pick(logits: Float32Array, o: SampleOptions, i: number): number {
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  if (o.topK <= 1) return order[0];
  const top = order.slice(0, o.topK);
  const t = o.temperature ?? 1;
  const w = top.map((id) => Math.exp((logits[id] - logits[top[0]]) / t));
  const total = w.reduce((a, b) => a + b, 0);
  const seed = o.seed ?? 0;
  const r = philox4x32([i, 0x5a3b, 0, 0], [seed >>> 0, 0]);
  let u = ((r[0] + 0.5) / 2 ** 32) * total;
  for (let k = 0; k < top.length; k++) {
    u -= w[k];
    if (u <= 0) return top[k];
  }
  return top[top.length - 1];
}
