// The pretraining script still produces what was committed: the first 20 steps of the built-in model's
// pretraining, rebuilt from the seed (initial weights, batches, schedule), give the losses recorded in
// public/models/lorabook-tiny/training_log.json within 1e-3.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizerFromFiles } from '../data/tokenizer.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { testGpu } from '../test/gpu.ts';
import { builtinChunks, readModelJson } from './builtin-files.ts';
import { Pretrainer } from './pretrainer.ts';
import { chunkIds, initialWeights, trainBatch } from './recipe.ts';

const STEPS = 20;

describe('built-in model pretraining replay', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });
  afterAll(() => gpu?.destroy());

  it(`matches the recorded losses of the first ${STEPS} steps`, { timeout: 600_000 }, async () => {
    const recorded = readModelJson<{ losses: number[] }>('training_log.json').losses.slice(0, STEPS);
    expect(recorded.length).toBe(STEPS);
    const tok = await loadTokenizerFromFiles({
      'tokenizer.json': readModelJson('tokenizer.json'),
      'tokenizer_config.json': readModelJson('tokenizer_config.json'),
    });
    const { trainChunks } = builtinChunks();
    const trainer = await Pretrainer.create(gpu, initialWeights());
    const got: number[] = [];
    try {
      for (let s = 0; s < STEPS; s++) {
        const batch = trainBatch(s, trainChunks.length, (i) => chunkIds(tok, trainChunks[i]));
        got.push((await trainer.step(s, batch)).loss);
      }
    } finally {
      trainer.dispose();
    }
    const worst = Math.max(...got.map((l, i) => Math.abs(l - recorded[i])));
    console.info(
      `[builtin] replayed ${STEPS} steps: ${got[0].toFixed(4)} → ${got[STEPS - 1].toFixed(4)}, max |Δ| ${worst}`,
    );
    expect(worst).toBeLessThanOrEqual(1e-3);
    expect(got[STEPS - 1]).toBeLessThan(got[0] - 0.3); // and it was learning
  });
});
