// Hugging Face config.json → ModelSpec for the Llama family (Llama 2/3, SmolLM/SmolLM2, TinyLlama, Qwen2/2.5,
// Qwen3, Mistral). Why one typed spec: every later layer (planner, loader, kernels, exporter) reads these
// numbers, so they are checked once here, defaults follow the transformers config classes, and anything the
// engine does not implement fails now with an UnsupportedArchitecture naming the field and value, instead
// of producing silently wrong logits later. RoPE frequencies and tensor names live in their own files.

import { UnsupportedArchitecture } from '../errors.ts';

export { inverseFrequencies } from './rope-frequencies.ts';
export { expectedTensorNames, parameterCount, type ExpectedTensor } from './tensor-names.ts';

export type ModelFamily = 'llama' | 'qwen2' | 'qwen3' | 'mistral';

/** The transformers class each supported model_type loads as. */
export const ARCHITECTURES: Readonly<Record<ModelFamily, string>> = {
  llama: 'LlamaForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  mistral: 'MistralForCausalLM',
};

export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

export type TorchDtype = 'float32' | 'float16' | 'bfloat16';

export interface ModelSpec {
  architecture: string;
  modelType: ModelFamily;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2 always; Llama and Qwen3 when attention_bias). */
  qkvBias: boolean;
  /** o_proj carries a bias (Llama and Qwen3 when attention_bias; never Qwen2 or Mistral). */
  oBias: boolean;
  /** gate/up/down projections carry a bias (Llama's mlp_bias). */
  mlpBias: boolean;
  /** Qwen3: RMSNorm over head_dim on q and k (weights [head_dim]) before RoPE. */
  qkNorm: boolean;
  hiddenAct: 'silu';
  /** Tokens a query may look back (HF mask: q − k < window); null when attention is full. */
  slidingWindow: number | null;
  torchDtype: TorchDtype | null;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

type Json = Record<string, unknown>;

const SUPPORTED = 'lorabook supports Llama (Llama 2/3, SmolLM2, TinyLlama), Qwen2/2.5, Qwen3 and Mistral models';

const KNOWN_LATER: Record<string, string> = {
  gpt2: 'GPT-2 is not supported yet (it is planned)',
};

function unsupported(field: string, value: unknown, why: string): UnsupportedArchitecture {
  const shown = typeof value === 'string' ? value : JSON.stringify(value);
  return new UnsupportedArchitecture(`${why} (${field} = ${shown ?? 'missing'})`, field, shown ?? 'missing');
}

const present = (v: unknown): boolean => v !== undefined && v !== null;

function posInt(cfg: Json, key: string, fallback?: number, label = key): number {
  const v = cfg[key];
  if (!present(v)) {
    if (fallback !== undefined) return fallback;
    throw unsupported(label, v, `config.json lacks the required field "${label}"`);
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw unsupported(label, v, `"${label}" must be a positive whole number`);
  }
  return v;
}

function posNum(cfg: Json, key: string, fallback: number | undefined, label = key): number {
  const v = cfg[key];
  if (!present(v)) {
    if (fallback !== undefined) return fallback;
    throw unsupported(label, v, `config.json lacks the required field "${label}"`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw unsupported(label, v, `"${label}" must be a positive number`);
  }
  return v;
}

function bool(cfg: Json, key: string, fallback: boolean): boolean {
  const v = cfg[key];
  if (!present(v)) return fallback;
  if (typeof v !== 'boolean') throw unsupported(key, v, `"${key}" must be true or false`);
  return v;
}

function family(cfg: Json): ModelFamily {
  const modelType = cfg.model_type;
  if (present(modelType)) {
    // transformers' AutoModelForCausalLM picks the class from model_type; architectures is informative.
    if (typeof modelType === 'string' && modelType in ARCHITECTURES) return modelType as ModelFamily;
    const later = typeof modelType === 'string' ? KNOWN_LATER[modelType] : undefined;
    throw unsupported('model_type', modelType, `${later ?? 'This model type is not supported'}; ${SUPPORTED}`);
  }
  const archs = cfg.architectures;
  if (Array.isArray(archs) && archs.length > 0) {
    for (const [fam, cls] of Object.entries(ARCHITECTURES)) if (archs.includes(cls)) return fam as ModelFamily;
    const first = archs[0];
    const later = typeof first === 'string' && first.startsWith('GPT2') ? `${KNOWN_LATER.gpt2}; ` : '';
    throw unsupported('architectures', first, `${later}This architecture is not supported; ${SUPPORTED}`);
  }
  throw unsupported('model_type', modelType, `config.json names neither model_type nor architectures; ${SUPPORTED}`);
}

function ropeScaling(raw: unknown, where: string): RopeScaling {
  if (!present(raw)) return { type: 'default' };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw unsupported(where, raw, `"${where}" must be an object`);
  const rs = raw as Json;
  // Newer configs say rope_type, older ones type (transformers reads rope_type first).
  const key = present(rs.rope_type) ? 'rope_type' : 'type';
  const type = rs[key] ?? 'default';
  const field = `${where}.${key}`;
  if (type === 'default') return { type: 'default' };
  if (type === 'linear') {
    const factor = posNum(rs, 'factor', undefined, `${where}.factor`);
    if (factor < 1) throw unsupported(`${where}.factor`, factor, 'Linear RoPE scaling needs factor >= 1');
    return { type: 'linear', factor };
  }
  if (type === 'llama3') {
    const s: RopeScaling = {
      type: 'llama3',
      factor: posNum(rs, 'factor', undefined, `${where}.factor`),
      lowFreqFactor: posNum(rs, 'low_freq_factor', undefined, `${where}.low_freq_factor`),
      highFreqFactor: posNum(rs, 'high_freq_factor', undefined, `${where}.high_freq_factor`),
      originalMaxPositionEmbeddings: posInt(
        rs,
        'original_max_position_embeddings',
        undefined,
        `${where}.original_max_position_embeddings`,
      ),
    };
    if (s.highFreqFactor <= s.lowFreqFactor) {
      throw unsupported(
        `${where}.high_freq_factor`,
        s.highFreqFactor,
        'Llama 3 RoPE scaling needs high_freq_factor greater than low_freq_factor',
      );
    }
    return s;
  }
  throw unsupported(
    field,
    type,
    'This RoPE scaling type is not supported; lorabook implements default, linear and llama3',
  );
}

function slidingWindow(cfg: Json, fam: ModelFamily, numLayers: number): number | null {
  if (fam === 'llama') return null;
  if (fam === 'mistral') {
    // MistralConfig defaults sliding_window to 4096; v0.2+ configs write null for full attention.
    if (!('sliding_window' in cfg)) return 4096;
    return cfg.sliding_window === null ? null : posInt(cfg, 'sliding_window');
  }
  // Qwen2/Qwen3: sliding only with use_sliding_window, and only on layers >= max_window_layers
  // (or where layer_types says so).
  if (!bool(cfg, 'use_sliding_window', false)) return null;
  const window = posInt(cfg, 'sliding_window', 4096);
  const types = cfg.layer_types;
  if (Array.isArray(types)) return types.includes('sliding_attention') ? window : null;
  const full = cfg.max_window_layers;
  const fullLayers = typeof full === 'number' ? full : 28;
  return fullLayers >= numLayers ? null : window;
}

function tokenIds(v: unknown, field: string): number[] {
  if (!present(v)) return [];
  const list = Array.isArray(v) ? v : [v];
  for (const id of list) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      throw unsupported(field, v, `"${field}" must be a token id or a list of token ids`);
    }
  }
  return list as number[];
}

function dtype(cfg: Json): TorchDtype | null {
  // transformers v5 writes "dtype"; earlier versions "torch_dtype".
  const key = present(cfg.dtype) ? 'dtype' : 'torch_dtype';
  const v = cfg[key];
  if (!present(v)) return null;
  if (v === 'float32' || v === 'float16' || v === 'bfloat16') return v;
  throw unsupported(key, v, 'Weights must be float32, float16 or bfloat16');
}

/** Parses a config.json object. Throws UnsupportedArchitecture naming the field for anything unsupported. */
export function parseModelConfig(config: unknown): ModelSpec {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw unsupported('config', config, 'config.json must hold a JSON object');
  }
  const cfg = config as Json;
  const fam = family(cfg);

  if (present(cfg.quantization_config)) {
    const q = cfg.quantization_config as Json;
    throw unsupported(
      'quantization_config',
      q.quant_method ?? q,
      'Pre-quantized checkpoints are not supported; pick the original float16/bfloat16/float32 model',
    );
  }
  const act = cfg.hidden_act ?? 'silu';
  if (act !== 'silu' && act !== 'swish') {
    throw unsupported('hidden_act', act, 'Only the SiLU (SwiGLU) MLP activation is supported');
  }
  if (cfg.rope_interleaved === true) {
    throw unsupported(
      'rope_interleaved',
      true,
      'Only the rotate_half RoPE layout (rope_interleaved false) is supported',
    );
  }
  if (cfg.use_mrope === true) throw unsupported('use_mrope', true, 'Multimodal RoPE (mrope) is not supported');
  if (present(cfg.partial_rotary_factor) && cfg.partial_rotary_factor !== 1) {
    throw unsupported('partial_rotary_factor', cfg.partial_rotary_factor, 'Only full-width RoPE is supported');
  }

  const hiddenSize = posInt(cfg, 'hidden_size');
  const numHeads = posInt(cfg, 'num_attention_heads');
  const numKvHeads = posInt(cfg, 'num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw unsupported(
      'num_key_value_heads',
      numKvHeads,
      `num_key_value_heads must divide num_attention_heads (${numHeads}) evenly`,
    );
  }
  let headDim: number;
  if (present(cfg.head_dim)) headDim = posInt(cfg, 'head_dim');
  else if (fam === 'qwen3')
    headDim = 128; // Qwen3Config's default, not hidden/heads
  else {
    if (hiddenSize % numHeads !== 0) {
      throw unsupported(
        'num_attention_heads',
        numHeads,
        `hidden_size (${hiddenSize}) is not divisible by num_attention_heads and no head_dim is given`,
      );
    }
    headDim = hiddenSize / numHeads;
  }
  if (headDim % 2 !== 0) throw unsupported('head_dim', headDim, 'RoPE needs an even head_dim');

  // transformers v5 moves rope_theta and the scaling into one rope_parameters object.
  const rp = cfg.rope_parameters;
  const fromParams = !present(cfg.rope_scaling) && typeof rp === 'object' && rp !== null && !Array.isArray(rp);
  const ropeTheta = fromParams
    ? posNum(rp as Json, 'rope_theta', posNum(cfg, 'rope_theta', 10000), 'rope_parameters.rope_theta')
    : posNum(cfg, 'rope_theta', 10000);
  const scaling = fromParams ? ropeScaling(rp, 'rope_parameters') : ropeScaling(cfg.rope_scaling, 'rope_scaling');

  const numLayers = posInt(cfg, 'num_hidden_layers');
  const attentionBias = bool(cfg, 'attention_bias', false);
  const llamaLike = fam === 'llama' || fam === 'mistral';
  return {
    architecture: ARCHITECTURES[fam],
    modelType: fam,
    vocabSize: posInt(cfg, 'vocab_size'),
    hiddenSize,
    intermediateSize: posInt(cfg, 'intermediate_size'),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: posNum(cfg, 'rms_norm_eps', 1e-6),
    ropeTheta,
    ropeScaling: scaling,
    maxPositionEmbeddings: posInt(
      cfg,
      'max_position_embeddings',
      { llama: 2048, qwen2: 32768, qwen3: 32768, mistral: 131072 }[fam],
    ),
    tieWordEmbeddings: bool(cfg, 'tie_word_embeddings', false),
    qkvBias: fam === 'qwen2' || (fam !== 'mistral' && attentionBias),
    oBias: (fam === 'llama' || fam === 'qwen3') && attentionBias,
    mlpBias: fam === 'llama' && bool(cfg, 'mlp_bias', false),
    qkNorm: fam === 'qwen3',
    hiddenAct: 'silu',
    slidingWindow: slidingWindow(cfg, fam, numLayers),
    torchDtype: dtype(cfg),
    bosTokenId: 'bos_token_id' in cfg ? (tokenIds(cfg.bos_token_id, 'bos_token_id')[0] ?? null) : llamaLike ? 1 : null,
    eosTokenIds: 'eos_token_id' in cfg ? tokenIds(cfg.eos_token_id, 'eos_token_id') : llamaLike ? [2] : [],
  };
}

/** Throws when a training sequence of seqLen tokens is more than the model can attend over. */
export function checkSequenceFits(spec: ModelSpec, seqLen: number): void {
  if (!Number.isSafeInteger(seqLen) || seqLen <= 0)
    throw new RangeError(`sequence length ${seqLen} is not a positive integer`);
  if (spec.slidingWindow !== null && seqLen > spec.slidingWindow) {
    throw new UnsupportedArchitecture(
      `This model attends over a sliding window of ${spec.slidingWindow} tokens, and lorabook trains with full ` +
        `attention only: use a sequence length of at most ${spec.slidingWindow} (asked for ${seqLen}).`,
      'sliding_window',
      String(spec.slidingWindow),
    );
  }
  if (seqLen > spec.maxPositionEmbeddings) {
    throw new UnsupportedArchitecture(
      `This model was trained on at most ${spec.maxPositionEmbeddings} positions: use a sequence length of at ` +
        `most ${spec.maxPositionEmbeddings} (asked for ${seqLen}).`,
      'max_position_embeddings',
      String(spec.maxPositionEmbeddings),
    );
  }
}
