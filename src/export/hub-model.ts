// A merged model in the Hub layout: config.json, generation_config.json, the tokenizer files as given,
// and model.safetensors with every tensor under its Hugging Face name (PEFT's merge_and_unload: the
// adapters folded into the base weights, no lora_ keys). Why this layout: transformers, llama.cpp's
// converters, transformers.js's exporters and lorabook's own loader all read it unchanged.
// Pure data in, bytes out: it runs the same in the browser worker and in Node.

import { expectedTensorNames, type ModelSpec } from '../model/config.ts';
import { gpt2TensorNames, type Gpt2Spec } from '../model/gpt2-config.ts';
import { writeSafetensors, type TensorToWrite } from '../model/safetensors.ts';

export interface ExportFile {
  /** Path inside the exported folder ('config.json', 'onnx/model.onnx', ...). */
  path: string;
  bytes: Uint8Array;
}

export type ExportProgress = (done: number, total: number, what: string) => void;

export interface HubExportOptions {
  /** The model's original config.json object (kept as is apart from the dtype). */
  config: Record<string, unknown>;
  generationConfig?: Record<string, unknown>;
  /** tokenizer.json, tokenizer_config.json, special_tokens_map.json, ... copied unchanged. */
  tokenizerFiles?: Record<string, Uint8Array | string>;
  dtype?: 'F32' | 'F16' | 'BF16';
  onProgress?: ExportProgress;
}

const TORCH_DTYPE = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' } as const;

const encoder = new TextEncoder();
export const jsonFile = (path: string, value: unknown): ExportFile => ({
  path,
  bytes: encoder.encode(`${JSON.stringify(value, null, 2)}\n`),
});

/** The generation_config.json to write: the given one, or the model config's token ids. */
export function generationConfigOf(
  spec: Pick<ModelSpec, 'bosTokenId' | 'eosTokenIds'>,
  given?: Record<string, unknown>,
): Record<string, unknown> {
  if (given) return given;
  const out: Record<string, unknown> = {};
  if (spec.bosTokenId !== null) out.bos_token_id = spec.bosTokenId;
  if (spec.eosTokenIds.length > 0)
    out.eos_token_id = spec.eosTokenIds.length === 1 ? spec.eosTokenIds[0] : spec.eosTokenIds;
  return out;
}

/**
 * Builds the exported folder from merged weights (HF name → values, e.g. LlamaGpu.mergedWeights()).
 * Every expected tensor must be present; tied embeddings write no lm_head.weight, as transformers does.
 */
export function exportHubModel(
  spec: ModelSpec | Gpt2Spec,
  weights: Record<string, ArrayLike<number>>,
  o: HubExportOptions,
): ExportFile[] {
  const dtype = o.dtype ?? 'F32';
  const expected = spec.modelType === 'gpt2' ? gpt2TensorNames(spec) : expectedTensorNames(spec);
  const tensors: TensorToWrite[] = expected.map((t, i) => {
    const data = weights[t.name];
    if (!data) throw new Error(`merged weights lack ${t.name}`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new RangeError(`${t.name}: ${data.length} values for [${t.shape.join(', ')}]`);
    o.onProgress?.(i, expected.length, t.name);
    return { name: t.name, dtype, shape: t.shape, data: Float32Array.from(data) };
  });
  const safetensors = writeSafetensors(tensors, { format: 'pt' });
  o.onProgress?.(expected.length, expected.length, 'model.safetensors');
  const config = { ...o.config };
  delete config.quantization_config;
  if ('dtype' in config) config.dtype = TORCH_DTYPE[dtype];
  else config.torch_dtype = TORCH_DTYPE[dtype];
  const files: ExportFile[] = [
    jsonFile('config.json', config),
    jsonFile('generation_config.json', generationConfigOf(spec, o.generationConfig)),
    { path: 'model.safetensors', bytes: safetensors },
  ];
  for (const [path, content] of Object.entries(o.tokenizerFiles ?? {})) {
    files.push({ path, bytes: typeof content === 'string' ? encoder.encode(content) : content });
  }
  return files;
}
