// The engine's generation and export requests: a model given whole (config.json, f32 weights by Hub
// name, optionally a LoRA adapter), run on the engine's device. Generation streams each token as a
// 'token' event; export returns the files of a Hub-layout folder (merged safetensors, or ONNX for
// transformers.js), with progress events. Plain data in and out, so it crosses the worker boundary.

import type { Gpu } from '../gpu/gpu.ts';
import type { Tensor } from '../gpu/tensor.ts';
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

/**
 * Generates; an aborted `signal` stops it between tokens (no token is streamed after the abort) and it
 * throws the signal's reason once the model and cache are freed.
 */
export async function runGenerate(
  gpu: Gpu,
  r: GenerateRequest,
  onEvent?: EventSink,
  signal?: AbortSignal,
): Promise<GenerateResult> {
  signal?.throwIfAborted();
  const { model, decoder, eos } = load(gpu, r);
  const dec = decoder(r.maxLength ?? 1024);
  try {
    if (r.merged) await model.setMerged(true);
    const options = { ...parseGenerationConfig(r.generationConfig ?? {}, eos), ...r.options };
    let t0 = 0;
    const out = await generate(dec, r.prompt, options, (token, index) => {
      if (signal?.aborted) return false;
      if (index === 0) t0 = performance.now();
      onEvent?.({ type: 'token', index, token });
    });
    signal?.throwIfAborted();
    const n = out.tokens.length;
    return { ...out, msPerToken: n > 1 ? (performance.now() - t0) / (n - 1) : 0 };
  } finally {
    if ('dispose' in dec && typeof dec.dispose === 'function') (dec as { dispose(): void }).dispose();
    model.dispose();
  }
}

/**
 * Exports; an aborted `signal` stops it between tensors: the merged weights' remaining read-backs are
 * skipped (see skipReadsOnceAborted), the model is freed, and the signal's reason is thrown.
 */
export async function runExport(
  gpu: Gpu,
  r: ExportRequest,
  onEvent?: EventSink,
  signal?: AbortSignal,
): Promise<ExportFile[]> {
  signal?.throwIfAborted();
  const { model } = load(signal ? skipReadsOnceAborted(gpu, signal) : gpu, r);
  try {
    const weights = await model.mergedWeights();
    signal?.throwIfAborted();
    const onProgress = (done: number, total: number, what: string) => {
      signal?.throwIfAborted();
      onEvent?.({ type: 'progress', task: `export ${r.format}: ${what}`, done, total, unit: 'steps' });
    };
    const o = { config: r.config, generationConfig: r.generationConfig, tokenizerFiles: r.tokenizerFiles, onProgress };
    if (model instanceof Gpt2Gpu) {
      return r.format === 'onnx' ? exportGpt2Onnx(model.spec, weights, o) : exportHubModel(model.spec, weights, o);
    }
    return r.format === 'onnx' ? exportOnnx(model.spec, weights, o) : exportHubModel(model.spec, weights, o);
  } finally {
    model.dispose();
  }
}

/**
 * The device as an export's model sees it, except that once `signal` is aborted a tensor read-back
 * returns an empty array at once. mergedWeights() then runs to its end without copying the remaining
 * tensors off the GPU and releases its temporaries as usual (throwing from inside it would leak them);
 * the caller checks the signal right after and throws. Every other member is the device's own.
 */
function skipReadsOnceAborted(gpu: Gpu, signal: AbortSignal): Gpu {
  return new Proxy(gpu, {
    get(target, prop) {
      if (prop === 'readF32') {
        return (t: Tensor) => (signal.aborted ? Promise.resolve(new Float32Array(0)) : target.readF32(t));
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
