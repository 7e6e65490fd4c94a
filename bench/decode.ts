// Decoding benchmark: greedy tokens/s after a prompt, one JSON line per figure.
//   engine-kv      lorabook's KV-cache decoder on Dawn (LoRA merged: the serving path)
//   engine-full    the same engine recomputing the whole prefix per token (what the cache saves)
//   ort-node-cpu   the model's ONNX export on onnxruntime-node, CPU EP, past_key_values fed back
//   ort-web-wasm   the same export on onnxruntime-web's wasm backend (single thread) in Node
// Each line: { bench: 'decode', model, runtime, prompt, new_tokens, ms_per_token, tokens_per_s,
// ratio_engine_over_runtime, adapter }. Random weights: speed only. Run:
//   bash scripts/with-gpu-env.sh node --import tsx bench/decode.ts [--quick] [--only=engine-kv,ort-node-cpu]
// (bench/run.ts can import runDecodeBench() and print its records.)

import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { acquireDawn } from '../companion/dawn.ts';
import { adapterName } from '../src/gpu/capabilities.ts';
import type { Gpu } from '../src/gpu/gpu.ts';
import { llamaOnnx, pastName, presentName } from '../src/export/onnx.ts';
import { expectedTensorNames, parseModelConfig, type ModelSpec } from '../src/model/config.ts';
import { argmax } from '../src/model/generate.ts';
import { FullPrefixDecoder, LlamaDecoder } from '../src/model/llama-decode.ts';
import { LlamaGpu } from '../src/model/llama-gpu.ts';
import { DEFAULT_LORA } from '../src/model/lora.ts';
import { randomArray } from '../src/reference/compare.ts';
import type { TokenDecoder } from '../src/model/generate.ts';

const LLAMA = { architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', rms_norm_eps: 1e-5 };

export const DECODE_CASES: { name: string; config: Record<string, unknown> }[] = [
  {
    name: 'tiny (built-in shape)',
    config: {
      ...LLAMA,
      vocab_size: 1024,
      hidden_size: 128,
      intermediate_size: 352,
      num_hidden_layers: 4,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 512,
      tie_word_embeddings: true,
    },
  },
  {
    name: 'SmolLM2-135M shape, 4 of 30 layers',
    config: {
      ...LLAMA,
      vocab_size: 49152,
      hidden_size: 576,
      intermediate_size: 1536,
      num_hidden_layers: 4,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      max_position_embeddings: 2048,
      rope_theta: 100000,
      tie_word_embeddings: true,
    },
  },
];

function weightsFor(spec: ModelSpec): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  let seed = 1;
  for (const t of expectedTensorNames(spec)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const norm = t.name.endsWith('norm.weight');
    out[t.name] = Float32Array.from(randomArray(n, seed++), (x) => (norm ? 1 : 0.1 * x));
  }
  return out;
}

/** ms per new token of greedy decoding after `prompt` (prompt time excluded). */
async function timeDecoder(dec: TokenDecoder, prompt: number[], newTokens: number): Promise<number> {
  dec.reset();
  let logits = await dec.append(prompt);
  const t0 = performance.now();
  for (let i = 0; i < newTokens; i++) logits = await dec.append([argmax(logits)]);
  return (performance.now() - t0) / newTokens;
}

type Ort = typeof ortNode | typeof ortWeb;

/** An ONNX session behind the TokenDecoder contract (batch 1, past fed back). */
async function ortDecoder(ort: Ort, bytes: Uint8Array, spec: ModelSpec, options: object): Promise<TokenDecoder> {
  const session = await (ort.InferenceSession as typeof ortNode.InferenceSession).create(bytes, options);
  let past: Record<string, ortNode.Tensor> = {};
  let seen = 0;
  const i64 = (xs: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs, BigInt), [1, xs.length]);
  const reset = () => {
    seen = 0;
    past = {};
    for (let l = 0; l < spec.numLayers; l++) {
      for (const kv of ['key', 'value'] as const) {
        past[pastName(l, kv)] = new ort.Tensor('float32', new Float32Array(0), [1, spec.numKvHeads, 0, spec.headDim]);
      }
    }
  };
  reset();
  return {
    vocabSize: spec.vocabSize,
    maxLength: 512,
    reset,
    async append(ids) {
      const total = seen + ids.length;
      const r = await session.run({
        input_ids: i64([...ids]),
        attention_mask: i64(new Array<number>(total).fill(1)),
        position_ids: i64(ids.map((_, i) => seen + i)),
        ...past,
      });
      for (let l = 0; l < spec.numLayers; l++) {
        for (const kv of ['key', 'value'] as const) past[pastName(l, kv)] = r[presentName(l, kv)];
      }
      seen = total;
      return (r.logits.data as Float32Array).slice((ids.length - 1) * spec.vocabSize);
    },
  };
}

export interface DecodeRecord {
  bench: 'decode';
  model: string;
  runtime: string;
  prompt: number;
  new_tokens: number;
  ms_per_token: number;
  tokens_per_s: number;
  ratio_engine_over_runtime: number;
  adapter: string;
}

export async function runDecodeBench(gpu: Gpu, quick = false, only: string[] | null = null): Promise<DecodeRecord[]> {
  const records: DecodeRecord[] = [];
  const prompt = Array.from({ length: 16 }, (_, i) => (i * 7 + 3) % 1000);
  const newTokens = quick ? 8 : 32;
  for (const c of quick ? DECODE_CASES.slice(0, 1) : DECODE_CASES) {
    const spec = parseModelConfig(c.config);
    const weights = weightsFor(spec);
    const lora = { ...DEFAULT_LORA, r: 8, alpha: 16, dropout: 0, targetModules: 'all-linear' };
    const model = LlamaGpu.create(gpu, spec, weights, { mode: 'lora', lora, seed: 1 });
    await model.setMerged(true);
    const onnx = llamaOnnx(spec, await model.mergedWeights(), { maxPositions: 512 });
    const kv = new LlamaDecoder(model, 512);
    const runs: [string, TokenDecoder, string][] = [
      ['engine-kv', kv, adapterName(gpu.caps)],
      ['engine-full', new FullPrefixDecoder(model, 512), adapterName(gpu.caps)],
      ['ort-node-cpu', await ortDecoder(ortNode, onnx, spec, { executionProviders: ['cpu'] }), 'CPU EP'],
    ];
    ortWeb.env.wasm.numThreads = 1;
    runs.push([
      'ort-web-wasm',
      await ortDecoder(ortWeb, onnx, spec, { executionProviders: ['wasm'] }),
      'wasm, 1 thread',
    ]);
    let engineMs = 0;
    for (const [runtime, dec, adapter] of runs) {
      if (only && !only.includes(runtime)) continue;
      await timeDecoder(dec, prompt, 2); // warm-up: pipelines, sessions
      const ms = await timeDecoder(dec, prompt, newTokens);
      if (runtime === 'engine-kv') engineMs = ms;
      records.push({
        bench: 'decode',
        model: c.name,
        runtime,
        prompt: prompt.length,
        new_tokens: newTokens,
        ms_per_token: Number(ms.toFixed(3)),
        tokens_per_s: Number((1000 / ms).toFixed(1)),
        ratio_engine_over_runtime: Number((ms / engineMs).toFixed(3)),
        adapter,
      });
      console.log(JSON.stringify(records.at(-1)));
    }
    kv.dispose();
    model.dispose();
  }
  return records;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const gpu = await acquireDawn();
  try {
    const only =
      process.argv
        .find((a) => a.startsWith('--only='))
        ?.slice(7)
        .split(',') ?? null;
    await runDecodeBench(gpu, process.argv.includes('--quick'), only);
  } finally {
    gpu.destroy();
  }
}
