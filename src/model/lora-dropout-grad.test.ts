// LoRA gradients with dropout on, against central finite differences of the engine's own loss (the
// dropout masks are fixed by the seed and micro-step, so the loss is a smooth function of A and B), and
// the gradients of norms trained beside the adapters (modules_to_save).
// Why: the reference model has no dropout, so the gradient tests elsewhere run with dropout 0; this checks
// the masked path of Linear.backward (dA through the recomputed mask, dx through the mask and 1/(1-p)).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { randomArray } from '../reference/compare.ts';
import { testGpu } from '../test/gpu.ts';
import { linearShape, randomWeights, tinySpec } from '../test/tiny-models.ts';
import { LlamaGpu, type TokenBatch } from './llama-gpu.ts';
import { DEFAULT_LORA } from './lora.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const batch: TokenBatch = {
  batch: 1,
  seq: 9,
  ids: [3, 1, 4, 1, 5, 9, 2, 6, 5],
  labels: [1, 4, 1, 5, 9, 2, 6, 5, 3],
  positions: [0, 1, 2, 3, 4, 5, 6, 7, 8],
  segments: [1, 1, 1, 1, 1, 1, 1, 1, 1],
};

describe('LoRA with dropout on Dawn', () => {
  it('dA and dB match central finite differences of the loss under the same dropout masks', async () => {
    const spec = tinySpec('llama');
    const weights = randomWeights(spec, 21);
    const lora = {
      ...DEFAULT_LORA,
      r: 2,
      alpha: 4,
      dropout: 0.3,
      targetModules: 'all-linear' as const,
      modulesToSave: ['model.norm', 'layers.1.input_layernorm'],
    };
    const adapters: Record<string, { a: Float32Array; b: Float32Array }> = {};
    let seed = 70;
    for (let l = 0; l < spec.numLayers; l++) {
      for (const m of ['self_attn.q_proj', 'self_attn.v_proj', 'mlp.up_proj', 'mlp.down_proj', 'self_attn.o_proj']) {
        const [outF, inF] = linearShape(spec, m);
        adapters[`model.layers.${l}.${m}`] = {
          a: randomArray(lora.r * inF, seed++).map((x) => 0.5 * x),
          b: randomArray(outF * lora.r, seed++).map((x) => 0.5 * x),
        };
      }
    }
    const model = LlamaGpu.create(gpu, spec, weights, { mode: 'lora', lora, seed: 3 }, adapters);
    const loss = gpu.empty([1], 'f32', 'loss');
    const run = async (backward: boolean) => {
      const step = gpu.step('fd');
      if (backward) model.zeroGrads(step);
      await model.microStep(step, batch, {
        invCount: 1 / 9,
        loss,
        accumulateLoss: false,
        backward,
        train: true, // dropout on; micro-step 0 each time: the same masks
        microStep: 0,
      });
      await step.submit();
      return (await gpu.readF32(loss))[0];
    };
    await run(true);
    // modules_to_save: the final norm and one layer norm are trained whole, the other norms stay frozen
    const norms = model.trainable.filter((p) => p.name.includes('norm')).map((p) => p.name);
    expect(norms.sort()).toEqual(['model.layers.1.input_layernorm.weight', 'model.norm.weight']);
    const params = model.trainable.filter(
      (p) => /layers\.0\.(self_attn\.v_proj|mlp\.down_proj)\.lora_[AB]/.test(p.name) || p.name.includes('norm'),
    );
    expect(params.length).toBe(6);
    const eps = 1e-2;
    for (const p of params) {
      const grad = await gpu.readF32(p.grad!);
      const value = await gpu.readF32(p.value);
      for (const i of [0, 3, Math.floor(value.length / 2), value.length - 1]) {
        const at = (delta: number) => {
          const v = Float32Array.from(value);
          v[i] += delta;
          gpu.write(p.value, v);
          return run(false);
        };
        const numeric = ((await at(eps)) - (await at(-eps))) / (2 * eps);
        gpu.write(p.value, value);
        expect(Math.abs(grad[i] - numeric), `${p.name}[${i}]: ${grad[i]} vs ${numeric}`).toBeLessThan(
          2e-3 + 3e-2 * Math.abs(numeric),
        );
      }
    }
    gpu.release(loss);
    model.dispose();
  });
});
