// The ONNX external data format (what models over the 2 GiB protobuf limit need), forced on a tiny model:
// onnx/model.onnx holds no weight bytes, onnx/model.onnx_data holds them; onnxruntime-node loading the
// folder gives the inline export's logits, and transformers.js (use_external_data_format) generates
// the same tokens as lorabook's generate() over that session.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AutoModelForCausalLM, env, Tensor } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { generate, type TokenDecoder } from '../model/generate.ts';
import { randomWeights, TINY_CONFIGS, tinySpec } from '../test/tiny-models.ts';
import { exportOnnx, pastName } from './onnx.ts';

const root = mkdtempSync(join(tmpdir(), 'lorabook-onnx-external-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('ONNX external data', () => {
  it('loads from the folder with the inline export’s logits and tokens', async () => {
    const spec = tinySpec('llama');
    const weights = randomWeights(spec, 12);
    const inline = exportOnnx(spec, weights, { config: TINY_CONFIGS.llama });
    const external = exportOnnx(spec, weights, { config: TINY_CONFIGS.llama, externalData: true });
    expect(external.map((f) => f.path)).toEqual([
      'config.json',
      'generation_config.json',
      'onnx/model.onnx',
      'onnx/model.onnx_data',
    ]);
    const graph = external[2].bytes.byteLength;
    // The weight bytes left the graph file.
    expect(graph).toBeLessThan(inline[2].bytes.byteLength - external[3].bytes.byteLength / 2);
    for (const f of external) {
      const p = join(root, 'ext', f.path);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, f.bytes);
    }
    const a = await ort.InferenceSession.create(inline[2].bytes);
    const b = await ort.InferenceSession.create(join(root, 'ext', 'onnx', 'model.onnx'));
    const i64 = (xs: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs, BigInt), [1, xs.length]);
    const ids = [1, 5, 9, 2];
    const decoderOf = (s: ort.InferenceSession): TokenDecoder => {
      let seq: number[] = [];
      return {
        vocabSize: spec.vocabSize,
        maxLength: 32,
        reset: () => void (seq = []),
        async append(t) {
          seq.push(...t);
          const feeds: Record<string, ort.Tensor> = {
            input_ids: i64(seq),
            attention_mask: i64(seq.map(() => 1)),
            position_ids: i64(seq.map((_, i) => i)),
          };
          for (let l = 0; l < spec.numLayers; l++) {
            for (const kv of ['key', 'value'] as const) {
              feeds[pastName(l, kv)] = new ort.Tensor('float32', new Float32Array(0), [
                1,
                spec.numKvHeads,
                0,
                spec.headDim,
              ]);
            }
          }
          return ((await s.run(feeds)).logits.data as Float32Array).slice((seq.length - 1) * spec.vocabSize);
        },
      };
    };
    const da = decoderOf(a);
    const db = decoderOf(b);
    expect(Array.from(await db.append(ids))).toEqual(Array.from(await da.append(ids)));
    const ours = await generate(db, ids, { maxNewTokens: 8, repetitionPenalty: 1.5, eosTokenIds: [2] });
    env.localModelPath = `${root}/`;
    env.allowRemoteModels = false;
    const tjs = await AutoModelForCausalLM.from_pretrained('ext', { dtype: 'fp32', use_external_data_format: true });
    const out = (await tjs.generate({
      input_ids: new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      max_new_tokens: 8,
      do_sample: false,
      repetition_penalty: 1.5,
    })) as Tensor;
    expect((out.tolist() as bigint[][])[0].slice(ids.length).map(Number)).toEqual(ours.tokens);
    await tjs.dispose();
    await a.release();
    await b.release();
  });
});
