// One pretraining run of the built-in model on the engine, in full fine-tuning mode: a LlamaGpu with every
// tensor trainable, AdamW, and the recipe's schedule. The script drives it for the whole run (with
// checkpoints); the replay test drives it for the first steps and compares losses with the record.

import type { PackedBatch } from '../data/batch.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { LlamaGpu } from '../model/llama-gpu.ts';
import { AdamWOptimizer } from '../train/optimizer.ts';
import { adamwAt, RECIPE, SPEC } from './recipe.ts';

export interface OptimizerState {
  t: number;
  m: Float32Array[];
  v: Float32Array[];
}

export class Pretrainer {
  private readonly loss: Tensor;

  private constructor(
    readonly gpu: Gpu,
    readonly model: LlamaGpu,
    readonly opt: AdamWOptimizer,
  ) {
    this.loss = gpu.empty([1], 'f32', 'pretrain loss');
  }

  static async create(gpu: Gpu, weights: Record<string, Float32Array>, state?: OptimizerState): Promise<Pretrainer> {
    const model = LlamaGpu.create(gpu, SPEC, weights, { mode: 'full', seed: RECIPE.seed });
    const opt = new AdamWOptimizer(gpu, model.trainable);
    if (state) await opt.importState(state);
    return new Pretrainer(gpu, model, opt);
  }

  /** Trains step `step` (0-based) on `batch`; returns its loss before the update and the gradient norm. */
  async step(step: number, batch: PackedBatch): Promise<{ loss: number; gradNorm: number }> {
    const s = this.gpu.step(`pretrain step ${step + 1}`);
    this.model.zeroGrads(s);
    let count = 0;
    for (const l of batch.labels) if (l >= 0) count++;
    await this.model.microStep(s, batch, {
      invCount: 1 / count,
      loss: this.loss,
      accumulateLoss: false,
      backward: true,
      train: true,
      microStep: step,
    });
    await this.opt.record(s, adamwAt(step), RECIPE.maxGradNorm);
    await s.submit();
    const [loss] = await this.gpu.readF32(this.loss);
    return { loss, gradNorm: await this.opt.lastGradNorm() };
  }

  /** Mean cross-entropy (nats per token) of the batch's labelled tokens, without training. */
  async evalLoss(batch: PackedBatch): Promise<number> {
    return meanLoss(this.gpu, this.model, batch);
  }

  /** The current weights by Hugging Face name (the tied LM head is the embedding). */
  async weights(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const p of this.model.trainable) out[p.name] = await this.gpu.readF32(p.value);
    return out;
  }

  optimizerState(): Promise<OptimizerState> {
    return this.opt.exportState();
  }

  dispose(): void {
    this.gpu.release(this.loss);
    this.opt.dispose();
    this.model.dispose();
  }
}

/** Mean cross-entropy of a batch's labelled tokens under any LlamaGpu (inference forward). */
export async function meanLoss(gpu: Gpu, model: LlamaGpu, batch: PackedBatch): Promise<number> {
  let count = 0;
  for (const l of batch.labels) if (l >= 0) count++;
  const loss = gpu.empty([1], 'f32', 'eval loss');
  const s = gpu.step('eval');
  await model.microStep(s, batch, {
    invCount: 1 / count,
    loss,
    accumulateLoss: false,
    backward: false,
    train: false,
    microStep: 0,
  });
  await s.submit();
  const [v] = await gpu.readF32(loss);
  gpu.release(loss);
  return v;
}
