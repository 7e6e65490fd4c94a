// The reference model's gradients against float64 central finite differences, for every LoRA parameter
// (with B non-zero: with B = 0 the gradient of A is zero and the check proves nothing) and, in full
// mode, for every tensor, on tiny Llama (GQA, tied and untied), Qwen2 (q/k/v biases) and Qwen3 (q/k norms).

import { describe, expect, it } from 'vitest';
import type { ModelSpec } from '../model/config.ts';
import { linearShape, randomWeights, tinySpec } from '../test/tiny-models.ts';
import { expectClose } from '../test/gpu.ts';
import { randomArray } from './compare.ts';
import { numericGradient } from './finite-diff.ts';
import { referenceModel, type ReferenceBatch, type ReferenceLora } from './llama.ts';

// One row of two packed examples (positions restart, segment changes at t = 4), one ignored label.
const batch: ReferenceBatch = {
  batch: 1,
  seq: 7,
  ids: [1, 5, 9, 2, 7, 3, 12],
  labels: [5, 9, 2, -100, 3, 12, 4],
  positions: [0, 1, 2, 3, 0, 1, 2],
  segments: [0, 0, 0, 0, 1, 1, 1],
};

const TARGETS = [
  'self_attn.q_proj',
  'self_attn.k_proj',
  'self_attn.v_proj',
  'self_attn.o_proj',
  'mlp.gate_proj',
  'mlp.up_proj',
  'mlp.down_proj',
];

function randomLora(spec: ModelSpec, r: number): ReferenceLora {
  const modules: ReferenceLora['modules'] = {};
  let seed = 500;
  for (let l = 0; l < spec.numLayers; l++) {
    for (const t of TARGETS) {
      const [outF, inF] = linearShape(spec, t);
      modules[`model.layers.${l}.${t}`] = {
        r,
        a: Float64Array.from(randomArray(r * inF, seed++), (x) => 0.4 * x),
        b: Float64Array.from(randomArray(outF * r, seed++), (x) => 0.4 * x), // non-zero on purpose
      };
    }
  }
  return { scaling: 2, modules };
}

describe('reference model vs finite differences', () => {
  for (const name of ['llama', 'llama-tied', 'qwen2', 'qwen3']) {
    it(`${name}: every tensor's gradient in full mode`, () => {
      const spec = tinySpec(name);
      const weights = randomWeights(spec, 1);
      const res = referenceModel(spec, weights, batch, 'full');
      expect(res.grads.size).toBe(Object.keys(weights).length);
      for (const [tensor, grad] of res.grads) {
        const num = numericGradient(
          (t) => referenceModel(spec, { ...weights, [tensor]: t }, batch, 'forward').loss,
          weights[tensor],
          1e-5,
        );
        expectClose(grad, num, 1e-7, 1e-5, tensor);
      }
    });
  }

  for (const name of ['llama', 'qwen3']) {
    it(`${name}: every LoRA parameter's gradient, B non-zero`, () => {
      const spec = tinySpec(name);
      const weights = randomWeights(spec, 2);
      const lora = randomLora(spec, 2);
      const res = referenceModel(spec, weights, batch, 'lora', lora);
      expect(res.grads.size).toBe(2 * TARGETS.length * spec.numLayers);
      for (const [key, grad] of res.grads) {
        const path = key.replace(/\.lora_[AB]\.weight$/, '');
        const which = key.endsWith('lora_A.weight') ? 'a' : 'b';
        const num = numericGradient((t) => {
          const mods = { ...lora.modules, [path]: { ...lora.modules[path], [which]: t } };
          return referenceModel(spec, weights, batch, 'forward', { ...lora, modules: mods }).loss;
        }, lora.modules[path][which]);
        expectClose(grad, num, 1e-7, 1e-5, key);
        // B ≠ 0 makes A's gradient non-trivial: the check above proves something.
        expect(
          grad.some((g) => Math.abs(g) > 1e-6),
          key,
        ).toBe(true);
      }
    });
  }

  it('packing: the second example does not see the first', () => {
    const spec = tinySpec('llama');
    const weights = randomWeights(spec, 3);
    const packed = referenceModel(spec, weights, batch, 'forward');
    const alone: ReferenceBatch = {
      batch: 1,
      seq: 3,
      ids: [7, 3, 12],
      labels: [3, 12, 4],
      positions: [0, 1, 2],
      segments: [0, 0, 0],
    };
    const single = referenceModel(spec, weights, alone, 'forward');
    expectClose(packed.logits.slice(4 * 13), single.logits, 1e-12, 1e-12, 'logits of the second example');
  });
});
