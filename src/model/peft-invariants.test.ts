// PEFT invariants on Dawn: merged == unmerged == merge-and-unload (a plain model built from the merged
// weights) within 1e-4, unmerging restores the base weights, and a trained adapter changes the logits
// (an adapter with B = 0 would not, so this test cannot pass on a do-nothing adapter).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { compareClose } from '../reference/compare.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { randomWeights, tinySpec } from '../test/tiny-models.ts';
import { AdamWOptimizer } from '../train/optimizer.ts';
import { LlamaGpu, type TokenBatch } from './llama-gpu.ts';
import { DEFAULT_LORA } from './lora.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const batch: TokenBatch = {
  batch: 1,
  seq: 8,
  ids: [3, 1, 4, 1, 5, 9, 2, 6],
  labels: [1, 4, 1, 5, 9, 2, 6, 5],
  positions: [0, 1, 2, 3, 4, 5, 6, 7],
  segments: [0, 0, 0, 0, 0, 0, 0, 0],
};

describe('PEFT invariants', () => {
  for (const name of ['llama', 'qwen2', 'qwen3']) {
    it(`${name}: a trained adapter changes the logits; merged = unmerged = merge-and-unload`, async () => {
      const spec = tinySpec(name);
      const weights = randomWeights(spec, 5);
      const cfg = { ...DEFAULT_LORA, r: 4, alpha: 8, dropout: 0.1, targetModules: 'all-linear' as const };
      const model = LlamaGpu.create(gpu, spec, weights, { mode: 'lora', lora: cfg, seed: 11 });
      const base = await model.logits(batch);
      // Fresh adapters (B = 0) leave the output exactly as it was.
      expect(Array.from(await model.logits(batch))).toEqual(Array.from(base));

      const opt = new AdamWOptimizer(gpu, model.trainable);
      const loss = gpu.empty([1], 'f32', 'loss');
      for (let i = 0; i < 5; i++) {
        const step = gpu.step('train');
        model.zeroGrads(step);
        const o = { invCount: 1 / 8, loss, accumulateLoss: false, backward: true, train: true, microStep: i };
        await model.microStep(step, batch, o);
        await opt.record(step, { lr: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }, 1);
        await step.submit();
      }
      gpu.release(loss);
      opt.dispose();

      const unmerged = await model.logits(batch);
      const changed = compareClose(unmerged, base, 1e-3, 0);
      expect(changed.mismatches, 'the trained adapter must move the logits').toBeGreaterThan(unmerged.length / 2);

      await model.setMerged(true);
      expectClose(await model.logits(batch), unmerged, 1e-4, 1e-4, 'merged vs unmerged');
      await expect(
        model.microStep(gpu.step('x'), batch, {
          invCount: 1,
          loss: gpu.empty([1], 'f32', 'l'),
          accumulateLoss: false,
          backward: true,
          train: true,
          microStep: 0,
        }),
      ).rejects.toThrow(/unmerge/);
      await model.setMerged(false);
      expectClose(await model.logits(batch), unmerged, 1e-4, 1e-4, 'unmerged again');
      const w = model.linears()[0].weight;
      expectClose(await gpu.readF32(w.value), weights[w.name], 1e-6, 1e-5, 'base weight restored');

      const merged = await model.mergedWeights();
      const plain = LlamaGpu.create(gpu, spec, merged, { mode: 'full', seed: 1 });
      expectClose(await plain.logits(batch), unmerged, 1e-4, 1e-4, 'merge-and-unload');
      expect(Object.keys(merged).sort()).toEqual(Object.keys(weights).sort());
      plain.dispose();
      model.dispose();
    });
  }
});
