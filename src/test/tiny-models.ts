// Tiny model configs and deterministic random weights for tests: the same shapes the PyTorch fixture
// script uses, small enough for finite differences and float64 references.

import { expectedTensorNames, parseModelConfig, type ModelSpec } from '../model/config.ts';
import { randomArray } from '../reference/compare.ts';

const base = {
  vocab_size: 13,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  max_position_embeddings: 64,
  hidden_act: 'silu',
};

export const TINY_CONFIGS: Record<string, Record<string, unknown>> = {
  llama: { ...base, architectures: ['LlamaForCausalLM'], model_type: 'llama', tie_word_embeddings: false },
  'llama-tied': { ...base, architectures: ['LlamaForCausalLM'], model_type: 'llama', tie_word_embeddings: true },
  qwen2: { ...base, architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', tie_word_embeddings: true },
  qwen3: {
    ...base,
    architectures: ['Qwen3ForCausalLM'],
    model_type: 'qwen3',
    head_dim: 8,
    num_key_value_heads: 1,
    tie_word_embeddings: false,
  },
};

export function tinySpec(name: keyof typeof TINY_CONFIGS | string): ModelSpec {
  const cfg = TINY_CONFIGS[name];
  if (!cfg) throw new Error(`no tiny config ${name}`);
  return parseModelConfig(cfg);
}

/** Random weights by HF name: matrices ~U(−0.5, 0.5)·scale, norm weights around 1. */
export function randomWeights(spec: ModelSpec, seed: number): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  let s = seed;
  for (const t of expectedTensorNames(spec)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const r = randomArray(n, s++);
    const isNorm = t.name.endsWith('norm.weight');
    out[t.name] = Float64Array.from(r, (x) => (isNorm ? 1 + 0.2 * x : t.name.endsWith('.bias') ? 0.1 * x : 0.5 * x));
  }
  return out;
}

/** [out, in] of a decoder layer's linear module ('self_attn.q_proj', 'mlp.down_proj', ...). */
export function linearShape(spec: ModelSpec, module: string): [number, number] {
  const q = spec.numHeads * spec.headDim;
  const kv = spec.numKvHeads * spec.headDim;
  const shapes: Record<string, [number, number]> = {
    'self_attn.q_proj': [q, spec.hiddenSize],
    'self_attn.k_proj': [kv, spec.hiddenSize],
    'self_attn.v_proj': [kv, spec.hiddenSize],
    'self_attn.o_proj': [spec.hiddenSize, q],
    'mlp.gate_proj': [spec.intermediateSize, spec.hiddenSize],
    'mlp.up_proj': [spec.intermediateSize, spec.hiddenSize],
    'mlp.down_proj': [spec.hiddenSize, spec.intermediateSize],
  };
  const s = shapes[module];
  if (!s) throw new Error(`unknown module ${module}`);
  return s;
}
