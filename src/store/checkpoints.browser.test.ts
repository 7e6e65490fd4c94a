// The checkpoint store on Chromium's real IndexedDB and navigator.storage (the quota check runs against
// the browser's estimate): a checkpoint of a few MiB in several pieces comes back byte for byte on a fresh
// connection, as after a page reload, and a write cut short before its manifest leaves the previous one.

import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LORA } from '../model/lora.ts';
import type { Checkpoint } from '../train/run-types.ts';
import { closeLorabookDb } from './db.ts';
import { IdbCheckpointStore } from './checkpoints.ts';
import { defaultStorage } from './quota.ts';

const DB = `lorabook-ckpt-browser-test-${Date.now()}`;

afterEach(async () => {
  await closeLorabookDb(DB);
  await new Promise<void>((resolve) => {
    const r = indexedDB.deleteDatabase(DB);
    r.onsuccess = r.onerror = r.onblocked = () => resolve();
  });
});

function checkpoint(step: number): Checkpoint {
  const big = new Float32Array(700_000); // 2.7 MB: three 1 MiB pieces
  const bits = new Uint32Array(big.buffer);
  for (let i = 0; i < bits.length; i++) bits[i] = Math.imul(i + step, 2654435761) >>> 0; // NaNs included
  return {
    kind: 'latest',
    state: {
      runId: 'run-browser',
      step,
      cursor: { epoch: 1, index: step },
      microStep: step,
      optimizerT: step,
      seed: 3,
      bestStep: null,
      bestValidationLoss: null,
      sinceBest: 0,
      config: {
        mode: 'lora',
        lora: DEFAULT_LORA,
        epochs: 1,
        maxSteps: 0,
        microBatch: 1,
        gradAccum: 1,
        seq: 16,
        packing: false,
        lr: 1e-3,
        schedule: 'constant',
        warmupSteps: 0,
        weightDecay: 0,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        maxGradNorm: 0,
        seed: 3,
        checkpointing: false,
        evalEvery: 0,
        evalExamples: 0,
        earlyStopping: null,
        checkpointEvery: 1,
      },
      history: { steps: [], evals: [] },
    },
    tensors: [
      { name: 'big', data: big },
      { name: 'small', data: Float32Array.of(-0, 1.5, NaN) },
    ],
  };
}

const same = (a: Float32Array, b: Float32Array) => {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return x.length === y.length && x.every((v, i) => v === y[i]);
};

describe('checkpoint store in Chromium', () => {
  it('reloads a multi-piece checkpoint byte for byte, and survives a write cut short', async () => {
    expect(defaultStorage()).not.toBeNull();
    let crash = false;
    const store = await IdbCheckpointStore.open({
      dbName: DB,
      pieceBytes: 1 << 20,
      beforeCommit: () => (crash ? Promise.reject(new Error('tab closed')) : Promise.resolve()),
    });
    await store.save(checkpoint(5));
    crash = true;
    await expect(store.save(checkpoint(6))).rejects.toThrow('tab closed');
    expect(await store.db.count('checkpointChunks')).toBe(4 + 4);

    await closeLorabookDb(DB);
    const again = await IdbCheckpointStore.open({ dbName: DB, pieceBytes: 1 << 20 });
    const got = await again.load('run-browser', 'latest');
    const want = checkpoint(5);
    expect(got?.state).toEqual(want.state);
    expect(got!.tensors.map((t) => t.name)).toEqual(['big', 'small']);
    expect(got!.tensors.every((t, i) => same(t.data, want.tensors[i].data))).toBe(true);
    expect(await again.sweep()).toBe(1);
    expect(await again.db.count('checkpointChunks')).toBe(4);
  });
});
