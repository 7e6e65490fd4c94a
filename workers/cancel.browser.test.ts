// Cancelling through the real trainer worker in Chromium: a model load and a dataset preparation cancelled
// by operation id while they run reject on the main thread with the typed Cancelled error (rebuilt from the
// worker's wire form), and the worker's engine loads and prepares normally right after. (Cancelling a
// comparison or an export mid-way, and the freed GPU buffers, are proven on Dawn in src/engine/cancel.test.ts,
// where no SwiftShader pipeline compiles are paid.)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorkerEngine, type WorkerEngine } from '../src/engine/worker-engine.ts';
import { Cancelled } from '../src/errors.ts';

let engine: WorkerEngine;
beforeAll(async () => {
  engine = startWorkerEngine();
  await engine.init();
});
afterAll(async () => engine?.dispose());

const MODEL = { source: { kind: 'builtin', id: 'lorabook-tiny' } } as const;

describe('cancelling in the trainer worker', () => {
  it('a cancelled load and dataset preparation reject with Cancelled; the next ones work', async () => {
    // The calls reach the worker in order: the load is running when the cancel arrives.
    const load = engine.loadModel(MODEL, undefined, 'load-1');
    expect(await engine.cancelOperation('load-1')).toBe(true);
    const e = await load.then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(Cancelled);
    expect(e).toMatchObject({ name: 'Cancelled', operation: 'loadModel', operationId: 'load-1' });

    const model = await engine.loadModel(MODEL, undefined, 'load-1');
    expect(model.parameters).toBe(869_504);

    const request = {
      modelId: model.modelId,
      source: { kind: 'builtin', id: 'spam-ham' },
      options: { seed: 1, maxLength: 32, overLength: 'truncate-prompt', fractions: [0.8, 0.1, 0.1] },
      limitRows: 12,
    } as const;
    const prep = engine.loadDataset(request, undefined, 'data-1');
    expect(await engine.cancelOperation('data-1')).toBe(true);
    await expect(prep).rejects.toMatchObject({ name: 'Cancelled', operation: 'loadDataset' });
    const data = await engine.loadDataset(request, undefined, 'data-2');
    expect(data.stats.train.examples).toBeGreaterThan(0);
    expect(await engine.cancelOperation('data-2')).toBe(false);
  });
});
