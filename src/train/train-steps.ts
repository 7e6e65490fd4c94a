// A run of training steps on a model given whole (config, weights, batches): the engine's smallest
// training entry point, shared by the in-process engine, the trainer worker and the companion, and
// used by lessons and cross-host checks (the same steps in Node and in the browser give the same
// losses). The full trainer (schedules, evaluation, checkpoints) builds on the same pieces.

import type { Gpu } from '../gpu/gpu.ts';
import { parseModelConfig } from '../model/config.ts';
import { LlamaGpu, type TokenBatch, type TrainMode } from '../model/llama-gpu.ts';
import type { LoraConfig } from '../model/lora.ts';
import { inverseTokenCount } from '../reference/loss.ts';
import type { AdamWConfig } from '../reference/optim.ts';
import { AdamWOptimizer } from './optimizer.ts';

export interface TrainStepsRequest {
  /** The model's config.json object. */
  config: Record<string, unknown>;
  /** Weights by Hugging Face name. */
  weights: Record<string, Float32Array>;
  mode: TrainMode;
  lora?: LoraConfig;
  /** Initial adapters by module path (default: PEFT's initialization from the seed). */
  adapters?: Record<string, { a: Float32Array; b: Float32Array }>;
  adamw: AdamWConfig;
  /** Global gradient-norm clipping; ≤ 0 for none. */
  maxGradNorm: number;
  seed: number;
  checkpointing?: boolean;
  /** One optimizer step per entry; each entry's micro-batches are accumulated. */
  steps: TokenBatch[][];
}

export interface TrainStepsResult {
  /** The accumulated loss of each step, before its update. */
  losses: number[];
  /** The global gradient norm of each step, before clipping. */
  gradNorms: number[];
}

export async function trainSteps(
  gpu: Gpu,
  req: TrainStepsRequest,
  onStep?: (step: number, loss: number) => void,
): Promise<TrainStepsResult> {
  const spec = parseModelConfig(req.config);
  const model = LlamaGpu.create(
    gpu,
    spec,
    req.weights,
    { mode: req.mode, lora: req.lora, seed: req.seed, checkpointing: req.checkpointing },
    req.adapters ?? null,
  );
  const opt = new AdamWOptimizer(gpu, model.trainable);
  const loss = gpu.empty([1], 'f32', 'loss');
  const out: TrainStepsResult = { losses: [], gradNorms: [] };
  let micro = 0;
  try {
    for (let s = 0; s < req.steps.length; s++) {
      const batches = req.steps[s];
      const invCount = inverseTokenCount(batches.map((b) => b.labels));
      const step = gpu.step(`train step ${s + 1}`);
      model.zeroGrads(step);
      for (let i = 0; i < batches.length; i++) {
        await model.microStep(step, batches[i], {
          invCount,
          loss,
          accumulateLoss: i > 0,
          backward: true,
          train: true,
          microStep: micro++,
        });
      }
      await opt.record(step, req.adamw, req.maxGradNorm);
      await step.submit();
      const [l] = await gpu.readF32(loss);
      out.losses.push(l);
      out.gradNorms.push(await opt.lastGradNorm());
      onStep?.(s + 1, l);
    }
  } finally {
    gpu.release(loss);
    opt.dispose();
    model.dispose();
  }
  return out;
}
