// A tiny GPT-2 config and deterministic random weights for tests (the PyTorch fixture script uses the
// same shapes).

import { gpt2TensorNames, parseGpt2Config, type Gpt2Spec } from '../model/gpt2-config.ts';
import { randomArray } from '../reference/compare.ts';

export const TINY_GPT2: Record<string, unknown> = {
  architectures: ['GPT2LMHeadModel'],
  model_type: 'gpt2',
  vocab_size: 13,
  n_embd: 16,
  n_head: 4,
  n_layer: 2,
  n_positions: 32,
  n_inner: null,
  layer_norm_epsilon: 1e-5,
  activation_function: 'gelu_new',
  bos_token_id: 0,
  eos_token_id: 0,
};

export const tinyGpt2Spec = (): Gpt2Spec => parseGpt2Config(TINY_GPT2);

/** Matrices ~U(−0.5, 0.5)·scale, LayerNorm weights around 1, biases small. */
export function randomGpt2Weights(spec: Gpt2Spec, seed: number, scale = 0.5): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  let s = seed;
  for (const t of gpt2TensorNames(spec)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const r = randomArray(n, s++);
    const ln = /ln_(1|2|f)\.weight$/.test(t.name);
    out[t.name] = Float64Array.from(r, (x) => (ln ? 1 + 0.2 * x : t.name.endsWith('.bias') ? 0.1 * x : scale * x));
  }
  return out;
}

/** Random LoRA A/B (B non-zero) for every Conv1D module, by module path. */
export function randomGpt2Adapters(spec: Gpt2Spec, r: number, seed: number) {
  const d = spec.hiddenSize;
  const m = spec.intermediateSize;
  const shapes: [string, number, number][] = [
    ['attn.c_attn', 3 * d, d],
    ['attn.c_proj', d, d],
    ['mlp.c_fc', m, d],
    ['mlp.c_proj', d, m],
  ];
  const mods: Record<string, { a: Float64Array; b: Float64Array }> = {};
  let s = seed;
  for (let l = 0; l < spec.numLayers; l++) {
    for (const [name, outF, inF] of shapes) {
      mods[`transformer.h.${l}.${name}`] = {
        a: Float64Array.from(randomArray(r * inF, s++), (x) => 0.4 * x),
        b: Float64Array.from(randomArray(outF * r, s++), (x) => 0.4 * x),
      };
    }
  }
  return mods;
}
