// A training run in the trainer worker in real Chromium, checkpointing to IndexedDB: the built-in model and
// dataset are fetched from the app's origin, a run is stopped after its step-2 checkpoint and the worker is
// terminated (what a page reload does to it); a new worker, started with `resume`, continues at step 3 from
// IndexedDB. (That a resumed run is bitwise the uninterrupted one is proven on Dawn in src/engine/runs.test.ts;
// each fresh worker here pays Chromium's SwiftShader pipeline compiles, so this test runs the cut run only.)

import { afterAll, describe, expect, it } from 'vitest';
import { startWorkerEngine, type WorkerEngine } from '../src/engine/worker-engine.ts';
import { DEFAULT_LORA } from '../src/model/lora.ts';
import type { RunEvent, TrainConfig } from '../src/train/run-types.ts';

const CONFIG: TrainConfig = {
  mode: 'lora',
  lora: { ...DEFAULT_LORA, r: 2, alpha: 4, dropout: 0.1, targetModules: ['q_proj', 'v_proj'] },
  epochs: 1,
  maxSteps: 4,
  microBatch: 1,
  gradAccum: 1,
  seq: 32,
  packing: false,
  lr: 3e-3,
  schedule: 'constant',
  warmupSteps: 0,
  weightDecay: 0,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  maxGradNorm: 1,
  seed: 5,
  checkpointing: false,
  evalEvery: 0,
  evalExamples: 0,
  earlyStopping: null,
  checkpointEvery: 2,
};

const engines: WorkerEngine[] = [];
afterAll(async () => {
  for (const e of engines) await e.dispose().catch(() => {});
});

/** A fresh worker with the built-in model and a small spam/ham set loaded. */
async function freshWorker() {
  const t0 = performance.now();
  const log = (what: string) => console.info(`[timing] ${what} ${(performance.now() - t0).toFixed(0)} ms`);
  const engine = startWorkerEngine();
  engines.push(engine);
  await engine.init();
  log('init');
  const model = await engine.loadModel({ source: { kind: 'builtin', id: 'lorabook-tiny' } });
  const data = await engine.loadDataset({
    modelId: model.modelId,
    source: { kind: 'builtin', id: 'spam-ham' },
    options: { seed: 1, maxLength: 32, overLength: 'truncate-prompt', fractions: [0.8, 0.1, 0.1] },
    limitRows: 12,
  });
  log('model + dataset');
  return { engine, base: { modelId: model.modelId, datasetId: data.datasetId, config: CONFIG } };
}

const stepLosses = (events: RunEvent[]) =>
  events.flatMap((e) => (e.type === 'train-step' ? [[e.metrics.step, e.metrics.loss] as const] : []));

describe('a run in the trainer worker', () => {
  it('resumes from IndexedDB in a new worker at the next step', { timeout: 600_000 }, async () => {
    const a = await freshWorker();
    // The worker is killed right after the step-2 checkpoint, mid-way through step 3 at the latest: what a
    // reload does to it. IndexedDB keeps the checkpoint.
    const first: RunEvent[] = [];
    await new Promise<void>((resolve, reject) => {
      a.engine
        .startRun({ ...a.base, runId: 'browser-cut', resume: false }, (e) => {
          if (e.type === 'train-step') first.push(e);
          if (e.type === 'checkpoint' && e.kind === 'latest' && e.step === 2) {
            a.engine.terminate();
            resolve();
          }
        })
        .then(() => reject(new Error('the run ended before it was cut')), reject);
    });
    expect(
      stepLosses(first)
        .map(([s]) => s)
        .slice(0, 2),
    ).toEqual([1, 2]);

    const b = await freshWorker();
    const stored = await b.engine.storedRuns();
    expect(stored.find((r) => r.runId === 'browser-cut')?.step).toBe(2);
    const second: RunEvent[] = [];
    await b.engine.startRun({ ...b.base, runId: 'browser-cut', resume: true }, (e) => {
      if (e.type === 'train-step') second.push(e);
    });
    // steps 1-2 are replayed from the checkpoint (the new page redraws its chart), then 3 and 4 are trained
    expect(stepLosses(second).map(([s]) => s)).toEqual([1, 2, 3, 4]);
    expect(stepLosses(second).slice(0, 2)).toEqual(stepLosses(first).slice(0, 2));
    expect(
      stepLosses(second)
        .slice(2)
        .every(([, l]) => Number.isFinite(l)),
    ).toBe(true);
    await b.engine.deleteRun('browser-cut');
  });
});
