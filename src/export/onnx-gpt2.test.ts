// GPT-2's ONNX export: onnxruntime-node logits for a prompt and cached next tokens within 1e-4 of the
// engine (LoRA on c_attn/c_proj/c_fc merged in, B non-zero), and transformers.js's greedy generate on the
// exported folder gives the engine's tokens.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AutoModelForCausalLM, env, Tensor } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { generate } from '../model/generate.ts';
import { Gpt2Decoder } from '../model/gpt2-decode.ts';
import { Gpt2Gpu } from '../model/gpt2-gpu.ts';
import { DEFAULT_LORA } from '../model/lora.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { randomGpt2Adapters, randomGpt2Weights, TINY_GPT2, tinyGpt2Spec } from '../test/tiny-gpt2.ts';
import { exportGpt2Onnx } from './onnx-gpt2.ts';
import { pastName, presentName } from './onnx.ts';

let gpu: Gpu;
let root: string;
beforeAll(async () => {
  gpu = await testGpu();
  root = mkdtempSync(join(tmpdir(), 'lorabook-gpt2-onnx-'));
});
afterAll(() => {
  gpu?.destroy();
  rmSync(root, { recursive: true, force: true });
});

const i64 = (xs: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs, BigInt), [1, xs.length]);

describe('GPT-2 ONNX export', () => {
  it('onnxruntime-node logits and transformers.js greedy generate match the engine', async () => {
    const spec = tinyGpt2Spec();
    const lora = { ...DEFAULT_LORA, r: 2, alpha: 4, dropout: 0, targetModules: ['c_attn', 'c_proj', 'c_fc'] };
    const model = Gpt2Gpu.create(
      gpu,
      spec,
      randomGpt2Weights(spec, 8),
      { mode: 'lora', lora, seed: 2 },
      randomGpt2Adapters(spec, 2, 5),
    );
    const generationConfig = { eos_token_id: 12, bos_token_id: 0, repetition_penalty: 1.4 };
    const files = exportGpt2Onnx(spec, await model.mergedWeights(), {
      config: { ...TINY_GPT2, eos_token_id: 12 },
      generationConfig,
    });
    const session = await ort.InferenceSession.create(files[2].bytes);
    const dec = new Gpt2Decoder(model, 32);
    let past: Record<string, ort.Tensor> = {};
    for (let l = 0; l < spec.numLayers; l++) {
      for (const kv of ['key', 'value'] as const) {
        past[pastName(l, kv)] = new ort.Tensor('float32', new Float32Array(0), [1, spec.numHeads, 0, spec.headDim]);
      }
    }
    let seen = 0;
    for (const ids of [[1, 5, 9, 2, 7], [3], [11, 4]]) {
      const total = seen + ids.length;
      const r = await session.run({
        input_ids: i64(ids),
        attention_mask: i64(new Array<number>(total).fill(1)),
        position_ids: i64(ids.map((_, i) => seen + i)),
        ...past,
      });
      const got = (r.logits.data as Float32Array).slice((ids.length - 1) * spec.vocabSize);
      expectClose(got, await dec.append(ids), 1e-4, 1e-4, `after ${total} tokens`);
      past = {};
      for (let l = 0; l < spec.numLayers; l++) {
        for (const kv of ['key', 'value'] as const) past[pastName(l, kv)] = r[presentName(l, kv)];
      }
      seen = total;
    }
    await session.release();

    for (const f of files) {
      const p = join(root, 'gpt2-tiny', f.path);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, f.bytes);
    }
    env.localModelPath = `${root}/`;
    env.allowRemoteModels = false;
    const prompt = [1, 5, 9, 4];
    const ours = await generate(dec, prompt, { maxNewTokens: 12, repetitionPenalty: 1.4, eosTokenIds: [12] });
    const tjs = await AutoModelForCausalLM.from_pretrained('gpt2-tiny', { dtype: 'fp32' });
    const out = (await tjs.generate({
      input_ids: new Tensor('int64', BigInt64Array.from(prompt, BigInt), [1, prompt.length]),
      max_new_tokens: 12,
      do_sample: false,
    })) as Tensor;
    expect((out.tolist() as bigint[][])[0].slice(prompt.length).map(Number)).toEqual(ours.tokens);
    expect(ours.tokens.length).toBeGreaterThan(2);
    await tjs.dispose();
    dec.dispose();
    model.dispose();
  });
});
