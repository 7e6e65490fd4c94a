// Hugging Face GPT-2 config.json (GPT2LMHeadModel) → Gpt2Spec, and the Hub's tensor names and shapes.
// GPT-2 differs from the Llama family in every block: LayerNorm with bias, learned positions (wpe),
// gelu_new, fused q/k/v in c_attn, and Conv1D weights stored [in, out]. Anything the engine does not
// implement (other activations, the attention-scaling variants) fails here with UnsupportedArchitecture.

import { UnsupportedArchitecture } from '../errors.ts';
import type { ExpectedTensor } from './config.ts';

export interface Gpt2Spec {
  architecture: 'GPT2LMHeadModel';
  modelType: 'gpt2';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  headDim: number;
  maxPositionEmbeddings: number;
  layerNormEps: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

type Json = Record<string, unknown>;

function bad(field: string, value: unknown, why: string): UnsupportedArchitecture {
  const shown = typeof value === 'string' ? value : (JSON.stringify(value) ?? 'missing');
  return new UnsupportedArchitecture(`${why} (${field} = ${shown})`, field, shown);
}

function int(cfg: Json, key: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw bad(key, cfg[key], `"${key}" must be a positive whole number`);
  }
  return v;
}

export function isGpt2Config(config: unknown): boolean {
  if (typeof config !== 'object' || config === null) return false;
  const c = config as Json;
  return c.model_type === 'gpt2' || (Array.isArray(c.architectures) && c.architectures.includes('GPT2LMHeadModel'));
}

/** Parses a GPT-2 config.json (defaults from transformers' GPT2Config). */
export function parseGpt2Config(config: unknown): Gpt2Spec {
  if (!isGpt2Config(config)) throw bad('model_type', (config as Json | null)?.model_type, 'Not a GPT-2 config');
  const cfg = config as Json;
  const act = cfg.activation_function ?? 'gelu_new';
  if (act !== 'gelu_new') throw bad('activation_function', act, 'Only gelu_new is supported for GPT-2');
  for (const [k, ok] of [
    ['scale_attn_by_inverse_layer_idx', false],
    ['reorder_and_upcast_attn', false],
    ['scale_attn_weights', true],
  ] as const) {
    if (k in cfg && cfg[k] !== ok) throw bad(k, cfg[k], `GPT-2 with ${k} = ${String(cfg[k])} is not supported`);
  }
  if (cfg.add_cross_attention === true) throw bad('add_cross_attention', true, 'Cross-attention is not supported');
  const d = int(cfg, 'n_embd', 768);
  const heads = int(cfg, 'n_head', 12);
  if (d % heads !== 0) throw bad('n_head', heads, `n_embd (${d}) is not divisible by n_head`);
  const eps = cfg.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) throw bad('layer_norm_epsilon', eps, 'must be a positive number');
  const eos = cfg.eos_token_id ?? 50256;
  return {
    architecture: 'GPT2LMHeadModel',
    modelType: 'gpt2',
    vocabSize: int(cfg, 'vocab_size', 50257),
    hiddenSize: d,
    intermediateSize: cfg.n_inner === null || cfg.n_inner === undefined ? 4 * d : int(cfg, 'n_inner'),
    numLayers: int(cfg, 'n_layer', 12),
    numHeads: heads,
    headDim: d / heads,
    maxPositionEmbeddings: int(cfg, 'n_positions', 1024),
    layerNormEps: eps,
    bosTokenId: typeof cfg.bos_token_id === 'number' ? cfg.bos_token_id : 50256,
    eosTokenIds: Array.isArray(eos) ? (eos as number[]) : [eos as number],
  };
}

/** GPT2LMHeadModel's state_dict names (lm_head.weight is tied to transformer.wte.weight and not stored). */
export function gpt2TensorNames(s: Gpt2Spec): ExpectedTensor[] {
  const d = s.hiddenSize;
  const m = s.intermediateSize;
  const out: ExpectedTensor[] = [
    { name: 'transformer.wte.weight', shape: [s.vocabSize, d] },
    { name: 'transformer.wpe.weight', shape: [s.maxPositionEmbeddings, d] },
  ];
  for (let l = 0; l < s.numLayers; l++) {
    const p = `transformer.h.${l}`;
    out.push(
      { name: `${p}.ln_1.weight`, shape: [d] },
      { name: `${p}.ln_1.bias`, shape: [d] },
      { name: `${p}.attn.c_attn.weight`, shape: [d, 3 * d] },
      { name: `${p}.attn.c_attn.bias`, shape: [3 * d] },
      { name: `${p}.attn.c_proj.weight`, shape: [d, d] },
      { name: `${p}.attn.c_proj.bias`, shape: [d] },
      { name: `${p}.ln_2.weight`, shape: [d] },
      { name: `${p}.ln_2.bias`, shape: [d] },
      { name: `${p}.mlp.c_fc.weight`, shape: [d, m] },
      { name: `${p}.mlp.c_fc.bias`, shape: [m] },
      { name: `${p}.mlp.c_proj.weight`, shape: [m, d] },
      { name: `${p}.mlp.c_proj.bias`, shape: [d] },
    );
  }
  out.push({ name: 'transformer.ln_f.weight', shape: [d] }, { name: 'transformer.ln_f.bias', shape: [d] });
  return out;
}

/**
 * Hub GPT-2 checkpoints (openai-community/gpt2) were saved from GPT2Model: names without "transformer."
 * and with the causal-mask buffers attn.bias / attn.masked_bias. Maps them onto GPT2LMHeadModel's names.
 */
export function canonicalGpt2Name(name: string): string | null {
  if (/\.attn\.(masked_)?bias$/.test(name)) return null;
  if (name === 'lm_head.weight') return null;
  return name.startsWith('transformer.') ? name : `transformer.${name}`;
}

/** [out, in] of a Conv1D module ('attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'). */
export function gpt2ModuleShape(s: Gpt2Spec, module: string): [number, number] {
  const d = s.hiddenSize;
  const m = s.intermediateSize;
  const shapes: Record<string, [number, number]> = {
    'attn.c_attn': [3 * d, d],
    'attn.c_proj': [d, d],
    'mlp.c_fc': [m, d],
    'mlp.c_proj': [d, m],
  };
  const r = shapes[module];
  if (!r) throw new Error(`unknown GPT-2 module ${module}`);
  return r;
}

export const GPT2_MODULES = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;
