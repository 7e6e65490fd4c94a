// The planner's arithmetic without a GPU: weight bytes per storage type against the real model configs,
// the fit check against adapter limits with its suggestions, and the refusal before allocating.

import { describe, expect, it } from 'vitest';
import { OutOfMemory } from '../errors.ts';
import { parameterCount, parseModelConfig } from '../model/config.ts';
import qwen05 from '../model/fixtures/qwen2.5-0.5b.json';
import smollm from '../model/fixtures/smollm2-135m.json';
import { assertFits, checkFit } from './fit.ts';
import { nf4Bytes, planMemory, storedWeightBytes } from './memory.ts';

const qwen = parseModelConfig(qwen05);
const smol = parseModelConfig(smollm);
const allLinear = { r: 16, targetModules: 'all-linear' as const, dropout: 0 };

describe('memory planner', () => {
  it('counts weights by storage type', () => {
    const params = parameterCount(qwen);
    expect(storedWeightBytes(qwen, 'f32')).toBe(4 * params);
    expect(storedWeightBytes(qwen, 'f16')).toBe(2 * params);
    // NF4: 4.5 bits per linear weight with float32 absmax, ≈ 4.127 with double quantization.
    expect(nf4Bytes(64 * 1024, false)).toBe(32 * 1024 + 4 * 1024);
    expect(nf4Bytes(64 * 1024, true)).toBe(32 * 1024 + 1024 + 4 * 4 + 1024 + 4);
    const nf4 = storedWeightBytes(qwen, 'nf4');
    expect(nf4).toBeLessThan(storedWeightBytes(qwen, 'f16') * 0.65); // the tied 136M-entry embedding stays f16
  });

  it('puts Qwen2.5-0.5B QLoRA (r 16, seq 512, batch 4, checkpointing) under 1.5 GB', () => {
    const p = planMemory({ spec: qwen, storage: 'nf4', lora: allLinear, batch: 4, seq: 512, checkpointing: true });
    expect(p.totalBytes).toBeLessThan(1.5e9);
    expect(p.trainableParameters).toBe(8_798_208); // 24 layers × 16 · Σ(in + out) over the 7 projections
    const noCkpt = planMemory({
      spec: qwen,
      storage: 'nf4',
      lora: allLinear,
      batch: 4,
      seq: 512,
      checkpointing: false,
    });
    expect(noCkpt.breakdown.activations).toBeGreaterThan(5 * p.breakdown.activations);
  });

  it('says when a buffer is over the adapter limits and suggests what fits', () => {
    const req = { spec: qwen, storage: 'f32' as const, lora: allLinear, batch: 4, seq: 512, checkpointing: false };
    const lavapipe = { maxBufferSize: 2 ** 31, maxStorageBufferBindingSize: 2 ** 27 };
    const r = checkFit(req, lavapipe);
    expect(r.fits).toBe(false);
    expect(r.problems[0]).toMatch(/embed_tokens.*maxStorageBufferBindingSize/);
    // The embedding (136M entries) is 272 MB even in f16: nothing fits a 128 MiB binding limit.
    expect(r.suggestions).toEqual([]);
    const big = { maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 31 };
    expect(checkFit(req, big).fits).toBe(true);
    // Over a 2 GB budget: checkpointing or NF4 is suggested, each checked to fit.
    const budget = checkFit(req, big, 2e9);
    expect(budget.fits).toBe(false);
    expect(budget.suggestions.length).toBeGreaterThan(0);
    for (const s of budget.suggestions) expect(s.totalBytes).toBeLessThanOrEqual(2e9);
    expect(() => assertFits(req, big, 2e9)).toThrow(OutOfMemory);
    expect(() => assertFits(req, big, 2e9)).toThrow(/What would fit: /);
  });

  it('plans SmolLM2-135M LoRA in f32 in a few hundred MB', () => {
    const p = planMemory({
      spec: smol,
      storage: 'f32',
      lora: { r: 8, targetModules: ['q_proj', 'v_proj'], dropout: 0 },
      batch: 4,
      seq: 512,
      checkpointing: true,
    });
    expect(p.breakdown.weights).toBe(4 * parameterCount(smol));
    expect(p.totalBytes).toBeGreaterThan(p.breakdown.weights);
    expect(p.totalBytes).toBeLessThan(1.2e9);
  });
});
