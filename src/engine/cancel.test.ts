// Cancelling the engine's long operations on Dawn, in process and through comlink (a MessageChannel
// standing in for the worker): a cancelled model load, dataset preparation, comparison or export rejects
// with the typed Cancelled error naming the operation, stops at its next check (no token is streamed
// after the cancel, no tensor read back), frees its GPU buffers, and the same call right after succeeds.

import * as Comlink from 'comlink';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { nodeEngineHost } from '../../companion/host.ts';
import { Cancelled } from '../errors.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { DEFAULT_LORA } from '../model/lora.ts';
import { testGpu } from '../test/gpu.ts';
import type { TrainConfig } from '../train/run-types.ts';
import { installErrorTransfer } from './comlink-errors.ts';
import { LocalEngine } from './local-engine.ts';
import type { CompareRequest, LoadDatasetRequest, RunApi, RunEventSink } from './run-api.ts';
import { WorkerEngine } from './worker-engine.ts';

let device: Gpu | null = null;
const engine = new LocalEngine(async () => (device = await testGpu()), nodeEngineHost());
installErrorTransfer();
const channel = new MessageChannel();
Comlink.expose(engine, channel.port1);
const remote = new WorkerEngine(Object.assign(channel.port2, { terminate: () => channel.port2.close() }));
afterAll(async () => {
  remote.terminate();
  channel.port1.close();
  await engine.dispose();
});

const CONFIG: TrainConfig = {
  mode: 'lora',
  lora: { ...DEFAULT_LORA, r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'] },
  epochs: 1,
  maxSteps: 1,
  microBatch: 2,
  gradAccum: 1,
  seq: 32,
  packing: false,
  lr: 1e-2,
  schedule: 'constant',
  warmupSteps: 0,
  weightDecay: 0,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  maxGradNorm: 1,
  seed: 1,
  checkpointing: false,
  evalEvery: 0,
  evalExamples: 2,
  earlyStopping: null,
  checkpointEvery: 0,
};

const MAX_NEW = 12;
// No EOS: every output runs to MAX_NEW tokens, so a finished comparison streams 2 * MAX_NEW tokens.
const COMPARE: CompareRequest = {
  runId: 'c',
  prompts: ['Text: Subject: meeting moved to Friday\nLabel:'],
  options: { maxNewTokens: MAX_NEW, doSample: false, eosTokenIds: [] },
};

let modelId = '';
const datasetRequest = (): LoadDatasetRequest => ({
  modelId,
  source: { kind: 'builtin', id: 'spam-ham' },
  options: { seed: 1, maxLength: 32, overLength: 'truncate-prompt', fractions: [0.6, 0.2, 0.2] },
  limitRows: 20,
});

/** Rejects when the promise resolves; otherwise returns what it threw. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('the operation finished although it was cancelled');
    },
    (e: unknown) => e,
  );
}

const live = async () => (await engine.memory()).liveBytes;

/** A sink that cancels `operationId` at the first event `when` accepts, and counts the events after it. */
function cancelAt(operationId: string, when: Parameters<RunEventSink>[0]['type'], via: RunApi = engine) {
  const seen = { before: 0, after: 0 };
  let sent = false;
  const sink: RunEventSink = (e) => {
    if (e.type !== when) return;
    if (sent) {
      seen.after++;
      return;
    }
    seen.before++;
    sent = true;
    void via.cancelOperation(operationId);
  };
  return { sink, seen };
}

describe('cancelling long engine operations', () => {
  beforeAll(async () => {
    // A load cancelled at its first progress event (the built-in model streams chunk by chunk) rejects.
    const cut = cancelAt('model-1', 'progress');
    const e = await rejection(
      engine.loadModel({ source: { kind: 'builtin', id: 'lorabook-tiny' } }, cut.sink, 'model-1'),
    );
    expect(e).toBeInstanceOf(Cancelled);
    expect(e).toMatchObject({ operation: 'loadModel', operationId: 'model-1' });
    expect((e as Error).message).toBe('loading model lorabook-tiny was cancelled');
    expect(cut.seen.after).toBe(0);
    modelId = (await engine.loadModel({ source: { kind: 'builtin', id: 'lorabook-tiny' } }, undefined, 'model-2'))
      .modelId;
    const data = await engine.loadDataset(datasetRequest());
    await engine.startRun({ runId: 'c', modelId, datasetId: data.datasetId, config: CONFIG, resume: false });
  }, 60_000);

  it('a dataset preparation cancelled mid-way rejects, and the next one works', async () => {
    const cut = cancelAt('data-1', 'progress');
    const e = await rejection(engine.loadDataset(datasetRequest(), cut.sink, 'data-1'));
    expect(e).toBeInstanceOf(Cancelled);
    expect(e).toMatchObject({ operation: 'loadDataset', operationId: 'data-1' });
    expect(cut.seen.before).toBe(1);
    const again = await engine.loadDataset(datasetRequest(), undefined, 'data-1'); // the id is free again
    expect(again.stats.train.examples).toBeGreaterThan(0);
  });

  it('a comparison cancelled after its first token streams no more, frees its buffers; the next one finishes', async () => {
    const before = await live();
    const cut = cancelAt('cmp-1', 'compare-token');
    const e = await rejection(engine.compare(COMPARE, cut.sink, 'cmp-1'));
    expect(e).toBeInstanceOf(Cancelled);
    expect(e).toMatchObject({ operation: 'compare', operationId: 'cmp-1' });
    expect(cut.seen).toEqual({ before: 1, after: 0 });
    expect(await live()).toBe(before);
    expect(await engine.cancelOperation('cmp-1')).toBe(false); // nothing runs under it any more

    let tokens = 0;
    const count: RunEventSink = (x) => {
      if (x.type === 'compare-token') tokens++;
    };
    const out = await engine.compare(COMPARE, count, 'cmp-2');
    expect(out).toHaveLength(1);
    expect(tokens).toBe(2 * MAX_NEW);
    expect(await live()).toBe(before);
  });

  it('an export cancelled between tensors reads no further tensor back, frees its buffers; the next one works', async () => {
    const gpu = device!;
    const before = await live();
    const read = gpu.readF32.bind(gpu);
    let reads = 0;
    const spy = vi.spyOn(gpu, 'readF32').mockImplementation((t) => {
      if (++reads === 3) void engine.cancelOperation('export-1');
      return read(t);
    });
    try {
      const progress = cancelAt('unused', 'progress');
      const e = await rejection(engine.exportRun('c', 'merged', progress.sink, 'export-1'));
      expect(e).toBeInstanceOf(Cancelled);
      expect(e).toMatchObject({ operation: 'exportRun', operationId: 'export-1' });
      expect(reads).toBe(3); // the model has dozens of tensors; none was read after the cancel
      expect(progress.seen.before).toBe(0); // it never reached writing the file
    } finally {
      spy.mockRestore();
    }
    expect(await live()).toBe(before);
    const files = await engine.exportRun('c', 'merged', undefined, 'export-2');
    expect(files.map((f) => f.path)).toContain('model.safetensors');

    // Cancelled at its first progress event (writing the safetensors), it stops there too.
    const cut = cancelAt('export-3', 'progress');
    expect(await rejection(engine.exportRun('c', 'merged', cut.sink, 'export-3'))).toBeInstanceOf(Cancelled);
    expect(cut.seen).toEqual({ before: 1, after: 0 });
    expect(await live()).toBe(before);
  });

  it('through comlink: the cancel crosses as a call, Cancelled comes back typed, and the engine stays usable', async () => {
    const before = await live();
    const cut = cancelAt('cmp-remote', 'compare-token', remote);
    const e = await rejection(remote.compare(COMPARE, cut.sink, 'cmp-remote'));
    expect(e).toBeInstanceOf(Cancelled);
    expect(e).toMatchObject({ name: 'Cancelled', operation: 'compare', operationId: 'cmp-remote' });
    // Tokens already on their way still arrive, but generation stopped long before its 2 * MAX_NEW.
    expect(cut.seen.before + cut.seen.after).toBeLessThan(2 * MAX_NEW);
    expect(await live()).toBe(before);

    const out = await remote.compare({ ...COMPARE, options: { ...COMPARE.options, maxNewTokens: 2 } });
    expect(out).toHaveLength(1);
    expect(await remote.cancelOperation('cmp-remote')).toBe(false);
  });
});
