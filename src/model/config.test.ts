// config.json parsing against configs written from the real model cards (src/model/fixtures/), parameter
// totals the model cards publish, hand-derived Llama 3 RoPE frequencies, and every unsupported case.

import { describe, expect, it } from 'vitest';
import { UnsupportedArchitecture } from '../errors.ts';
import {
  checkSequenceFits,
  expectedTensorNames,
  inverseFrequencies,
  parameterCount,
  parseModelConfig,
  type ModelSpec,
} from './config.ts';
import llama32 from './fixtures/llama-3.2-1b.json';
import mistral from './fixtures/mistral-7b-v0.1.json';
import qwen25 from './fixtures/qwen2.5-0.5b.json';
import qwen3 from './fixtures/qwen3-0.6b.json';
import smol from './fixtures/smollm2-135m.json';
import tinyllama from './fixtures/tinyllama-1.1b.json';

function shapes(spec: ModelSpec): Map<string, number[]> {
  return new Map(expectedTensorNames(spec).map((t) => [t.name, t.shape]));
}

function unsupported(fn: () => unknown): UnsupportedArchitecture {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UnsupportedArchitecture);
    return e as UnsupportedArchitecture;
  }
  throw new Error('expected UnsupportedArchitecture, nothing was thrown');
}

const tiny = {
  model_type: 'llama',
  vocab_size: 100,
  hidden_size: 16,
  intermediate_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
};

describe('real configs', () => {
  it('SmolLM2-135M: GQA 9/3, tied, 134.5M parameters', () => {
    const s = parseModelConfig(smol);
    expect(s).toMatchObject({
      architecture: 'LlamaForCausalLM',
      modelType: 'llama',
      vocabSize: 49152,
      hiddenSize: 576,
      intermediateSize: 1536,
      numLayers: 30,
      numHeads: 9,
      numKvHeads: 3,
      headDim: 64,
      rmsNormEps: 1e-5,
      ropeTheta: 100000,
      ropeScaling: { type: 'default' },
      maxPositionEmbeddings: 8192,
      tieWordEmbeddings: true,
      qkvBias: false,
      oBias: false,
      mlpBias: false,
      qkNorm: false,
      slidingWindow: null,
      torchDtype: 'bfloat16',
      bosTokenId: 0,
      eosTokenIds: [0],
    });
    const t = shapes(s);
    expect(t.size).toBe(1 + 30 * 9 + 1); // embed, 9 tensors per layer, final norm; no lm_head (tied)
    expect(t.get('model.layers.0.self_attn.q_proj.weight')).toEqual([576, 576]);
    expect(t.get('model.layers.29.self_attn.k_proj.weight')).toEqual([192, 576]);
    expect(t.get('model.layers.0.mlp.down_proj.weight')).toEqual([576, 1536]);
    expect(t.has('lm_head.weight')).toBe(false);
    expect(parameterCount(s)).toBe(134_515_008);
  });

  it('Qwen2.5-0.5B: q/k/v biases without o bias, tied, 0.49B parameters, sliding window off', () => {
    const s = parseModelConfig(qwen25);
    expect(s).toMatchObject({ modelType: 'qwen2', architecture: 'Qwen2ForCausalLM', headDim: 64, numKvHeads: 2 });
    expect(s).toMatchObject({ qkvBias: true, oBias: false, mlpBias: false, slidingWindow: null, ropeTheta: 1e6 });
    const t = shapes(s);
    expect(t.get('model.layers.3.self_attn.q_proj.bias')).toEqual([896]);
    expect(t.get('model.layers.3.self_attn.k_proj.bias')).toEqual([128]);
    expect(t.get('model.layers.3.self_attn.v_proj.bias')).toEqual([128]);
    expect(t.has('model.layers.3.self_attn.o_proj.bias')).toBe(false);
    // Model card: 0.49B parameters, 0.36B without embeddings.
    expect(parameterCount(s)).toBe(494_032_768);
    expect((parameterCount(s) - 151936 * 896) / 1e9).toBeCloseTo(0.36, 2);
    expect(() => checkSequenceFits(s, 32768)).not.toThrow();
  });

  it('Qwen3-0.6B: head_dim 128 ≠ hidden/heads, q/k norms, 0.44B non-embedding parameters', () => {
    const s = parseModelConfig(qwen3);
    expect(s).toMatchObject({ modelType: 'qwen3', headDim: 128, numHeads: 16, numKvHeads: 8, qkNorm: true });
    expect(s).toMatchObject({ qkvBias: false, oBias: false, slidingWindow: null, eosTokenIds: [151645] });
    const t = shapes(s);
    expect(t.get('model.layers.0.self_attn.q_proj.weight')).toEqual([2048, 1024]);
    expect(t.get('model.layers.0.self_attn.k_proj.weight')).toEqual([1024, 1024]);
    expect(t.get('model.layers.0.self_attn.o_proj.weight')).toEqual([1024, 2048]);
    expect(t.get('model.layers.27.self_attn.q_norm.weight')).toEqual([128]);
    expect(t.get('model.layers.27.self_attn.k_norm.weight')).toEqual([128]);
    expect(t.size).toBe(1 + 28 * 11 + 1);
    expect(parameterCount(s)).toBe(596_049_920);
    // Model card: 0.6B parameters, 0.44B non-embedding.
    expect(parameterCount(s) - 151936 * 1024).toBe(440_467_456);
  });

  it('Llama-3.2-1B: llama3 RoPE scaling, tied, 1.24B parameters', () => {
    const s = parseModelConfig(llama32);
    expect(s.ropeScaling).toEqual({
      type: 'llama3',
      factor: 32,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8192,
    });
    expect(s).toMatchObject({
      ropeTheta: 500000,
      headDim: 64,
      numKvHeads: 8,
      bosTokenId: 128000,
      eosTokenIds: [128001],
    });
    expect(parameterCount(s)).toBe(1_235_814_400);
  });

  it('TinyLlama-1.1B: untied lm_head, 1.1B parameters', () => {
    const s = parseModelConfig(tinyllama);
    expect(s).toMatchObject({ numKvHeads: 4, tieWordEmbeddings: false, maxPositionEmbeddings: 2048, bosTokenId: 1 });
    expect(shapes(s).get('lm_head.weight')).toEqual([32000, 2048]);
    expect(parameterCount(s)).toBe(1_100_048_384);
  });

  it('Mistral-7B-v0.1: sliding window 4096, 7.24B parameters', () => {
    const s = parseModelConfig(mistral);
    expect(s).toMatchObject({ modelType: 'mistral', slidingWindow: 4096, qkvBias: false, oBias: false });
    expect(parameterCount(s)).toBe(7_241_732_096);
    expect(() => checkSequenceFits(s, 4096)).not.toThrow(); // q − k ≤ 4095 < window everywhere
    const e = unsupported(() => checkSequenceFits(s, 4097));
    expect(e.field).toBe('sliding_window');
    expect(e.value).toBe('4096');
    expect(e.message).toContain('4096');
  });
});

describe('inverseFrequencies', () => {
  it('default RoPE: 1 / theta^(2i/d), float32 values', () => {
    const f = inverseFrequencies(parseModelConfig({ ...tiny, num_attention_heads: 4 })); // head_dim 4
    expect(Array.from(f)).toEqual([1, Math.fround(0.01)]);
    const s = inverseFrequencies(parseModelConfig(smol));
    expect(s.length).toBe(32);
    for (const v of s) expect(Math.fround(v)).toBe(v);
    expect(s[16]).toBeCloseTo(100000 ** -0.5, 9);
  });

  it('linear scaling divides by factor (old "type" key)', () => {
    const cfg = { ...tiny, num_attention_heads: 4, rope_scaling: { type: 'linear', factor: 4 } };
    expect(Array.from(inverseFrequencies(parseModelConfig(cfg)))).toEqual([0.25, Math.fround(Math.fround(0.01) / 4)]);
  });

  it('llama3 scaling at hand-derived indices (Llama-3.2-1B)', () => {
    const f = inverseFrequencies(parseModelConfig(llama32));
    expect(f.length).toBe(32);
    // theta = 500000, d = 64: inv_i = 500000^(−i/32), wavelen_i = 2π / inv_i.
    // Bands: orig/high = 8192/4 = 2048, orig/low = 8192/1 = 8192.
    //   wavelen < 2048 ⇔ 500000^(i/32) < 325.95 ⇔ i < 32·ln(325.95)/ln(500000) = 14.11 → i ≤ 14 unchanged.
    //   wavelen > 8192 ⇔ 500000^(i/32) > 1303.80 ⇔ i > 17.49 → i ≥ 18 divided by 32.
    //   i = 15, 16, 17: s = (8192/wavelen − 1)/3, inv·((1 − s)/32 + s).
    // i = 0: inv 1, wavelen 2π → 1.
    // i = 14: inv = 500000^(−0.4375) = 3.21145e−3, wavelen 1956.5 < 2048 → unchanged.
    // i = 16: inv = 500000^(−0.5) = 1/707.107 = 1.414214e−3, wavelen = 4442.88,
    //         s = (8192/4442.88 − 1)/3 = (1.843843 − 1)/3 = 0.281281,
    //         inv·(0.718719/32 + 0.281281) = 1.414214e−3 · 0.303741 = 4.29555e−4.
    // i = 18: inv = 500000^(−0.5625) = 6.22772e−4, wavelen 10089 > 8192 → 6.22772e−4 / 32 = 1.94616e−5.
    // i = 31: inv = 500000^(−0.96875) = 3.01386e−6 → / 32 = 9.41831e−8.
    const close = (got: number, want: number): void => expect(Math.abs(got - want) / want).toBeLessThan(2e-6);
    expect(f[0]).toBe(1);
    close(f[14], 3.211446e-3);
    close(f[16], 4.295568e-4);
    close(f[18], 1.9461638e-5);
    close(f[31], 9.418307e-8);
    // Medium band is a blend strictly between the two neighbours' rules.
    for (const i of [15, 16, 17]) {
      const inv = 500000 ** (-i / 32);
      expect(f[i]).toBeLessThan(inv);
      expect(f[i]).toBeGreaterThan(inv / 32);
    }
    for (const v of f) expect(Math.fround(v)).toBe(v);
  });
});

describe('defaults and variants', () => {
  it('fills transformers defaults', () => {
    const s = parseModelConfig(tiny);
    expect(s).toMatchObject({ numKvHeads: 4, headDim: 4, ropeTheta: 10000, rmsNormEps: 1e-6, hiddenAct: 'silu' });
    expect(s).toMatchObject({ maxPositionEmbeddings: 2048, tieWordEmbeddings: false, torchDtype: null });
  });

  it('takes the family from architectures when model_type is missing', () => {
    const { model_type: _ignored, ...rest } = tiny;
    expect(parseModelConfig({ ...rest, architectures: ['MistralForCausalLM'] }).modelType).toBe('mistral');
  });

  it('Llama attention_bias and mlp_bias add biases to every projection', () => {
    const t = shapes(parseModelConfig({ ...tiny, attention_bias: true, mlp_bias: true }));
    for (const p of ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj']) {
      expect(t.has(`model.layers.1.${p}.bias`)).toBe(true);
    }
    expect(t.get('model.layers.1.mlp.gate_proj.bias')).toEqual([32]);
    expect(t.get('model.layers.1.mlp.down_proj.bias')).toEqual([16]);
  });

  it('eos_token_id may be a list (Llama-3.2-1B-Instruct)', () => {
    expect(parseModelConfig({ ...llama32, eos_token_id: [128001, 128008, 128009] }).eosTokenIds).toEqual([
      128001, 128008, 128009,
    ]);
  });

  it('Mistral sliding window: default 4096 when absent, none when null', () => {
    const { sliding_window: _w, ...noWindow } = mistral;
    expect(parseModelConfig(noWindow).slidingWindow).toBe(4096);
    const s = parseModelConfig({ ...mistral, sliding_window: null });
    expect(s.slidingWindow).toBeNull();
    expect(() => checkSequenceFits(s, 8192)).not.toThrow();
  });

  it('Qwen2 use_sliding_window applies only past max_window_layers', () => {
    expect(parseModelConfig({ ...qwen25, use_sliding_window: true, sliding_window: 1024 }).slidingWindow).toBeNull();
    const s = parseModelConfig({ ...qwen25, use_sliding_window: true, sliding_window: 1024, max_window_layers: 12 });
    expect(s.slidingWindow).toBe(1024);
    expect(unsupported(() => checkSequenceFits(s, 2048)).field).toBe('sliding_window');
  });

  it('reads transformers v5 rope_parameters and dtype', () => {
    const { rope_scaling: scaling, rope_theta: _t, torch_dtype: _d, ...rest } = llama32;
    const s = parseModelConfig({ ...rest, dtype: 'bfloat16', rope_parameters: { ...scaling, rope_theta: 500000 } });
    expect(s.ropeTheta).toBe(500000);
    expect(s.ropeScaling.type).toBe('llama3');
    expect(s.torchDtype).toBe('bfloat16');
    expect(inverseFrequencies(s)).toEqual(inverseFrequencies(parseModelConfig(llama32)));
  });

  it('refuses sequences longer than max_position_embeddings', () => {
    const e = unsupported(() => checkSequenceFits(parseModelConfig(tinyllama), 4096));
    expect(e.field).toBe('max_position_embeddings');
    expect(e.value).toBe('2048');
  });
});

describe('unsupported configs name the field and value', () => {
  const cases: [string, unknown, string, string][] = [
    ['GPT-2 (later)', { model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], n_embd: 768 }, 'model_type', 'gpt2'],
    ['GPT-2 by architectures', { architectures: ['GPT2LMHeadModel'] }, 'architectures', 'GPT2LMHeadModel'],
    ['another family', { ...tiny, model_type: 'gemma' }, 'model_type', 'gemma'],
    ['yarn RoPE', { ...tiny, rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'rope_scaling.rope_type', 'yarn'],
    ['dynamic RoPE', { ...tiny, rope_scaling: { type: 'dynamic', factor: 2 } }, 'rope_scaling.type', 'dynamic'],
    [
      'llama3 without low_freq_factor',
      {
        ...tiny,
        rope_scaling: { rope_type: 'llama3', factor: 8, high_freq_factor: 4, original_max_position_embeddings: 8192 },
      },
      'rope_scaling.low_freq_factor',
      'missing',
    ],
    ['gelu', { ...tiny, hidden_act: 'gelu' }, 'hidden_act', 'gelu'],
    ['missing hidden_size', { ...tiny, hidden_size: undefined }, 'hidden_size', 'missing'],
    ['fractional size', { ...tiny, intermediate_size: 32.5 }, 'intermediate_size', '32.5'],
    ['size as string', { ...tiny, vocab_size: '100' }, 'vocab_size', '100'],
    ['zero layers', { ...tiny, num_hidden_layers: 0 }, 'num_hidden_layers', '0'],
    ['heads not dividing hidden', { ...tiny, num_attention_heads: 3 }, 'num_attention_heads', '3'],
    ['kv heads not dividing heads', { ...tiny, num_key_value_heads: 3 }, 'num_key_value_heads', '3'],
    ['odd head_dim', { ...tiny, head_dim: 5 }, 'head_dim', '5'],
    ['interleaved RoPE', { ...tiny, rope_interleaved: true }, 'rope_interleaved', 'true'],
    [
      'pre-quantized',
      { ...tiny, quantization_config: { quant_method: 'gptq', bits: 4 } },
      'quantization_config',
      'gptq',
    ],
    ['float8 weights', { ...tiny, torch_dtype: 'float8_e4m3fn' }, 'torch_dtype', 'float8_e4m3fn'],
    ['not an object', [1, 2], 'config', '[1,2]'],
  ];
  for (const [what, cfg, field, value] of cases) {
    it(what, () => {
      const e = unsupported(() => parseModelConfig(cfg));
      expect(e.field).toBe(field);
      expect(e.value).toBe(value);
      expect(e.message).toContain(field);
    });
  }

  it('says GPT-2 is planned, and what is supported', () => {
    const e = unsupported(() => parseModelConfig({ model_type: 'gpt2' }));
    expect(e.message).toMatch(/GPT-2 is not supported yet/);
    expect(e.message).toMatch(/Llama/);
  });
});
