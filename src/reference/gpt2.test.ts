// The GPT-2 reference model's gradients against finite differences in float64 (LoRA mode with B
// non-zero, and full mode on a sample of every tensor, Conv1D [in, out] layouts included), on a batch
// that packs two examples in one row.

import { describe, expect, it } from 'vitest';
import type { TokenBatch } from '../model/llama-gpu.ts';
import { expectClose } from '../test/gpu.ts';
import { randomGpt2Adapters, randomGpt2Weights, tinyGpt2Spec } from '../test/tiny-gpt2.ts';
import { referenceGpt2 } from './gpt2.ts';

const batch: TokenBatch = {
  batch: 2,
  seq: 5,
  ids: [1, 5, 9, 2, 7, 4, 4, 8, 0, 11],
  labels: [5, 9, -100, 7, 3, 4, 8, 0, 11, 6],
  positions: [0, 1, 2, 0, 1, 0, 1, 2, 3, 4],
  segments: [0, 0, 0, 1, 1, 0, 0, 0, 0, 0],
};
const h = 1e-6;

describe('GPT-2 reference vs finite differences', () => {
  const spec = tinyGpt2Spec();
  const weights = randomGpt2Weights(spec, 3);

  it('LoRA gradients on c_attn, c_proj, c_fc, mlp.c_proj', () => {
    const adapters = randomGpt2Adapters(spec, 2, 40);
    const lora = (mods: typeof adapters) => ({
      scaling: 1.5,
      modules: Object.fromEntries(Object.entries(mods).map(([k, v]) => [k, { ...v, r: 2 }])),
    });
    const ref = referenceGpt2(spec, weights, batch, 'lora', lora(adapters));
    expect(ref.grads.size).toBe(16);
    for (const [path, ab] of Object.entries(adapters)) {
      for (const which of ['a', 'b'] as const) {
        const g = ref.grads.get(`${path}.lora_${which.toUpperCase()}.weight`)!;
        const num = new Float64Array(g.length);
        for (let i = 0; i < g.length; i++) {
          const v = ab[which][i];
          ab[which][i] = v + h;
          const up = referenceGpt2(spec, weights, batch, 'forward', lora(adapters)).loss;
          ab[which][i] = v - h;
          const down = referenceGpt2(spec, weights, batch, 'forward', lora(adapters)).loss;
          ab[which][i] = v;
          num[i] = (up - down) / (2 * h);
        }
        expectClose(g, num, 1e-7, 1e-5, `${path} ${which}`);
      }
    }
  });

  it('full fine-tuning gradients (every 5th value of every tensor)', () => {
    const ref = referenceGpt2(spec, weights, batch, 'full');
    expect([...ref.grads.keys()].sort()).toEqual(Object.keys(weights).sort());
    for (const [name, w] of Object.entries(weights)) {
      const g = ref.grads.get(name)!;
      for (let i = 0; i < w.length; i += 5) {
        const v = w[i];
        w[i] = v + h;
        const up = referenceGpt2(spec, weights, batch, 'forward').loss;
        w[i] = v - h;
        const down = referenceGpt2(spec, weights, batch, 'forward').loss;
        w[i] = v;
        expectClose([g[i]], [(up - down) / (2 * h)], 1e-7, 1e-5, `${name}[${i}]`);
      }
    }
  });
});
