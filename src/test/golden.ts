// Reads a PyTorch golden fixture (scripts/make-golden-fixtures.py) from its bytes, in Node or in a
// browser: config, weights, LoRA adapters and gradients, the batch, logits, loss and the 10 AdamW losses.

import type { TokenBatch } from '../model/llama-gpu.ts';
import { DEFAULT_LORA, type LoraConfig } from '../model/lora.ts';
import { SafetensorsReader } from '../model/safetensors.ts';
import type { AdamWConfig } from '../reference/optim.ts';
import type { TrainStepsRequest } from '../train/train-steps.ts';

export const GOLDEN_MODELS = ['llama', 'qwen2', 'qwen3'] as const;

export interface GoldenFixture {
  config: Record<string, unknown>;
  weights: Record<string, Float32Array>;
  lora: Record<string, { a: Float32Array; b: Float32Array }>;
  /** LoRA gradients by '<module path>.lora_A.weight' / '.lora_B.weight'. */
  grads: Record<string, Float32Array>;
  batch: TokenBatch;
  logits: Float32Array;
  loss: number;
  loraCfg: LoraConfig;
  adamCfg: AdamWConfig;
  maxNorm: number;
  lossesLora: number[];
  lossesFull: number[];
}

export function readGolden(bytes: Uint8Array, name: string): GoldenFixture {
  const r = new SafetensorsReader(bytes, `${name}.safetensors`);
  const meta = r.metadata;
  if (!meta) throw new Error(`${name}: fixture has no metadata`);
  const weights: GoldenFixture['weights'] = {};
  const lora: GoldenFixture['lora'] = {};
  const grads: GoldenFixture['grads'] = {};
  for (const key of r.names()) {
    const m = /^(grad\.)?base_model\.model\.(.+)\.lora_([AB])\.weight$/.exec(key);
    if (m) {
      const path = m[2];
      if (m[1]) grads[`${path}.lora_${m[3]}.weight`] = r.tensorF32(key);
      else {
        lora[path] ??= { a: new Float32Array(), b: new Float32Array() };
        lora[path][m[3] === 'A' ? 'a' : 'b'] = r.tensorF32(key);
      }
    } else if (key.startsWith('model.') || key === 'lm_head.weight') weights[key] = r.tensorF32(key);
  }
  const [B, T] = r.info('input_ids').shape;
  const loraMeta = JSON.parse(meta.lora);
  const adam = JSON.parse(meta.adamw);
  return {
    config: JSON.parse(meta.config),
    weights,
    lora,
    grads,
    batch: {
      batch: B,
      seq: T,
      ids: Array.from(r.array('input_ids') as Int32Array),
      labels: Array.from(r.array('labels') as Int32Array),
      positions: Array.from({ length: B * T }, (_, i) => i % T),
      segments: new Array<number>(B * T).fill(0),
    },
    logits: r.tensorF32('logits'),
    loss: Number(meta.loss),
    loraCfg: {
      ...DEFAULT_LORA,
      r: loraMeta.r,
      alpha: loraMeta.lora_alpha,
      dropout: loraMeta.lora_dropout,
      targetModules: loraMeta.target_modules,
    },
    adamCfg: { lr: adam.lr, beta1: adam.betas[0], beta2: adam.betas[1], eps: adam.eps, weightDecay: adam.weight_decay },
    maxNorm: adam.max_grad_norm,
    lossesLora: JSON.parse(meta.adamw_losses_lora),
    lossesFull: JSON.parse(meta.adamw_losses_full),
  };
}

/** The fixture's 10 AdamW steps as a trainSteps request (the same batch every step). */
export function goldenTrainRequest(f: GoldenFixture, mode: 'lora' | 'full'): TrainStepsRequest {
  return {
    config: f.config,
    weights: f.weights,
    mode,
    lora: mode === 'lora' ? f.loraCfg : undefined,
    adapters: mode === 'lora' ? f.lora : undefined,
    adamw: f.adamCfg,
    maxGradNorm: f.maxNorm,
    seed: 1,
    steps: Array.from({ length: 10 }, () => [f.batch]),
  };
}
