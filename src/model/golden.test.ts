// PyTorch golden fixtures (scripts/make-golden-fixtures.py, HF modeling code in plain torch, PEFT LoRA
// with B non-zero): the engine on Dawn matches the logits (1e-4), the loss, every LoRA gradient (1e-3
// relative) and the losses of 10 torch.optim.AdamW steps with clip_grad_norm_ (1e-4), in LoRA and full mode.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { testGpu, expectClose } from '../test/gpu.ts';
import { AdamWOptimizer } from '../train/optimizer.ts';
import { parseModelConfig } from './config.ts';
import { LlamaGpu, type TokenBatch } from './llama-gpu.ts';
import { DEFAULT_LORA } from './lora.ts';
import { SafetensorsReader } from './safetensors.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

function load(name: string) {
  const bytes = readFileSync(new URL(`./fixtures/golden/${name}.safetensors`, import.meta.url));
  const r = new SafetensorsReader(new Uint8Array(bytes), `${name}.safetensors`);
  const meta = r.metadata!;
  const spec = parseModelConfig(JSON.parse(meta.config));
  const weights: Record<string, Float32Array> = {};
  const lora: Record<string, { a: Float32Array; b: Float32Array }> = {};
  const grads: Record<string, Float32Array> = {};
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
  const ids = r.array('input_ids') as Int32Array;
  const [B, T] = r.info('input_ids').shape;
  const batch: TokenBatch = {
    batch: B,
    seq: T,
    ids,
    labels: r.array('labels') as Int32Array,
    positions: Array.from({ length: B * T }, (_, i) => i % T),
    segments: new Array<number>(B * T).fill(0),
  };
  const loraMeta = JSON.parse(meta.lora);
  const adam = JSON.parse(meta.adamw);
  return {
    spec,
    weights,
    lora,
    grads,
    batch,
    logits: r.tensorF32('logits'),
    loss: Number(meta.loss),
    loraCfg: {
      ...DEFAULT_LORA,
      r: loraMeta.r,
      alpha: loraMeta.lora_alpha,
      dropout: 0,
      targetModules: loraMeta.target_modules,
    },
    adamCfg: { lr: adam.lr, beta1: adam.betas[0], beta2: adam.betas[1], eps: adam.eps, weightDecay: adam.weight_decay },
    maxNorm: adam.max_grad_norm as number,
    lossesLora: JSON.parse(meta.adamw_losses_lora) as number[],
    lossesFull: JSON.parse(meta.adamw_losses_full) as number[],
  };
}

async function trainLosses(model: LlamaGpu, f: ReturnType<typeof load>): Promise<number[]> {
  const opt = new AdamWOptimizer(gpu, model.trainable);
  const loss = gpu.empty([1], 'f32', 'loss');
  const invCount = 1 / Array.from(f.batch.labels).filter((l) => l !== -100).length;
  const losses: number[] = [];
  for (let i = 0; i < 10; i++) {
    const step = gpu.step('train');
    model.zeroGrads(step);
    await model.microStep(step, f.batch, {
      invCount,
      loss,
      accumulateLoss: false,
      backward: true,
      train: true,
      microStep: i,
    });
    await opt.record(step, f.adamCfg, f.maxNorm);
    await step.submit();
    losses.push((await gpu.readF32(loss))[0]);
  }
  gpu.release(loss);
  opt.dispose();
  return losses;
}

describe('engine vs PyTorch golden fixtures', () => {
  for (const name of ['llama', 'qwen2', 'qwen3']) {
    it(`${name}: logits, loss and every LoRA gradient`, async () => {
      const f = load(name);
      const model = LlamaGpu.create(gpu, f.spec, f.weights, { mode: 'lora', lora: f.loraCfg, seed: 1 }, f.lora);
      expectClose(await model.logits(f.batch), f.logits, 1e-4, 1e-4, 'logits');
      const loss = gpu.empty([1], 'f32', 'loss');
      const step = gpu.step('grads');
      model.zeroGrads(step);
      const invCount = 1 / Array.from(f.batch.labels).filter((l) => l !== -100).length;
      await model.microStep(step, f.batch, {
        invCount,
        loss,
        accumulateLoss: false,
        backward: true,
        train: true,
        microStep: 0,
      });
      await step.submit();
      expectClose(await gpu.readF32(loss), [f.loss], 1e-4, 1e-5, 'loss');
      expect(Object.keys(f.grads).length).toBe(model.trainable.length);
      // 1e-3 relative, plus an absolute floor far below the gradients' scale (~1e-1) for elements where
      // float32 accumulation meets cancellation.
      for (const p of model.trainable) expectClose(await gpu.readF32(p.grad!), f.grads[p.name], 1e-5, 1e-3, p.name);
      gpu.release(loss);
      model.dispose();
    });

    it(`${name}: 10 AdamW steps, LoRA and full fine-tuning`, async () => {
      const f = load(name);
      const lora = LlamaGpu.create(gpu, f.spec, f.weights, { mode: 'lora', lora: f.loraCfg, seed: 1 }, f.lora);
      expectClose(await trainLosses(lora, f), f.lossesLora, 1e-4, 0, 'LoRA losses');
      lora.dispose();
      const full = LlamaGpu.create(gpu, f.spec, f.weights, { mode: 'full', seed: 1 });
      expectClose(await trainLosses(full, f), f.lossesFull, 1e-4, 0, 'full losses');
      full.dispose();
    });
  }
});
