// A tiny random Llama as a Hub repository, for the loader, cache and browser tests: config.json,
// generation_config.json, a word-level tokenizer.json with its tokenizer_config.json, and the weights as
// bf16 safetensors (one file, or two shards with model.safetensors.index.json). Hidden size 64 so the
// linear weights fill whole NF4 blocks of 64, and the MLP's 96 columns leave a partial one in a row.

import { expectedTensorNames, parseModelConfig, type ModelSpec } from '../model/config.ts';
import { roundToBf16 } from '../model/bf16.ts';
import { writeSafetensors, type TensorToWrite } from '../model/safetensors.ts';
import type { RepoFixture } from './hub-layout.ts';

export const TINY_CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 40,
  hidden_size: 64,
  intermediate_size: 96,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 128,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
};

const WORDS = ['<unk>', 'hello', 'world', 'lora', 'book'];

export const TINY_TOKENIZER = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [
    { id: 0, content: '<unk>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
  ],
  normalizer: null,
  pre_tokenizer: { type: 'Whitespace' },
  post_processor: null,
  decoder: null,
  model: { type: 'WordLevel', vocab: Object.fromEntries(WORDS.map((w, i) => [w, i])), unk_token: '<unk>' },
};

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

export interface TinyModel {
  spec: ModelSpec;
  /** The weights as the bf16 file holds them, widened to f32. */
  weights: Map<string, Float32Array>;
  files: Record<string, Uint8Array>;
}

/** Deterministic weights (an LCG), rounded to bf16 as the file stores them. */
export function tinyModel(seed = 1, sharded = false): TinyModel {
  const spec = parseModelConfig(TINY_CONFIG);
  const weights = new Map<string, Float32Array>();
  let s = seed >>> 0 || 1;
  for (const t of expectedTensorNames(spec)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const u = s / 2 ** 32 - 0.5;
      v[i] = t.name.endsWith('norm.weight') ? 1 + 0.1 * u : 0.2 * u;
    }
    weights.set(t.name, roundToBf16(v));
  }
  const tensors: TensorToWrite[] = [...weights].map(([name, data]) => ({
    name,
    dtype: 'BF16',
    shape: expectedTensorNames(spec).find((t) => t.name === name)!.shape,
    data,
  }));
  const files: Record<string, Uint8Array> = {
    'config.json': json(TINY_CONFIG),
    'generation_config.json': json({ bos_token_id: 1, eos_token_id: 2 }),
    'tokenizer.json': json(TINY_TOKENIZER),
    'tokenizer_config.json': json({ tokenizer_class: 'PreTrainedTokenizerFast', unk_token: '<unk>' }),
  };
  if (!sharded) files['model.safetensors'] = writeSafetensors(tensors, { format: 'pt' });
  else {
    const half = Math.ceil(tensors.length / 2);
    const shards = [tensors.slice(0, half), tensors.slice(half)];
    const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const weightMap: Record<string, string> = {};
    shards.forEach((sh, i) => {
      files[names[i]] = writeSafetensors(sh, { format: 'pt' });
      for (const t of sh) weightMap[t.name] = names[i];
    });
    files['model.safetensors.index.json'] = json({ metadata: { total_size: 0 }, weight_map: weightMap });
  }
  return { spec, weights, files };
}

export const COMMIT_A = 'a'.repeat(40);
export const COMMIT_B = 'b'.repeat(40);

export function tinyRepo(id: string, model: TinyModel, opts: { gated?: boolean; commit?: string } = {}): RepoFixture {
  const commit = opts.commit ?? COMMIT_A;
  return { id, refs: { main: commit, 'v1.0': commit }, files: model.files, gated: opts.gated };
}
