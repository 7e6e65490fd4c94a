// The KV-cache decoder against recomputing the whole prefix: last-token logits after a prompt and after
// every appended token, on tiny Llama (GQA, tied), Qwen2 (biases), Qwen3 (q/k norms) and Mistral (a
// sliding window shorter than the sequence), with LoRA adapters unmerged and merged; greedy and seeded
// sampled generations give the same tokens both ways.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { randomArray } from '../reference/compare.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { linearShape, randomWeights, TINY_CONFIGS, tinySpec } from '../test/tiny-models.ts';
import { parseModelConfig, type ModelSpec } from './config.ts';
import { generate } from './generate.ts';
import { FullPrefixDecoder, LlamaDecoder } from './llama-decode.ts';
import { LlamaGpu } from './llama-gpu.ts';
import { DEFAULT_LORA, type LoraConfig } from './lora.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const loraCfg: LoraConfig = { ...DEFAULT_LORA, r: 2, alpha: 4, dropout: 0.1, targetModules: 'all-linear' };
const MODULES = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj'];
const MLP = ['mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];

function adapters(spec: ModelSpec) {
  const mods: Record<string, { a: Float64Array; b: Float64Array }> = {};
  let seed = 77;
  for (let l = 0; l < spec.numLayers; l++) {
    for (const m of [...MODULES, ...MLP]) {
      const [outF, inF] = linearShape(spec, m);
      mods[`model.layers.${l}.${m}`] = {
        a: Float64Array.from(randomArray(loraCfg.r * inF, seed++), (x) => 0.5 * x),
        b: Float64Array.from(randomArray(outF * loraCfg.r, seed++), (x) => 0.5 * x),
      };
    }
  }
  return mods;
}

const specs: [string, () => ModelSpec][] = [
  ...['llama', 'llama-tied', 'qwen2', 'qwen3'].map((n) => [n, () => tinySpec(n)] as [string, () => ModelSpec]),
  [
    'mistral (window 4)',
    () => parseModelConfig({ ...TINY_CONFIGS.llama, model_type: 'mistral', sliding_window: 4, head_dim: 4 }),
  ],
];

describe('KV-cache decoding equals recomputing the prefix', () => {
  for (const [name, make] of specs) {
    it(`${name}: logits per appended token, LoRA unmerged then merged`, async () => {
      const spec = make();
      const model = LlamaGpu.create(
        gpu,
        spec,
        randomWeights(spec, 5),
        { mode: 'lora', lora: loraCfg, seed: 3 },
        adapters(spec),
      );
      const cached = new LlamaDecoder(model, 16);
      const full = new FullPrefixDecoder(model, 16);
      const prompt = [1, 5, 9, 2, 7];
      for (const merged of [false, true]) {
        await model.setMerged(merged);
        cached.reset();
        full.reset();
        expectClose(await cached.append(prompt), await full.append(prompt), 1e-5, 1e-4, `${name} prompt`);
        for (const t of [3, 12, 0, 6, 6, 11]) {
          expectClose(await cached.append([t]), await full.append([t]), 1e-5, 1e-4, `${name} token ${t}`);
        }
        expect(cached.length).toBe(11);
      }
      // Chunks of several tokens at once after a prefix (speculative-style appends) agree as well.
      cached.reset();
      full.reset();
      await cached.append([4, 4]);
      await full.append([4, 4]);
      expectClose(await cached.append([8, 1, 2]), await full.append([8, 1, 2]), 1e-5, 1e-4, `${name} chunk`);
      await model.setMerged(false);
      cached.dispose();
      model.dispose();
    });
  }

  it('greedy and seeded sampled generation: same tokens with and without the cache; streaming; EOS', async () => {
    const spec = tinySpec('qwen2');
    const model = LlamaGpu.create(
      gpu,
      spec,
      randomWeights(spec, 9),
      { mode: 'lora', lora: loraCfg, seed: 1 },
      adapters(spec),
    );
    const cached = new LlamaDecoder(model, 24);
    const full = new FullPrefixDecoder(model, 24);
    const prompt = [3, 1, 4, 1, 5];
    const streamed: number[] = [];
    const greedy = await generate(cached, prompt, { maxNewTokens: 10 }, (t) => void streamed.push(t));
    expect(greedy.tokens).toEqual((await generate(full, prompt, { maxNewTokens: 10 })).tokens);
    expect(streamed).toEqual(greedy.tokens);
    expect(greedy.finishReason).toBe('length');
    const sampling = {
      maxNewTokens: 12,
      doSample: true,
      temperature: 1.3,
      topK: 8,
      topP: 0.9,
      repetitionPenalty: 1.2,
      seed: 42,
    };
    const a = await generate(cached, prompt, sampling);
    expect(a.tokens).toEqual((await generate(full, prompt, sampling)).tokens);
    expect(a.tokens).toEqual((await generate(cached, prompt, sampling)).tokens); // seeded: reproducible
    const other = await generate(cached, prompt, { ...sampling, seed: 43 });
    expect(other.tokens).not.toEqual(a.tokens);
    // EOS: stop at the first greedy token when it is declared EOS.
    const eos = await generate(cached, prompt, { maxNewTokens: 10, eosTokenIds: [greedy.tokens[0]] });
    expect(eos).toEqual({ tokens: [greedy.tokens[0]], finishReason: 'eos' });
    const stop = await generate(cached, prompt, { maxNewTokens: 10, stopTokenIds: [greedy.tokens[2]] });
    expect(stop.tokens).toEqual(greedy.tokens.slice(0, greedy.tokens.indexOf(greedy.tokens[2]) + 1));
    expect(stop.finishReason).toBe('stop');
    cached.dispose();
    model.dispose();
  });
});
