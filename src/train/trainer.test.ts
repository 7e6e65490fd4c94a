// The trainer on Dawn with a tiny random Llama: an interrupted and resumed run is bitwise the
// uninterrupted one (LoRA dropout on, shuffling on, gradient accumulation), and a resume from a wrong
// data cursor is not; early stopping keeps and restores the best checkpoint byte for byte; accumulating
// two micro-batches of one row equals one micro-batch of two rows; the streamed lr follows the schedule; a
// step reports the real tokens of its rows (padding excluded, packed or not) beside the trained ones.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenizedExample } from '../data/tokenize.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { LlamaGpu } from '../model/llama-gpu.ts';
import { DEFAULT_LORA } from '../model/lora.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { randomWeights, tinySpec } from '../test/tiny-models.ts';
import { MemoryCheckpointStore, type Checkpoint, type RunEvent, type TrainConfig } from './run-types.ts';
import { lrAtStep } from './schedule.ts';
import { Trainer, type ModelFactoryOptions, type TrainerOptions } from './trainer.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const spec = tinySpec('llama');
const weights = randomWeights(spec, 7);
const factory = (o: ModelFactoryOptions) => LlamaGpu.create(gpu, spec, weights, o);
const BASE_PARAMS = Object.values(weights).reduce((s, w) => s + w.length, 0);

/** Sequences of 5..8 tokens following `pattern`; every token after the first trained. */
function examples(count: number, pattern: (k: number, i: number) => number, row0 = 0): TokenizedExample[] {
  return Array.from({ length: count }, (_, k) => {
    const len = 5 + (k % 4);
    const ids = Uint32Array.from({ length: len }, (_, i) => pattern(k, i) % 13);
    return { row: row0 + k, ids, trained: Uint8Array.from({ length: len }, (_, i) => (i > 0 ? 1 : 0)) };
  });
}

const CONFIG: TrainConfig = {
  mode: 'lora',
  lora: { ...DEFAULT_LORA, r: 2, alpha: 4, dropout: 0.1, targetModules: 'all-linear' },
  epochs: 3,
  maxSteps: 6,
  microBatch: 2,
  gradAccum: 2,
  seq: 8,
  packing: false,
  lr: 0.02,
  schedule: 'cosine',
  warmupSteps: 2,
  weightDecay: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  maxGradNorm: 1,
  seed: 11,
  checkpointing: false,
  evalEvery: 0,
  evalExamples: 0,
  earlyStopping: null,
  checkpointEvery: 0,
};

function options(
  config: TrainConfig,
  data: TrainerOptions['data'],
  events: RunEvent[],
  store = new MemoryCheckpointStore(),
) {
  return {
    gpu,
    model: factory,
    data,
    config,
    runId: 'run',
    store,
    onEvent: (e: RunEvent) => events.push(e),
    padId: 0,
    baseParameters: BASE_PARAMS,
  };
}

async function params(t: Trainer): Promise<Map<string, Float32Array>> {
  await gpu.sync();
  const out = new Map<string, Float32Array>();
  for (const p of t.model.trainable) out.set(p.name, await gpu.readF32(p.value));
  return out;
}

const steps = (events: RunEvent[]) => events.flatMap((e) => (e.type === 'train-step' ? [e.metrics] : []));
const bits = (m: Map<string, Float32Array>) =>
  [...m.values()].map((a) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)]);

const trainData = { train: examples(10, (k, i) => 1 + k * 3 + i * (k + 2)), validation: [], test: [] };

describe('Trainer on Dawn', () => {
  it('an interrupted and resumed run is bitwise the uninterrupted one; a wrong data cursor is not', async () => {
    const evA: RunEvent[] = [];
    const a = new Trainer(options(CONFIG, trainData, evA));
    expect(a.totalSteps).toBe(6); // 10 rows / 2 = 5 micro-batches per epoch; 15 micro / 2 = 8 steps > maxSteps
    const sumA = await a.run();
    const paramsA = await params(a);
    a.dispose();
    expect(sumA.stoppedBy).toBe('steps');
    expect(steps(evA).map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // 5 micro-batches per epoch: step 3 reads the last of epoch 0 and the first of epoch 1
    expect(steps(evA).map((s) => s.epoch)).toEqual([0, 0, 0, 1, 1, 2]);
    // the adapters moved: B is no longer zero
    expect([...paramsA.values()].some((v, i) => i % 2 === 1 && v.some((x) => x !== 0))).toBe(true);

    // Interrupted: stop after step 3 (a 'latest' checkpoint is saved), then a new trainer and model resume.
    const store = new MemoryCheckpointStore();
    const evB: RunEvent[] = [];
    const b1 = new Trainer({
      ...options(CONFIG, trainData, evB, store),
      onEvent: (e: RunEvent) => {
        evB.push(e);
        if (e.type === 'train-step' && e.metrics.step === 3) b1.stop();
      },
    });
    const sumB1 = await b1.run();
    b1.dispose();
    expect(sumB1.stoppedBy).toBe('user');
    expect(evB.some((e) => e.type === 'checkpoint' && e.kind === 'latest' && e.step === 3)).toBe(true);
    const saved = (await store.load('run', 'latest'))!;
    expect(saved.state.step).toBe(3);
    const b2 = await Trainer.resume({ ...options(CONFIG, trainData, evB, store) });
    await b2.run();
    const paramsB = await params(b2);
    b2.dispose();
    expect(steps(evB).map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]); // the first resumed step is 4
    expect(steps(evB).map((s) => s.loss)).toEqual(steps(evA).map((s) => s.loss));
    expect(steps(evB).map((s) => s.gradNorm)).toEqual(steps(evA).map((s) => s.gradNorm));
    expect(bits(paramsB)).toEqual(bits(paramsA));

    // The same checkpoint with the data cursor one example further: the test would notice.
    const wrong: Checkpoint = structuredClone(saved);
    wrong.state.cursor = { ...wrong.state.cursor, index: wrong.state.cursor.index + 1 };
    const evC: RunEvent[] = [];
    const c = await Trainer.resume(options(CONFIG, trainData, evC), wrong);
    await c.run();
    const paramsC = await params(c);
    c.dispose();
    expect(steps(evC).map((s) => s.loss)).not.toEqual(
      steps(evA)
        .slice(3)
        .map((s) => s.loss),
    );
    expect(bits(paramsC)).not.toEqual(bits(paramsA));
  });

  it('stops early when the validation loss turns up, and restores the best checkpoint byte for byte', async () => {
    const config: TrainConfig = {
      ...CONFIG,
      mode: 'full',
      lora: undefined,
      epochs: 100,
      maxSteps: 60,
      microBatch: 2,
      gradAccum: 1,
      lr: 0.02,
      schedule: 'constant',
      warmupSteps: 0,
      weightDecay: 0,
      evalEvery: 2,
      checkpointEvery: 1,
      earlyStopping: { patience: 2, threshold: 0 },
    };
    const data = {
      train: examples(2, (k, i) => 1 + 2 * i + k), // memorised quickly
      validation: examples(4, (k, i) => 4 + 2 * i + 3 * k, 100), // the same +2 rule from other starts
      test: examples(4, (k, i) => 2 + 5 * i + 3 * k, 200),
    };
    const store = new MemoryCheckpointStore();
    const events: RunEvent[] = [];
    const t = new Trainer(options(config, data, events, store));
    const summary = await t.run();
    const final = await params(t);
    t.dispose();
    const evals = events.flatMap((e) => (e.type === 'eval' && e.metrics.split === 'validation' ? [e.metrics] : []));
    console.info(`[trainer] validation losses ${evals.map((e) => `${e.step}:${e.loss.toFixed(3)}`).join(' ')}`);
    expect(summary.stoppedBy).toBe('early-stopping');
    expect(summary.steps).toBeLessThan(60);
    expect(summary.bestStep).not.toBeNull();
    expect(summary.bestStep).toBeLessThan(summary.steps);
    expect(summary.bestStep).toBeGreaterThan(evals[0].step); // it learned first, then overfitted
    expect(summary.bestValidationLoss).toBeLessThan(evals[0].loss);
    expect(summary.steps - summary.bestStep!).toBe(2 * 2); // patience 2 evaluations of every 2 steps
    expect(events.some((e) => e.type === 'early-stop' && e.bestStep === summary.bestStep)).toBe(true);
    expect(events.some((e) => e.type === 'restored-best' && e.bestStep === summary.bestStep)).toBe(true);
    expect(summary.restoredBest).toBe(true);
    const best = (await store.load('run', 'best'))!;
    const latest = (await store.load('run', 'latest'))!;
    expect(best.state.step).toBe(summary.bestStep);
    expect(latest.state.step).toBe(summary.steps);
    const tensor = (c: Checkpoint, name: string) => c.tensors.find((x) => x.name === name)!.data;
    const asBits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
    for (const [name, v] of final) expect(asBits(v)).toEqual(asBits(tensor(best, name)));
    expect([...final].some(([name, v]) => asBits(v).join() !== asBits(tensor(latest, name)).join())).toBe(true);
    // base and tuned test metrics, and the full-mode trainable count
    expect(summary.test!.base.step).toBe(0);
    expect(summary.test!.tuned.step).toBe(summary.bestStep);
    expect(summary.trainable).toEqual({ trainable: BASE_PARAMS, total: BASE_PARAMS, share: 1 });
  });

  it('gradAccum 2 × microBatch 1 equals gradAccum 1 × microBatch 2; lr follows the schedule', async () => {
    const config: TrainConfig = {
      ...CONFIG,
      lora: { ...CONFIG.lora!, dropout: 0 },
      epochs: 1,
      maxSteps: 0,
      schedule: 'linear',
      warmupSteps: 1,
      lr: 0.05,
    };
    const data = { ...trainData, train: trainData.train.slice(0, 8) };
    const evA: RunEvent[] = [];
    const a = new Trainer(options({ ...config, microBatch: 1, gradAccum: 2 }, data, evA));
    await a.run();
    const pa = await params(a);
    const count = a.trainable;
    a.dispose();
    const evB: RunEvent[] = [];
    const b = new Trainer(options({ ...config, microBatch: 2, gradAccum: 1 }, data, evB));
    await b.run();
    const pb = await params(b);
    b.dispose();
    expect(steps(evA).length).toBe(4);
    expectClose(
      steps(evA).map((s) => s.loss),
      steps(evB).map((s) => s.loss),
      1e-5,
      1e-5,
      'losses',
    );
    for (const [name, v] of pa) expectClose(v, pb.get(name)!, 1e-5, 1e-4, name);
    expect(steps(evA).map((s) => s.tokens)).toEqual(steps(evB).map((s) => s.tokens));
    const spec4 = { schedule: 'linear' as const, lr: 0.05, warmupSteps: 1, totalSteps: 4 };
    expect(steps(evA).map((s) => s.lr)).toEqual([1, 2, 3, 4].map((s) => lrAtStep(spec4, s)));
    expect(steps(evA).map((s) => s.lr)).toEqual([0, 0.05, 0.05 * (2 / 3), 0.05 * (1 / 3)]);
    // the adapters of every linear (2 layers × 7 modules, r = 2): 2 · (r·in + out·r) each
    expect(count.trainable).toBeGreaterThan(0);
    expect(count.total).toBe(BASE_PARAMS + count.trainable);
  });

  it('pause takes effect between steps and resume continues the same run', async () => {
    const config: TrainConfig = { ...CONFIG, maxSteps: 3 };
    const events: RunEvent[] = [];
    let stepsWhilePaused = -1;
    const t = new Trainer({
      ...options(config, trainData, events),
      onEvent: (e: RunEvent) => {
        events.push(e);
        if (e.type === 'train-step' && e.metrics.step === 2) {
          t.pause();
          setTimeout(() => {
            stepsWhilePaused = steps(events).length;
            t.resume();
          }, 50);
        }
      },
    });
    const summary = await t.run();
    t.dispose();
    expect(stepsWhilePaused).toBe(2);
    expect(summary.steps).toBe(3);
    const states = events.flatMap((e) => (e.type === 'run-state' ? [e.state] : []));
    expect(states).toEqual(['running', 'paused', 'running', 'done']);
  });

  it('a stop between evaluations reports validation without making it the best; the resumed run ends as the whole one', async () => {
    const data = {
      train: trainData.train,
      validation: examples(4, (k, i) => 4 + 2 * i + 3 * k, 100),
      test: [],
    };
    const config: TrainConfig = { ...CONFIG, evalEvery: 2, checkpointEvery: 1 };
    const whole = new Trainer(options(config, data, []));
    const sumWhole = await whole.run();
    whole.dispose();

    const store = new MemoryCheckpointStore();
    const events: RunEvent[] = [];
    const cut = new Trainer({
      ...options(config, data, events, store),
      onEvent: (e: RunEvent) => {
        events.push(e);
        if (e.type === 'train-step' && e.metrics.step === 3) cut.stop();
      },
    });
    const sumCut = await cut.run();
    cut.dispose();
    expect(events.some((e) => e.type === 'eval' && e.metrics.split === 'validation' && e.metrics.step === 3)).toBe(
      true,
    );
    expect(sumCut.bestStep).toBe(2); // step 3 was only reported
    expect((await store.load('run', 'best'))!.state.step).toBe(2);
    const resumed = await Trainer.resume(options(config, data, [], store));
    const sumResumed = await resumed.run();
    resumed.dispose();
    expect([sumResumed.bestStep, sumResumed.bestValidationLoss]).toEqual([
      sumWhole.bestStep,
      sumWhole.bestValidationLoss,
    ]);
  });

  it('a classification step reports its processed tokens (every real row token) beside its trained ones', async () => {
    // Four e-mail-like examples of 5..8 tokens: a prompt the loss ignores, then a trained label and EOS.
    const train = examples(4, (k, i) => 2 + k + i).map((e) => ({
      ...e,
      trained: e.trained.map((_, i) => (i >= e.ids.length - 2 ? 1 : 0)),
    }));
    const real = 5 + 6 + 7 + 8; // the rows hold 4 × 8 = 32 positions, padding included
    const trained = 4 * 2; // each example's 2 trained tokens are predicted from the 2 positions before them
    for (const packing of [false, true]) {
      // One step over all four: 2 micro-batches of 2 padded rows, or one micro-batch of 2 packed rows of 16.
      const config: TrainConfig = {
        ...CONFIG,
        epochs: 1,
        maxSteps: 0,
        packing,
        ...(packing && { seq: 16, gradAccum: 1 }),
      };
      const events: RunEvent[] = [];
      const t = new Trainer(options(config, { train, validation: [], test: [] }, events));
      await t.run();
      t.dispose();
      expect(steps(events).length, `packing ${packing}`).toBe(1);
      const [m] = steps(events);
      expect([m.tokens, m.rowTokens], `packing ${packing}`).toEqual([trained, real]);
      expect(m.rowTokensPerSec! / m.tokensPerSec).toBeCloseTo(real / trained, 9);
    }
  });

  it('refuses settings that would change results in silence', () => {
    const bad: [Partial<TrainConfig>, RegExp][] = [
      [{ seq: 200 }, /positions/],
      [{ lr: Infinity }, /lr/],
      [{ schedule: 'cosin' as TrainConfig['schedule'] }, /schedule/],
      [{ earlyStopping: { patience: 2, threshold: Number.NaN } }, /threshold/],
    ];
    for (const [change, message] of bad) {
      expect(() => new Trainer({ ...options({ ...CONFIG, ...change }, trainData, []), maxPositions: 128 })).toThrow(
        message,
      );
    }
  });
});
