// A model loaded through the Hub loader runs on the engine: stored as f32 it gives exactly the logits of
// the original weights; stored as NF4 (dequantized on upload) it gives logits close to them.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { LlamaGpu } from '../model/llama-gpu.ts';
import { testGpu } from '../test/gpu.ts';
import { loadFromFiles } from './loader.ts';
import { tinyModel } from './test-fixtures.ts';
import { engineWeights } from './weights.ts';

describe('loaded models on the engine', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });
  afterAll(() => gpu?.destroy());

  it('f32 storage reproduces the original logits; NF4 stays close', async () => {
    const model = tinyModel(11);
    const picked = Object.entries(model.files).map(([path, bytes]) => ({
      path,
      blob: new Blob([bytes as Uint8Array<ArrayBuffer>]),
    }));
    const seq = 8;
    const ids = [1, 5, 9, 13, 17, 21, 25, 29];
    const batch = { batch: 1, seq, ids, labels: ids, positions: ids.map((_, i) => i), segments: ids.map(() => 0) };
    const logits = async (weights: Record<string, ArrayLike<number>>) => {
      const m = LlamaGpu.create(gpu, model.spec, weights, { mode: 'full', seed: 1 });
      try {
        return await m.logits(batch);
      } finally {
        m.dispose();
      }
    };
    const ref = await logits(Object.fromEntries(model.weights));
    const f32 = await loadFromFiles('tiny', picked, { storage: 'f32', storageManager: null });
    expect(Array.from(await logits(engineWeights(f32.tensors)))).toEqual(Array.from(ref));
    const nf4 = await loadFromFiles('tiny', picked, { storage: 'nf4', storageManager: null });
    const q = await logits(engineWeights(nf4.tensors));
    let maxErr = 0;
    let maxRef = 0;
    for (let i = 0; i < ref.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(q[i] - ref[i]));
      maxRef = Math.max(maxRef, Math.abs(ref[i]));
    }
    expect(Number.isFinite(maxErr)).toBe(true);
    expect(maxErr).toBeGreaterThan(0); // the quantization is real
    expect(maxErr).toBeLessThan(0.25 * maxRef);
  });
});
