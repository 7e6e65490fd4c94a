// The merged-model export reloads with identical logits: a LoRA model (B non-zero) is merged, written in
// the Hub layout, read back through config.json and model.safetensors into a fresh engine, and its
// logits equal the unmerged adapter model's on tiny Llama (untied), Qwen2 (tied, biases) and Qwen3.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { parseModelConfig } from '../model/config.ts';
import { LlamaGpu, type TokenBatch } from '../model/llama-gpu.ts';
import { DEFAULT_LORA, type LoraConfig } from '../model/lora.ts';
import { SafetensorsReader } from '../model/safetensors.ts';
import { randomArray } from '../reference/compare.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { randomWeights, TINY_CONFIGS, tinySpec } from '../test/tiny-models.ts';
import { exportHubModel } from './hub-model.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const lora: LoraConfig = { ...DEFAULT_LORA, r: 4, alpha: 8, dropout: 0, targetModules: 'all-linear' };
const batch: TokenBatch = {
  batch: 1,
  seq: 6,
  ids: [1, 4, 9, 2, 12, 0],
  labels: new Array<number>(6).fill(-100),
  positions: [0, 1, 2, 3, 4, 5],
  segments: new Array<number>(6).fill(0),
};

/** B made non-zero so the merge changes the weights (a zero B would pass vacuously). */
async function perturbB(model: LlamaGpu): Promise<void> {
  let seed = 300;
  for (const lin of model.linears()) {
    if (!lin.lora) continue;
    const b = lin.lora.b.value;
    gpu.write(
      b,
      Float32Array.from(randomArray(b.shape[0] * b.shape[1], seed++), (x) => 0.3 * x),
    );
  }
  await gpu.sync();
}

describe('merged model in the Hub layout', () => {
  for (const name of ['llama', 'qwen2', 'qwen3']) {
    it(`${name}: reloads with the adapter model's logits`, async () => {
      const spec = tinySpec(name);
      const model = LlamaGpu.create(gpu, spec, randomWeights(spec, 4), { mode: 'lora', lora, seed: 2 });
      const base = await model.logits(batch);
      await perturbB(model);
      const tuned = await model.logits(batch);
      expect(Math.max(...tuned.map((x, i) => Math.abs(x - base[i])))).toBeGreaterThan(1e-2);
      const progress: number[] = [];
      const files = exportHubModel(spec, await model.mergedWeights(), {
        config: TINY_CONFIGS[name],
        generationConfig: { eos_token_id: 2, do_sample: false },
        tokenizerFiles: { 'tokenizer.json': '{"model":{}}' },
        onProgress: (done) => progress.push(done),
      });
      expect(files.map((f) => f.path)).toEqual([
        'config.json',
        'generation_config.json',
        'model.safetensors',
        'tokenizer.json',
      ]);
      expect(progress.at(-1)).toBe(progress.length - 1);
      const byPath = Object.fromEntries(files.map((f) => [f.path, f.bytes]));
      const config: unknown = JSON.parse(new TextDecoder().decode(byPath['config.json']));
      expect(config).toMatchObject({ torch_dtype: 'float32', model_type: spec.modelType });
      const reader = new SafetensorsReader(byPath['model.safetensors']);
      expect(reader.names().some((n) => n.includes('lora'))).toBe(false);
      expect(reader.has('lm_head.weight')).toBe(!spec.tieWordEmbeddings);
      const reloadedSpec = parseModelConfig(config);
      const weights = Object.fromEntries(reader.names().map((n) => [n, reader.tensorF32(n)]));
      const reloaded = LlamaGpu.create(gpu, reloadedSpec, weights, { mode: 'full', seed: 0 });
      expectClose(await reloaded.logits(batch), tuned, 1e-5, 1e-4, `${name} reloaded`);
      reloaded.dispose();
      model.dispose();
    });
  }
});
