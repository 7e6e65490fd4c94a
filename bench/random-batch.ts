// The speed benchmarks' training step: a random batch (uniform token ids and next-token labels over the
// vocabulary, one example per row: only speed and memory are measured, so the values do not matter) and
// one whole optimizer step recorded on it (zero the gradients, forward + backward, AdamW).

import type { Step } from '../src/gpu/step.ts';
import type { Tensor } from '../src/gpu/tensor.ts';
import type { CausalLmModel } from '../src/model/causal-lm.ts';
import type { TokenBatch } from '../src/model/llama-gpu.ts';
import { randomArray } from '../src/reference/compare.ts';
import type { AdamWOptimizer } from '../src/train/optimizer.ts';

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

/** Records one training step of `model` on `b` into `step`; the loss lands in `loss` [1]. */
export async function recordTrainStep(
  step: Step,
  model: CausalLmModel,
  opt: AdamWOptimizer,
  b: TokenBatch,
  loss: Tensor,
  microStep: number,
  lr: number,
): Promise<void> {
  model.zeroGrads(step);
  await model.microStep(step, b, {
    invCount: 1 / b.labels.length,
    loss,
    accumulateLoss: false,
    backward: true,
    train: true,
    microStep,
  });
  await opt.record(step, { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }, 1);
}
