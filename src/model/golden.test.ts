// PyTorch golden fixtures (scripts/make-golden-fixtures.py, HF modeling code in plain torch, PEFT LoRA
// with B non-zero): the engine on Dawn matches the logits (1e-4), the loss, every LoRA gradient (1e-3
// relative) and the losses of 10 torch.optim.AdamW steps with clip_grad_norm_ (1e-4), in LoRA and full mode.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { GOLDEN_MODELS, goldenTrainRequest, readGolden } from '../test/golden.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { trainSteps } from '../train/train-steps.ts';
import { parseModelConfig } from './config.ts';
import { LlamaGpu } from './llama-gpu.ts';
import { inverseTokenCount } from '../reference/loss.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const load = (name: string) =>
  readGolden(new Uint8Array(readFileSync(new URL(`./fixtures/golden/${name}.safetensors`, import.meta.url))), name);

describe('engine vs PyTorch golden fixtures', () => {
  for (const name of GOLDEN_MODELS) {
    it(`${name}: logits, loss and every LoRA gradient`, async () => {
      const f = load(name);
      const spec = parseModelConfig(f.config);
      const model = LlamaGpu.create(gpu, spec, f.weights, { mode: 'lora', lora: f.loraCfg, seed: 1 }, f.lora);
      expectClose(await model.logits(f.batch), f.logits, 1e-4, 1e-4, 'logits');
      const loss = gpu.empty([1], 'f32', 'loss');
      const step = gpu.step('grads');
      model.zeroGrads(step);
      await model.microStep(step, f.batch, {
        invCount: inverseTokenCount([f.batch.labels]),
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
      expectClose((await trainSteps(gpu, goldenTrainRequest(f, 'lora'))).losses, f.lossesLora, 1e-4, 0, 'LoRA losses');
      expectClose((await trainSteps(gpu, goldenTrainRequest(f, 'full'))).losses, f.lossesFull, 1e-4, 0, 'full losses');
    });
  }
});
