// The engine's run API end to end on Dawn, as the notebook drives it: load the built-in model and the
// spam/ham set by handle, train LoRA with validation and a test split, compare base and tuned outputs,
// export the PEFT adapter and the metrics; a run stopped after a checkpoint and started again with
// `resume` continues at the checkpoint's step + 1 and reproduces the uninterrupted run's losses bitwise,
// and so does a run whose GPU device was lost (the engine acquires a new one).

import { afterAll, describe, expect, it } from 'vitest';
import { nodeEngineHost } from '../../companion/host.ts';
import { parseHeader } from '../model/safetensors.ts';
import { DEFAULT_LORA } from '../model/lora.ts';
import { testGpu } from '../test/gpu.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { DeviceLost, ResumeMismatch } from '../errors.ts';
import type { RunEvent, TrainConfig } from '../train/run-types.ts';
import { LocalEngine } from './local-engine.ts';

const devices: Gpu[] = [];
const engine = new LocalEngine(async () => {
  const g = await testGpu();
  devices.push(g);
  return g;
}, nodeEngineHost());
afterAll(() => engine.dispose());

const CONFIG: TrainConfig = {
  mode: 'lora',
  lora: { ...DEFAULT_LORA, r: 4, alpha: 8, dropout: 0.05, targetModules: ['q_proj', 'v_proj'] },
  epochs: 1,
  maxSteps: 4,
  microBatch: 2,
  gradAccum: 1,
  seq: 48,
  packing: false,
  lr: 3e-3,
  schedule: 'cosine',
  warmupSteps: 1,
  weightDecay: 0,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  maxGradNorm: 1,
  seed: 3,
  checkpointing: false,
  evalEvery: 2,
  evalExamples: 4,
  earlyStopping: null,
  checkpointEvery: 2,
  labels: ['ham', 'spam'],
};

async function loaded() {
  const model = await engine.loadModel({ source: { kind: 'builtin', id: 'lorabook-tiny' } });
  const data = await engine.loadDataset({
    modelId: model.modelId,
    source: { kind: 'builtin', id: 'spam-ham' },
    options: { seed: 1, maxLength: 48, overLength: 'truncate-prompt', fractions: [0.6, 0.2, 0.2] },
    limitRows: 40,
  });
  return { model, data };
}

describe('engine run API on Dawn', () => {
  it('loads, trains, evaluates, compares and exports through handles', async () => {
    const { model, data } = await loaded();
    expect(model).toMatchObject({ architecture: 'LlamaForCausalLM', parameters: 869_504, maxPositions: 128 });
    expect(model.fit.fits).toBe(true);
    expect(data.stats.train.examples + data.stats.validation.examples + data.stats.test.examples).toBe(40);
    expect(data.sha256).toMatch(/^[0-9a-f]{64}$/);

    const events: RunEvent[] = [];
    const summary = await engine.startRun(
      { runId: 'r1', modelId: model.modelId, datasetId: data.datasetId, config: CONFIG, resume: false },
      (e) => {
        if (e.type !== 'progress' && e.type !== 'compare-token') events.push(e);
      },
    );
    const steps = events.flatMap((e) => (e.type === 'train-step' ? [e.metrics.step] : []));
    expect(steps).toEqual([1, 2, 3, 4]);
    expect(events.filter((e) => e.type === 'eval').length).toBeGreaterThanOrEqual(2);
    expect(summary.test?.base.accuracy).toBeTypeOf('number');
    expect(summary.test?.tuned.split).toBe('test');
    // per layer: q_proj A [4,128] + B [128,4], v_proj A [4,128] + B [64,4]; 4 layers
    expect(summary.trainable.trainable).toBe(4 * (4 * 128 + 128 * 4 + 4 * 128 + 64 * 4));

    const tokens: string[] = [];
    const cmp = await engine.compare(
      { runId: 'r1', prompts: ['Text: Subject: cheap meds\nLabel:'], options: { maxNewTokens: 3, doSample: false } },
      (e) => {
        if (e.type === 'compare-token') tokens.push(`${e.which}:${e.text}`);
      },
    );
    expect(cmp).toHaveLength(1);
    expect(tokens.some((t) => t.startsWith('base:')) && tokens.some((t) => t.startsWith('tuned:'))).toBe(true);

    const peft = await engine.exportRun('r1', 'peft');
    expect(peft.map((f) => f.path).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const st = peft.find((f) => f.path === 'adapter_model.safetensors')!;
    const header = parseHeader(st.bytes);
    expect(header.entries.map((e) => e.name)).toContain(
      'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
    );
    const csv = await engine.exportRun('r1', 'metrics-csv');
    expect(new TextDecoder().decode(csv[0].bytes).split('\n')[0]).toBe(
      'step,epoch,loss,lr,gradNorm,tokens,tokensPerSec,elapsedMs',
    );
  });

  it('a stopped run resumes from its checkpoint at the next step and ends bitwise as an uninterrupted one', async () => {
    const { model, data } = await loaded();
    const base = { modelId: model.modelId, datasetId: data.datasetId, config: CONFIG };
    const losses = (events: RunEvent[]) =>
      events.flatMap((e) => (e.type === 'train-step' ? [[e.metrics.step, e.metrics.loss] as const] : []));

    const whole: RunEvent[] = [];
    await engine.startRun({ ...base, runId: 'whole', resume: false }, (e) => {
      if (e.type !== 'progress' && e.type !== 'compare-token') whole.push(e);
    });

    const first: RunEvent[] = [];
    const stopped = await engine.startRun({ ...base, runId: 'cut', resume: false }, (e) => {
      if (e.type === 'progress' || e.type === 'compare-token') return;
      first.push(e);
      if (e.type === 'checkpoint' && e.kind === 'latest' && e.step === 2) void engine.stopRun('cut');
    });
    expect(stopped.stoppedBy).toBe('user');
    expect(losses(first).map(([s]) => s)).toEqual([1, 2]);

    const second: RunEvent[] = [];
    await engine.startRun({ ...base, runId: 'cut', resume: true }, (e) => {
      if (e.type !== 'progress' && e.type !== 'compare-token') second.push(e);
    });
    // the resumed run replays steps 1-2 from its checkpoint, then trains 3 and 4
    expect(losses(second).map(([s]) => s)).toEqual([1, 2, 3, 4]);
    expect(losses(second)).toEqual(losses(whole));

    const a = await engine.exportRun('whole', 'peft');
    const b = await engine.exportRun('cut', 'peft');
    const weightsOf = (files: typeof a) => files.find((f) => f.path === 'adapter_model.safetensors')!.bytes;
    expect(weightsOf(b)).toEqual(weightsOf(a));

    // The device is lost after the step-2 checkpoint: the run fails with DeviceLost; started again with
    // resume, the engine acquires a new device and continues at step 3, as after a page reload.
    const lost: RunEvent[] = [];
    const failed = engine.startRun({ ...base, runId: 'lost', resume: false }, (e) => {
      if (e.type === 'progress' || e.type === 'compare-token') return;
      lost.push(e);
      if (e.type === 'checkpoint' && e.kind === 'latest' && e.step === 2) devices[devices.length - 1].device.destroy();
    });
    await expect(failed).rejects.toBeInstanceOf(DeviceLost);
    const before = devices.length;
    const again: RunEvent[] = [];
    await engine.startRun({ ...base, runId: 'lost', resume: true }, (e) => {
      if (e.type !== 'progress' && e.type !== 'compare-token') again.push(e);
    });
    expect(devices.length).toBe(before + 1);
    expect(losses(again).map(([s]) => s)).toEqual([1, 2, 3, 4]);
    expect(losses(again)).toEqual(losses(whole));
    expect(losses(lost).slice(0, 2)).toEqual(losses(whole).slice(0, 2));
  });
});

describe('run guards', () => {
  it('refuses to resume on a differently prepared dataset, and a stop before training starts is kept', async () => {
    const { model, data } = await loaded();
    const base = { modelId: model.modelId, datasetId: data.datasetId, config: CONFIG };
    const states: string[] = [];
    const run = engine.startRun({ ...base, runId: 'early-stop', resume: false }, (e) => {
      if (e.type === 'run-state') states.push(e.state);
    });
    await engine.stopRun('early-stop'); // arrives while the model is still being built
    const summary = await run;
    expect(summary.stoppedBy).toBe('user');
    expect(summary.steps).toBe(0);

    const cut = engine.startRun({ ...base, runId: 'moved', resume: false }, (e) => {
      if (e.type === 'checkpoint' && e.kind === 'latest' && e.step === 2) void engine.stopRun('moved');
    });
    await cut;
    const other = await engine.loadDataset({
      modelId: model.modelId,
      source: { kind: 'builtin', id: 'spam-ham' },
      options: { seed: 2, maxLength: 48, overLength: 'truncate-prompt', fractions: [0.6, 0.2, 0.2] },
      limitRows: 40,
    });
    const err = await engine
      .startRun({ ...base, datasetId: other.datasetId, runId: 'moved', resume: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResumeMismatch);
    expect((err as ResumeMismatch).field).toBe('dataset');
  });
});

describe('QLoRA through the engine', () => {
  it('trains LoRA over the built-in model loaded as NF4 and lowers the test loss', async () => {
    const model = await engine.loadModel({ source: { kind: 'builtin', id: 'lorabook-tiny' }, storage: 'nf4' });
    const data = await engine.loadDataset({
      modelId: model.modelId,
      source: { kind: 'builtin', id: 'spam-ham' },
      options: { seed: 2, maxLength: 48, overLength: 'truncate-prompt', fractions: [0.7, 0.1, 0.2] },
      limitRows: 40,
    });
    const config: TrainConfig = {
      ...CONFIG,
      base: 'nf4',
      lora: { ...CONFIG.lora!, targetModules: 'all-linear' },
      maxSteps: 6,
      evalEvery: 0,
      checkpointEvery: 0,
      labels: undefined,
    };
    const summary = await engine.startRun({
      runId: 'qlora',
      modelId: model.modelId,
      datasetId: data.datasetId,
      config,
      resume: false,
    });
    expect(summary.steps).toBe(6);
    expect(summary.test!.tuned.loss).toBeLessThan(summary.test!.base.loss);
  });
});
