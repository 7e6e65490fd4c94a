// transformers.js (on onnxruntime-node) loads the exported folder with AutoModelForCausalLM and its greedy
// generate, with a repetition penalty, gives the engine's tokens (KV-cache decoder, LoRA unmerged) on tiny
// Llama, Qwen2 and Qwen3.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AutoModelForCausalLM, env, Tensor } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { generate } from '../model/generate.ts';
import { LlamaDecoder } from '../model/llama-decode.ts';
import { LlamaGpu } from '../model/llama-gpu.ts';
import { DEFAULT_LORA } from '../model/lora.ts';
import { randomArray } from '../reference/compare.ts';
import { testGpu } from '../test/gpu.ts';
import { randomWeights, TINY_CONFIGS, tinySpec } from '../test/tiny-models.ts';
import { exportOnnx } from './onnx.ts';

let gpu: Gpu;
let root: string;
beforeAll(async () => {
  gpu = await testGpu();
  root = mkdtempSync(join(tmpdir(), 'lorabook-onnx-'));
  env.localModelPath = `${root}/`;
  env.allowRemoteModels = false;
});
afterAll(() => {
  gpu?.destroy();
  rmSync(root, { recursive: true, force: true });
});

describe('transformers.js generate on the ONNX export', () => {
  for (const name of ['llama', 'qwen2', 'qwen3']) {
    it(`${name}: greedy tokens equal the engine's`, async () => {
      const spec = tinySpec(name);
      const lora = { ...DEFAULT_LORA, r: 2, alpha: 4, dropout: 0, targetModules: 'all-linear' };
      const model = LlamaGpu.create(gpu, spec, randomWeights(spec, 8), { mode: 'lora', lora, seed: 4 });
      let seed = 10;
      for (const lin of model.linears()) {
        const b = lin.lora!.b.value;
        gpu.write(
          b,
          Float32Array.from(randomArray(b.shape[0] * b.shape[1], seed++), (x) => 0.3 * x),
        );
      }
      const generationConfig = { eos_token_id: 2, repetition_penalty: 1.5 };
      for (const f of exportOnnx(spec, await model.mergedWeights(), { config: TINY_CONFIGS[name], generationConfig })) {
        const p = join(root, name, f.path);
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, f.bytes);
      }
      const prompt = [1, 5, 9, 4];
      const dec = new LlamaDecoder(model, 32);
      const ours = await generate(dec, prompt, { maxNewTokens: 12, repetitionPenalty: 1.5, eosTokenIds: [2] });
      const tjs = await AutoModelForCausalLM.from_pretrained(name, { dtype: 'fp32' });
      const out = (await tjs.generate({
        input_ids: new Tensor('int64', BigInt64Array.from(prompt, BigInt), [1, prompt.length]),
        max_new_tokens: 12,
        do_sample: false,
      })) as Tensor;
      const theirs = (out.tolist() as bigint[][])[0].slice(prompt.length).map(Number);
      expect(theirs).toEqual(ours.tokens);
      expect(new Set(ours.tokens).size).toBeGreaterThan(2); // the penalty keeps it from one repeated token
      await tjs.dispose();
      dec.dispose();
      model.dispose();
    });
  }
});
