// The engine API's generate and exportModel on Dawn: tokens stream as events and equal generate() over
// the KV-cache decoder; a LoRA model's safetensors export (Llama family and GPT-2) reloads through the
// engine with the adapter's tokens; ONNX export reports progress and holds onnx/model.onnx.

import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsReader } from '../model/safetensors.ts';
import { testGpu } from '../test/gpu.ts';
import { randomGpt2Adapters, randomGpt2Weights, TINY_GPT2, tinyGpt2Spec } from '../test/tiny-gpt2.ts';
import { linearShape, randomWeights, TINY_CONFIGS, tinySpec } from '../test/tiny-models.ts';
import { randomArray } from '../reference/compare.ts';
import { DEFAULT_LORA } from '../model/lora.ts';
import { LocalEngine } from './local-engine.ts';
import type { EngineEvent } from './protocol.ts';

const engine = new LocalEngine(() => testGpu());
afterAll(() => engine.dispose());

const f32 = (w: Record<string, Float64Array>) =>
  Object.fromEntries(Object.entries(w).map(([k, v]) => [k, Float32Array.from(v)]));
const lora = { ...DEFAULT_LORA, r: 2, alpha: 4, dropout: 0, targetModules: 'all-linear' };

function llamaAdapters() {
  const spec = tinySpec('qwen2');
  const out: Record<string, { a: Float32Array; b: Float32Array }> = {};
  let s = 5;
  for (let l = 0; l < spec.numLayers; l++) {
    for (const m of [
      'self_attn.q_proj',
      'self_attn.v_proj',
      'mlp.down_proj',
      'self_attn.k_proj',
      'self_attn.o_proj',
      'mlp.gate_proj',
      'mlp.up_proj',
    ]) {
      const [o, i] = linearShape(spec, m);
      out[`model.layers.${l}.${m}`] = {
        a: Float32Array.from(randomArray(2 * i, s++), (x) => 0.5 * x),
        b: Float32Array.from(randomArray(o * 2, s++), (x) => 0.5 * x),
      };
    }
  }
  return out;
}

describe('Engine.generate and Engine.exportModel', () => {
  for (const kind of ['qwen2', 'gpt2'] as const) {
    it(`${kind}: streamed tokens; the merged export reloads with the adapter's tokens`, async () => {
      const given =
        kind === 'gpt2'
          ? {
              config: { ...TINY_GPT2, eos_token_id: 12 },
              weights: f32(randomGpt2Weights(tinyGpt2Spec(), 3)),
              lora: {
                config: lora,
                adapters: Object.fromEntries(
                  Object.entries(randomGpt2Adapters(tinyGpt2Spec(), 2, 8)).map(([k, v]) => [
                    k,
                    { a: Float32Array.from(v.a), b: Float32Array.from(v.b) },
                  ]),
                ),
              },
            }
          : {
              config: TINY_CONFIGS.qwen2,
              weights: f32(randomWeights(tinySpec('qwen2'), 3)),
              lora: { config: lora, adapters: llamaAdapters() },
            };
      const events: EngineEvent[] = [];
      const options = { maxNewTokens: 8, repetitionPenalty: 1.3, eosTokenIds: [] };
      const r = await engine.generate({ ...given, prompt: [1, 2, 3], options, maxLength: 32 }, (e) => events.push(e));
      expect(r.tokens).toHaveLength(8);
      expect(events.filter((e) => e.type === 'token').map((e) => (e as { token: number }).token)).toEqual(r.tokens);
      const merged = await engine.generate({ ...given, prompt: [1, 2, 3], options, merged: true, maxLength: 32 });
      expect(merged.tokens).toEqual(r.tokens);
      const base = await engine.generate({ ...given, lora: undefined, prompt: [1, 2, 3], options, maxLength: 32 });
      expect(base.tokens).not.toEqual(r.tokens); // the adapter matters

      const progress: EngineEvent[] = [];
      const files = await engine.exportModel({ ...given, format: 'safetensors' }, (e) => progress.push(e));
      expect(progress.length).toBeGreaterThan(0);
      const reader = new SafetensorsReader(files.find((f) => f.path === 'model.safetensors')!.bytes);
      const weights = Object.fromEntries(reader.names().map((n) => [n, reader.tensorF32(n)]));
      const reloaded = await engine.generate({
        config: given.config,
        weights,
        prompt: [1, 2, 3],
        options,
        maxLength: 32,
      });
      expect(reloaded.tokens).toEqual(r.tokens);
      const onnx = await engine.exportModel({ ...given, format: 'onnx' });
      expect(onnx.map((f) => f.path)).toContain('onnx/model.onnx');
    });
  }
});
