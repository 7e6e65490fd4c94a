// GPT-2's KV-cache decoder equals recomputing the prefix (LoRA unmerged and merged), and greedy
// generation gives the same tokens both ways.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { randomGpt2Adapters, randomGpt2Weights, tinyGpt2Spec } from '../test/tiny-gpt2.ts';
import { generate } from './generate.ts';
import { Gpt2Decoder, Gpt2FullPrefixDecoder } from './gpt2-decode.ts';
import { Gpt2Gpu } from './gpt2-gpu.ts';
import { DEFAULT_LORA } from './lora.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

describe('GPT-2 KV-cache decoding', () => {
  it('cached logits equal the full prefix; greedy tokens agree', async () => {
    const spec = tinyGpt2Spec();
    const lora = { ...DEFAULT_LORA, r: 2, alpha: 4, dropout: 0.1, targetModules: 'all-linear' };
    const model = Gpt2Gpu.create(
      gpu,
      spec,
      randomGpt2Weights(spec, 5),
      { mode: 'lora', lora, seed: 2 },
      randomGpt2Adapters(spec, 2, 3),
    );
    const cached = new Gpt2Decoder(model, 24);
    const full = new Gpt2FullPrefixDecoder(model, 24);
    for (const merged of [false, true]) {
      await model.setMerged(merged);
      cached.reset();
      full.reset();
      expectClose(await cached.append([1, 5, 9, 2]), await full.append([1, 5, 9, 2]), 1e-5, 1e-4, 'prompt');
      for (const t of [3, 12, 0, 6])
        expectClose(await cached.append([t]), await full.append([t]), 1e-5, 1e-4, `token ${t}`);
      expectClose(await cached.append([7, 8]), await full.append([7, 8]), 1e-5, 1e-4, 'chunk');
    }
    await model.setMerged(false);
    const a = await generate(cached, [3, 1, 4], { maxNewTokens: 10, repetitionPenalty: 1.3 });
    expect(a.tokens).toEqual((await generate(full, [3, 1, 4], { maxNewTokens: 10, repetitionPenalty: 1.3 })).tokens);
    cached.dispose();
    model.dispose();
  });
});
