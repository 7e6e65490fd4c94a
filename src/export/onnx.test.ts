// The ONNX export run by onnxruntime-node against the engine: logits of a prompt (empty past) and of
// the next tokens fed with the returned present.* as past_key_values, within 1e-4, on tiny Llama
// (GQA, untied), Qwen2 (biases, tied), Qwen3 (q/k norms) and Mistral (a sliding window), each with a
// LoRA adapter (B non-zero) merged in. Also: the file round-trips through the protobuf schema.

import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { parseModelConfig, type ModelSpec } from '../model/config.ts';
import { LlamaDecoder } from '../model/llama-decode.ts';
import { LlamaGpu } from '../model/llama-gpu.ts';
import { DEFAULT_LORA, type LoraConfig } from '../model/lora.ts';
import { randomArray } from '../reference/compare.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { randomWeights, TINY_CONFIGS } from '../test/tiny-models.ts';
import { exportOnnx, pastName, presentName } from './onnx.ts';
import { decodeModel } from './onnx-proto.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const lora: LoraConfig = { ...DEFAULT_LORA, r: 2, alpha: 4, dropout: 0, targetModules: 'all-linear' };

const CONFIGS: Record<string, Record<string, unknown>> = {
  llama: TINY_CONFIGS.llama,
  qwen2: TINY_CONFIGS.qwen2,
  qwen3: TINY_CONFIGS.qwen3,
  mistral: { ...TINY_CONFIGS.llama, model_type: 'mistral', architectures: ['MistralForCausalLM'], sliding_window: 4 },
};

const i64 = (xs: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs, BigInt), dims);

async function onnxSteps(bytes: Uint8Array, spec: ModelSpec, chunks: number[][]): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(bytes);
  let past: Record<string, ort.Tensor> = {};
  for (let l = 0; l < spec.numLayers; l++) {
    for (const kv of ['key', 'value'] as const) {
      past[pastName(l, kv)] = new ort.Tensor('float32', new Float32Array(0), [1, spec.numKvHeads, 0, spec.headDim]);
    }
  }
  const out: Float32Array[] = [];
  let seen = 0;
  for (const ids of chunks) {
    const total = seen + ids.length;
    const r = await session.run({
      input_ids: i64(ids, [1, ids.length]),
      attention_mask: i64(new Array<number>(total).fill(1), [1, total]),
      position_ids: i64(
        ids.map((_, i) => seen + i),
        [1, ids.length],
      ),
      ...past,
    });
    const logits = r.logits.data as Float32Array;
    out.push(logits.slice((ids.length - 1) * spec.vocabSize));
    past = {};
    for (let l = 0; l < spec.numLayers; l++) {
      for (const kv of ['key', 'value'] as const) past[pastName(l, kv)] = r[presentName(l, kv)];
    }
    seen = total;
  }
  await session.release();
  return out;
}

describe('ONNX export run by onnxruntime-node', () => {
  for (const [name, config] of Object.entries(CONFIGS)) {
    it(`${name}: prompt and cached next tokens within 1e-4 of the engine`, async () => {
      const spec = parseModelConfig(config);
      const model = LlamaGpu.create(gpu, spec, randomWeights(spec, 6), { mode: 'lora', lora, seed: 4 });
      let seed = 50;
      for (const lin of model.linears()) {
        const b = lin.lora!.b.value;
        gpu.write(
          b,
          Float32Array.from(randomArray(b.shape[0] * b.shape[1], seed++), (x) => 0.3 * x),
        );
      }
      const files = exportOnnx(spec, await model.mergedWeights(), { config });
      expect(files.map((f) => f.path)).toEqual(['config.json', 'generation_config.json', 'onnx/model.onnx']);
      const bytes = files[2].bytes;
      const chunks = [[1, 5, 9, 2, 7, 3], [12], [0], [6, 4]];
      const got = await onnxSteps(bytes, spec, chunks);
      const dec = new LlamaDecoder(model, 16);
      for (let i = 0; i < chunks.length; i++) {
        expectClose(got[i], await dec.append(chunks[i]), 1e-4, 1e-4, `${name} step ${i}`);
      }
      dec.dispose();
      const decoded = decodeModel(bytes);
      expect(decoded.graph.input.map((v) => v.name).slice(0, 4)).toEqual([
        'input_ids',
        'attention_mask',
        'position_ids',
        'past_key_values.0.key',
      ]);
      expect(decoded.graph.output[0].name).toBe('logits');
      model.dispose();
    });
  }
});
