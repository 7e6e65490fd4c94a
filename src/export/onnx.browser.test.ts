// In Chromium: the engine (WebGPU) exports a tiny Qwen2 with a LoRA adapter merged in; onnxruntime-web
// (wasm) runs the export in the page with logits within 1e-4 of the engine's, and transformers.js loads
// the folder (served from memory in place of the Hub) and its greedy generate gives the engine's tokens.

import { AutoModelForCausalLM, env, Tensor } from '@huggingface/transformers';
import * as ort from 'onnxruntime-web';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireGpu } from '../gpu/acquire.ts';
import { generate } from '../model/generate.ts';
import { LlamaDecoder } from '../model/llama-decode.ts';
import { LlamaGpu } from '../model/llama-gpu.ts';
import { DEFAULT_LORA } from '../model/lora.ts';
import { compareClose, randomArray } from '../reference/compare.ts';
import { randomWeights, TINY_CONFIGS, tinySpec } from '../test/tiny-models.ts';
import { exportOnnx, pastName } from './onnx.ts';

const originalFetch = globalThis.fetch;
const originalEnvFetch = env.fetch;
afterAll(() => {
  env.fetch = originalEnvFetch;
});

describe('ONNX export in the browser', () => {
  it('onnxruntime-web logits and transformers.js greedy generate match the WebGPU engine', async () => {
    const gpu = await acquireGpu(navigator.gpu, 'browser');
    const spec = tinySpec('qwen2');
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
    const files = exportOnnx(spec, await model.mergedWeights(), { config: TINY_CONFIGS.qwen2, generationConfig });
    const onnx = files.find((f) => f.path === 'onnx/model.onnx')!.bytes;
    const prompt = [1, 5, 9, 4];
    const dec = new LlamaDecoder(model, 32);

    // onnxruntime-web, single-threaded wasm from this package's own dist folder.
    ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(onnx, { executionProviders: ['wasm'] });
    const i64 = (xs: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs, BigInt), [1, xs.length]);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: i64(prompt),
      attention_mask: i64(prompt.map(() => 1)),
      position_ids: i64(prompt.map((_, i) => i)),
    };
    for (let l = 0; l < spec.numLayers; l++) {
      for (const kv of ['key', 'value'] as const) {
        feeds[pastName(l, kv)] = new ort.Tensor('float32', new Float32Array(0), [1, spec.numKvHeads, 0, spec.headDim]);
      }
    }
    const logits = ((await session.run(feeds)).logits.data as Float32Array).slice((prompt.length - 1) * spec.vocabSize);
    const c = compareClose(logits, await dec.append(prompt), 1e-4, 1e-4);
    expect(c.first).toEqual([]);
    await session.release();

    // transformers.js: the Hub requests answered from the exported files; its wasm from its own ORT.
    const byPath = new Map(files.map((f) => [f.path, f.bytes]));
    const hubFetch: typeof fetch = (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      const m = /^https:\/\/huggingface\.co\/lorabook-test\/tiny\/resolve\/main\/(.+)$/.exec(url);
      if (!m) return originalFetch(input, init);
      const bytes = byPath.get(decodeURIComponent(m[1]));
      return Promise.resolve(
        bytes ? new Response(bytes.slice().buffer, { status: 200 }) : new Response('not found', { status: 404 }),
      );
    };
    env.fetch = hubFetch;
    env.allowLocalModels = false;
    env.useBrowserCache = false;
    const ortDist = '/node_modules/@huggingface/transformers/node_modules/onnxruntime-web/dist/';
    env.backends.onnx.wasm!.wasmPaths = {
      mjs: `${ortDist}ort-wasm-simd-threaded.asyncify.mjs`,
      wasm: `${ortDist}ort-wasm-simd-threaded.asyncify.wasm`,
    };
    env.backends.onnx.wasm!.numThreads = 1;
    const tjs = await AutoModelForCausalLM.from_pretrained('lorabook-test/tiny', { dtype: 'fp32', device: 'wasm' });
    const out = (await tjs.generate({
      input_ids: new Tensor('int64', BigInt64Array.from(prompt, BigInt), [1, prompt.length]),
      max_new_tokens: 12,
      do_sample: false,
    })) as Tensor;
    const theirs = (out.tolist() as bigint[][])[0].slice(prompt.length).map(Number);
    const ours = await generate(dec, prompt, { maxNewTokens: 12, repetitionPenalty: 1.5, eosTokenIds: [2] });
    expect(theirs).toEqual(ours.tokens);
    expect(new Set(ours.tokens).size).toBeGreaterThan(2);
    await tjs.dispose();
    dec.dispose();
    model.dispose();
    gpu.destroy();
  });
});
