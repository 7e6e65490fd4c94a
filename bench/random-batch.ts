// A random training batch for the speed benchmarks: uniform token ids and next-token labels over the
// vocabulary, one example per row (only speed and memory are measured, so the values do not matter).

import type { TokenBatch } from '../src/model/llama-gpu.ts';
import { randomArray } from '../src/reference/compare.ts';

export function randomTokenBatch(vocab: number, batch: number, seq: number, seed: number): TokenBatch {
  const n = batch * seq;
  const r = randomArray(2 * n, seed);
  const id = (x: number) => Math.floor(((x + 1) / 2) * vocab) % vocab;
  return {
    batch,
    seq,
    ids: Array.from({ length: n }, (_, i) => id(r[i])),
    labels: Array.from({ length: n }, (_, i) => id(r[n + i])),
    positions: Array.from({ length: n }, (_, i) => i % seq),
    segments: new Array<number>(n).fill(0),
  };
}
