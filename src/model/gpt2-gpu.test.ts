// The GPT-2 engine against the float64 reference on a tiny config: loss, per-token losses and every
// trainable gradient in LoRA mode (all four Conv1D modules, B non-zero) and in full mode (Conv1D
// [in, out] layouts, c_attn's fused gradient, tied wte, wpe); merged == unmerged == merge-and-unload
// reloaded, and the adapter changes the logits.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { referenceGpt2 } from '../reference/gpt2.ts';
import { inverseTokenCount } from '../reference/loss.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { randomGpt2Adapters, randomGpt2Weights, tinyGpt2Spec } from '../test/tiny-gpt2.ts';
import { Gpt2Gpu } from './gpt2-gpu.ts';
import type { TokenBatch } from './llama-gpu.ts';
import { DEFAULT_LORA, loraScaling, type LoraConfig } from './lora.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const batch: TokenBatch = {
  batch: 2,
  seq: 7,
  ids: [1, 5, 9, 2, 7, 3, 12, 4, 4, 8, 0, 11, 6, 2],
  labels: [5, 9, 2, -100, 3, 12, 4, 4, 8, 0, 11, 6, 2, 10],
  positions: [0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3, 4, 5, 6],
  segments: [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
};
const lora: LoraConfig = { ...DEFAULT_LORA, r: 2, alpha: 4, dropout: 0, targetModules: ['c_attn', 'c_proj', 'c_fc'] };

async function run(model: Gpt2Gpu) {
  const loss = gpu.empty([1], 'f32', 'loss');
  const rowLoss = gpu.empty([14], 'f32', 'row loss');
  const step = gpu.step('gpt2 step');
  model.zeroGrads(step);
  await model.microStep(step, batch, {
    invCount: inverseTokenCount([batch.labels]),
    loss,
    accumulateLoss: false,
    backward: true,
    train: true,
    microStep: 0,
    rowLoss,
  });
  await step.submit();
  const out = {
    loss: (await gpu.readF32(loss))[0],
    rowLoss: await gpu.readF32(rowLoss),
    grads: await model.gradients(),
  };
  gpu.release(loss, rowLoss);
  return out;
}

describe('GPT-2 engine vs the CPU reference on Dawn', () => {
  const spec = tinyGpt2Spec();

  it('LoRA on c_attn, c_proj, c_fc (fan_in_fan_out), B non-zero', async () => {
    const weights = randomGpt2Weights(spec, 2);
    const adapters = randomGpt2Adapters(spec, 2, 70);
    const model = Gpt2Gpu.create(gpu, spec, weights, { mode: 'lora', lora, seed: 1 }, adapters);
    const live = gpu.pool.liveBytes;
    const got = await run(model);
    const ref = referenceGpt2(spec, weights, batch, 'lora', {
      scaling: loraScaling(lora),
      modules: Object.fromEntries(Object.entries(adapters).map(([k, v]) => [k, { ...v, r: 2 }])),
    });
    expectClose([got.loss], [ref.loss], 1e-5, 1e-5, 'loss');
    expectClose(got.rowLoss, ref.rowLoss, 1e-5, 1e-5, 'row loss');
    expect([...got.grads.keys()].sort()).toEqual([...ref.grads.keys()].sort());
    for (const [k, g] of ref.grads) expectClose(got.grads.get(k)!, g, 1e-5, 1e-3, k);
    expect(gpu.pool.liveBytes).toBe(live);
    model.dispose();
  });

  it('full fine-tuning: every gradient in the Hub layout', async () => {
    const weights = randomGpt2Weights(spec, 3);
    const model = Gpt2Gpu.create(gpu, spec, weights, { mode: 'full', seed: 1 });
    const got = await run(model);
    const ref = referenceGpt2(spec, weights, batch, 'full');
    expectClose([got.loss], [ref.loss], 1e-5, 1e-5, 'loss');
    expect([...got.grads.keys()].sort()).toEqual([...ref.grads.keys()].sort());
    for (const [k, g] of ref.grads) expectClose(got.grads.get(k)!, g, 1e-5, 1e-3, k);
    model.dispose();
  });

  it('merged == unmerged == merge-and-unload reloaded; the adapter changes the logits', async () => {
    const weights = randomGpt2Weights(spec, 4);
    const base = Gpt2Gpu.create(gpu, spec, weights, { mode: 'full', seed: 0 });
    const baseLogits = await base.logits(batch);
    base.dispose();
    const model = Gpt2Gpu.create(gpu, spec, weights, { mode: 'lora', lora, seed: 1 }, randomGpt2Adapters(spec, 2, 9));
    const unmerged = await model.logits(batch);
    expect(Math.max(...unmerged.map((v, i) => Math.abs(v - baseLogits[i])))).toBeGreaterThan(1e-2);
    await model.setMerged(true);
    expectClose(await model.logits(batch), unmerged, 1e-4, 1e-4, 'merged');
    await model.setMerged(false);
    const merged = await model.mergedWeights();
    const reloaded = Gpt2Gpu.create(gpu, spec, merged, { mode: 'full', seed: 0 });
    expectClose(await reloaded.logits(batch), unmerged, 1e-4, 1e-4, 'merge and unload');
    expectClose(await model.logits(batch), unmerged, 1e-5, 1e-4, 'unmerged again');
    reloaded.dispose();
    model.dispose();
  });
});
