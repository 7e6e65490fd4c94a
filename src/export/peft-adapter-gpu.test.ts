// A PEFT adapter exported and imported again drives the model exactly as the adapter it came from, on
// Dawn: the built-in model (lorabook-tiny, q_proj and v_proj) and a tiny GPT-2 (every Conv1D, c_attn's B
// split over q, k and v) give bitwise-equal logits with the imported adapters and with the original ones.
// B is non-zero and the logits must differ from the base model's, so a dropped or misplaced adapter fails.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModelFile, readModelJson } from '../builtin/builtin-files.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { CausalLmModel } from '../model/causal-lm.ts';
import { parseModelConfig } from '../model/config.ts';
import type { Gpt2Spec } from '../model/gpt2-config.ts';
import { Gpt2Gpu } from '../model/gpt2-gpu.ts';
import { LlamaGpu, type ModelOptions, type TokenBatch } from '../model/llama-gpu.ts';
import { DEFAULT_LORA, type LoraConfig } from '../model/lora.ts';
import { SafetensorsReader } from '../model/safetensors.ts';
import { compareClose } from '../reference/compare.ts';
import { testGpu } from '../test/gpu.ts';
import { randomGpt2Weights, tinyGpt2Spec } from '../test/tiny-gpt2.ts';
import { randomAdapters } from './peft-adapter-fixtures.ts';
import { exportPeftAdapter, importPeftAdapter } from './peft-adapter.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const batch = (vocab: number): TokenBatch => {
  const ids = [3, 1, 4, 1, 5, 9, 2, 6].map((x) => (x * 97) % vocab);
  return {
    batch: 1,
    seq: 8,
    ids,
    labels: [...ids.slice(1), ids[0]],
    positions: [0, 1, 2, 3, 4, 5, 6, 7],
    segments: [0, 0, 0, 0, 0, 0, 0, 0],
  };
};

async function logitsOf(model: CausalLmModel, b: TokenBatch): Promise<Float32Array> {
  try {
    return await model.logits(b);
  } finally {
    model.dispose();
  }
}

type Make = (
  lora: LoraConfig,
  adapters: Record<string, { a: ArrayLike<number>; b: ArrayLike<number> }> | null,
) => CausalLmModel;

async function roundTrip(
  spec: Parameters<typeof exportPeftAdapter>[0]['spec'],
  lora: LoraConfig,
  make: Make,
  vocab: number,
) {
  const adapters = randomAdapters(spec, lora, 21);
  const files = exportPeftAdapter({ spec, lora, baseModel: 'lorabook/test', revision: 'main', adapters });
  const imported = importPeftAdapter(spec, Object.fromEntries(files.map((f) => [f.path, f.bytes])));
  const b = batch(vocab);
  const original = await logitsOf(make(lora, adapters), b);
  const again = await logitsOf(make(imported.lora, imported.adapters), b);
  const base = await logitsOf(make(lora, null), b); // B = 0: the base model's logits
  expect(Array.from(again)).toEqual(Array.from(original));
  const moved = compareClose(original, base, 1e-3, 0);
  expect(moved.mismatches, 'the adapter must change the logits').toBeGreaterThan(original.length / 2);
}

describe('PEFT adapter round trip on the GPU', () => {
  it('lorabook-tiny, q_proj and v_proj: imported adapters give the same logits', async () => {
    const spec = parseModelConfig(readModelJson('config.json'));
    const st = new SafetensorsReader(readModelFile('model.safetensors'));
    const weights = Object.fromEntries(st.names().map((n) => [n, st.tensorF32(n)]));
    const lora: LoraConfig = { ...DEFAULT_LORA, r: 8, alpha: 16, targetModules: ['q_proj', 'v_proj'] };
    const options = (l: LoraConfig): ModelOptions => ({ mode: 'lora', lora: { ...l, dropout: 0 }, seed: 5 });
    await roundTrip(spec, lora, (l, a) => LlamaGpu.create(gpu, spec, weights, options(l), a), spec.vocabSize);
  });

  it('tiny GPT-2, all-linear: imported adapters give the same logits', async () => {
    const spec: Gpt2Spec = tinyGpt2Spec();
    const weights = randomGpt2Weights(spec, 4);
    const lora: LoraConfig = { ...DEFAULT_LORA, r: 4, alpha: 8, targetModules: 'all-linear' };
    const options = (l: LoraConfig): ModelOptions => ({ mode: 'lora', lora: { ...l, dropout: 0 }, seed: 5 });
    await roundTrip(spec, lora, (l, a) => Gpt2Gpu.create(gpu, spec, weights, options(l), a), spec.vocabSize);
  });
});
