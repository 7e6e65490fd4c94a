// The engine's generation and export requests: a model given whole (config.json, f32 weights by Hub
// name, optionally a LoRA adapter), run on the engine's device. Generation streams each token as a
// 'token' event; export returns the files of a Hub-layout folder (merged safetensors, or ONNX for
// transformers.js), with progress events. Plain data in and out, so it crosses the worker boundary.

import type { Gpu } from '../gpu/gpu.ts';
import { exportHubModel, type ExportFile } from '../export/hub-model.ts';
import { exportOnnx } from '../export/onnx.ts';
import { exportGpt2Onnx } from '../export/onnx-gpt2.ts';
import { parseModelConfig } from '../model/config.ts';
import { generate, parseGenerationConfig, type GenerationOptions, type TokenDecoder } from '../model/generate.ts';
import { isGpt2Config, parseGpt2Config } from '../model/gpt2-config.ts';
import { Gpt2Decoder } from '../model/gpt2-decode.ts';
import { Gpt2Gpu } from '../model/gpt2-gpu.ts';
import { LlamaDecoder } from '../model/llama-decode.ts';
import { LlamaGpu } from '../model/llama-gpu.ts';
import type { LoraConfig } from '../model/lora.ts';
import type { EventSink } from './protocol.ts';

export type { ExportFile };

export interface ModelGiven {
  /** config.json as an object. */
  config: Record<string, unknown>;
  generationConfig?: Record<string, unknown>;
  weights: Record<string, Float32Array>;
  /** An adapter by module path (A [r, in], B [out, r]) with its config. */
  lora?: { config: LoraConfig; adapters: Record<string, { a: Float32Array; b: Float32Array }> };
}

export interface GenerateRequest extends ModelGiven {
  prompt: number[];
  /** Overrides of generation_config.json's options. */
  options?: Partial<GenerationOptions>;
  /** Fold the adapter into the weights first (serving speed; same tokens within rounding). */
  merged?: boolean;
  maxLength?: number;
}

export interface GenerateResult {
  tokens: number[];
  finishReason: 'eos' | 'stop' | 'length' | 'aborted';
  msPerToken: number;
}

export interface ExportRequest extends ModelGiven {
  format: 'safetensors' | 'onnx';
  tokenizerFiles?: Record<string, Uint8Array | string>;
}

type Loaded = { model: LlamaGpu | Gpt2Gpu; decoder: (maxLength: number) => TokenDecoder; eos: number[] };

function load(gpu: Gpu, m: ModelGiven): Loaded {
  const options = m.lora
    ? { mode: 'lora' as const, lora: { ...m.lora.config, dropout: 0 }, seed: 0 }
    : { mode: 'full' as const, seed: 0 };
  if (isGpt2Config(m.config)) {
    const spec = parseGpt2Config(m.config);
    const model = Gpt2Gpu.create(gpu, spec, m.weights, options, m.lora?.adapters ?? null);
    return { model, decoder: (n) => new Gpt2Decoder(model, n), eos: spec.eosTokenIds };
  }
  const spec = parseModelConfig(m.config);
  const model = LlamaGpu.create(gpu, spec, m.weights, options, m.lora?.adapters ?? null);
  return { model, decoder: (n) => new LlamaDecoder(model, n), eos: spec.eosTokenIds };
}

export async function runGenerate(gpu: Gpu, r: GenerateRequest, onEvent?: EventSink): Promise<GenerateResult> {
  const { model, decoder, eos } = load(gpu, r);
  const dec = decoder(r.maxLength ?? 1024);
  try {
    if (r.merged) await model.setMerged(true);
    const options = { ...parseGenerationConfig(r.generationConfig ?? {}, eos), ...r.options };
    let t0 = 0;
    const out = await generate(dec, r.prompt, options, (token, index) => {
      if (index === 0) t0 = performance.now();
      onEvent?.({ type: 'token', index, token });
    });
    const n = out.tokens.length;
    return { ...out, msPerToken: n > 1 ? (performance.now() - t0) / (n - 1) : 0 };
  } finally {
    if ('dispose' in dec && typeof dec.dispose === 'function') (dec as { dispose(): void }).dispose();
    model.dispose();
  }
}

export async function runExport(gpu: Gpu, r: ExportRequest, onEvent?: EventSink): Promise<ExportFile[]> {
  const { model } = load(gpu, r);
  try {
    const weights = await model.mergedWeights();
    const onProgress = (done: number, total: number, what: string) =>
      onEvent?.({ type: 'progress', task: `export ${r.format}: ${what}`, done, total, unit: 'steps' });
    const o = { config: r.config, generationConfig: r.generationConfig, tokenizerFiles: r.tokenizerFiles, onProgress };
    if (model instanceof Gpt2Gpu) {
      return r.format === 'onnx' ? exportGpt2Onnx(model.spec, weights, o) : exportHubModel(model.spec, weights, o);
    }
    return r.format === 'onnx' ? exportOnnx(model.spec, weights, o) : exportHubModel(model.spec, weights, o);
  } finally {
    model.dispose();
  }
}
