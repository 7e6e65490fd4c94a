// GPT-2 config parsing: openai-community/gpt2's config.json, defaults, rejected variants, and the Hub's
// tensor names (GPT2Model-saved checkpoints mapped onto GPT2LMHeadModel's).

import { describe, expect, it } from 'vitest';
import { UnsupportedArchitecture } from '../errors.ts';
import { canonicalGpt2Name, gpt2TensorNames, isGpt2Config, parseGpt2Config } from './gpt2-config.ts';

const GPT2 = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  bos_token_id: 50256,
  eos_token_id: 50256,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_layer: 12,
  n_positions: 1024,
  vocab_size: 50257,
};

describe('GPT-2 config', () => {
  it('parses gpt2 (124M)', () => {
    const s = parseGpt2Config(GPT2);
    expect(s).toMatchObject({
      hiddenSize: 768,
      intermediateSize: 3072,
      headDim: 64,
      numLayers: 12,
      eosTokenIds: [50256],
    });
    const count = gpt2TensorNames(s).reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
    expect(count).toBe(124_439_808); // GPT2LMHeadModel.num_parameters() (tied head counted once)
  });
  it('rejects what the engine does not implement, naming the field', () => {
    expect(() => parseGpt2Config({ ...GPT2, activation_function: 'relu' })).toThrow(UnsupportedArchitecture);
    expect(() => parseGpt2Config({ ...GPT2, scale_attn_by_inverse_layer_idx: true })).toThrow(/scale_attn/);
    expect(() => parseGpt2Config({ ...GPT2, n_head: 7 })).toThrow(/n_head/);
    expect(isGpt2Config({ model_type: 'llama' })).toBe(false);
  });
  it('maps GPT2Model checkpoint names and drops the mask buffers', () => {
    expect(canonicalGpt2Name('h.0.attn.c_attn.weight')).toBe('transformer.h.0.attn.c_attn.weight');
    expect(canonicalGpt2Name('h.0.attn.bias')).toBeNull();
    expect(canonicalGpt2Name('h.0.attn.c_attn.bias')).toBe('transformer.h.0.attn.c_attn.bias');
    expect(canonicalGpt2Name('transformer.wte.weight')).toBe('transformer.wte.weight');
  });
});
