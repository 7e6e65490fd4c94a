// The IndexedDB checkpoint store in Node over fake-indexeddb (Chromium's real IndexedDB:
// checkpoints.browser.test.ts): bytes come back exactly (NaN payloads, −0, subnormals), across a fresh
// connection; a write cut short before its manifest, a manifest whose pieces are missing or altered, never
// load, and the previous checkpoint of that kind does; superseded pieces are swept; quota is checked
// before a byte is written; list and delete.

import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { beforeEach, describe, expect, it } from 'vitest';
import { QuotaExceeded } from '../errors.ts';
import { DEFAULT_LORA } from '../model/lora.ts';
import type { Checkpoint, CheckpointKind, CheckpointState, TrainConfig } from '../train/run-types.ts';
import { checkpointId } from './checkpoint-manifest.ts';
import { closeLorabookDb, openLorabookDb } from './db.ts';
import { IdbCheckpointStore, type IdbCheckpointStoreOptions } from './checkpoints.ts';

const CONFIG: TrainConfig = {
  mode: 'lora',
  lora: DEFAULT_LORA,
  epochs: 1,
  maxSteps: 10,
  microBatch: 2,
  gradAccum: 1,
  seq: 32,
  packing: false,
  lr: 1e-3,
  schedule: 'cosine',
  warmupSteps: 2,
  weightDecay: 0,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  maxGradNorm: 1,
  seed: 7,
  checkpointing: false,
  evalEvery: 5,
  evalExamples: 0,
  earlyStopping: { patience: 2, threshold: 0 },
  checkpointEvery: 2,
};

function state(runId: string, step: number): CheckpointState {
  return {
    runId,
    step,
    cursor: { epoch: 0, index: 4 * step },
    microStep: 2 * step,
    optimizerT: step,
    seed: 7,
    bestStep: step > 1 ? 1 : null,
    bestValidationLoss: step > 1 ? 2.5 : null,
    sinceBest: 0,
    config: CONFIG,
    history: { steps: [], evals: [] },
  };
}

/** Values from a seed; the first tensor also holds the bit patterns a float copy would lose. */
function checkpoint(runId: string, step: number, kind: CheckpointKind = 'latest'): Checkpoint {
  const a = new Float32Array(100).map((_, i) => Math.sin(i * 0.37 + step));
  const bits = new Uint32Array(a.buffer);
  bits[0] = 0x7fc0_0001; // quiet NaN with a payload
  bits[1] = 0xffc1_2345; // negative NaN, other payload
  bits[2] = 0x7f80_0001; // signalling NaN
  bits[3] = 0x8000_0000; // −0
  bits[4] = 0x0000_0001; // smallest subnormal
  a[5] = -Infinity;
  const b = new Float32Array(37).map((_, i) => i * step - 0.5);
  return {
    kind,
    state: state(runId, step),
    tensors: [
      { name: 'model.layers.0.self_attn.q_proj.lora_A.weight', data: a },
      { name: 'adam.m.model.layers.0.self_attn.q_proj.lora_A.weight', data: b },
      { name: 'empty', data: new Float32Array(0) },
    ],
  };
}

const bytesOf = (t: Float32Array) => Array.from(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));

function expectSameCheckpoint(got: Checkpoint | null, want: Checkpoint): void {
  expect(got).not.toBeNull();
  expect(got!.kind).toBe(want.kind);
  expect(got!.state).toEqual(want.state);
  expect(got!.tensors.map((t) => t.name)).toEqual(want.tensors.map((t) => t.name));
  got!.tensors.forEach((t, i) => {
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(bytesOf(t.data)).toEqual(bytesOf(want.tensors[i].data));
  });
}

let dbName = '';
let dbCount = 0;
// 64-byte pieces: the 400-byte tensor is 7 pieces, so part order and the last short piece are exercised.
const open = (o: IdbCheckpointStoreOptions = {}) =>
  IdbCheckpointStore.open({ dbName, storage: null, pieceBytes: 64, ...o });

/** The distinct write ids that have pieces for a run and kind. */
async function writesWithPieces(store: IdbCheckpointStore, runId: string, kind: CheckpointKind): Promise<string[]> {
  const keys = await store.db.getAllKeys('checkpointChunks', IDBKeyRange.bound([runId, kind], [runId, kind, []]));
  return [...new Set(keys.map((k) => k[2]))];
}

beforeEach(() => {
  dbName = `lorabook-ckpt-test-${++dbCount}`;
});

describe('IdbCheckpointStore', () => {
  it('loads exactly the bytes and state saved, after a fresh connection', async () => {
    const store = await open();
    const c = checkpoint('run-1', 3);
    await store.save(c);
    // The tensor's bytes are copied on save: changing the caller's array afterwards changes nothing stored.
    const saved = checkpoint('run-1', 3);
    c.tensors[1].data[0] = 99;
    await closeLorabookDb(dbName);
    const again = await open();
    const got = await again.load('run-1', 'latest');
    expectSameCheckpoint(got, saved);
    const bits = new Uint32Array(got!.tensors[0].data.buffer);
    expect(bits[0].toString(16)).toBe('7fc00001');
    expect(Object.is(got!.tensors[0].data[3], -0)).toBe(true);
    expect(await again.load('run-1', 'best')).toBeNull();
    expect(await again.load('other-run', 'latest')).toBeNull();
    // 100 + 37 floats in 64-byte pieces: 7 + 3 pieces, nothing for the empty tensor.
    expect(await again.db.count('checkpointChunks')).toBe(10);
  });

  it('keeps kinds apart and returns the last complete save of each', async () => {
    const store = await open();
    await store.save(checkpoint('run-1', 2, 'best'));
    await store.save(checkpoint('run-1', 2));
    await store.save(checkpoint('run-1', 4));
    expectSameCheckpoint(await store.load('run-1', 'latest'), checkpoint('run-1', 4));
    expectSameCheckpoint(await store.load('run-1', 'best'), checkpoint('run-1', 2, 'best'));
  });

  it('a write cut short before its manifest never loads; the previous one does, and its pieces are swept', async () => {
    const crash = new Error('tab closed');
    let crashedWrite = '';
    const store = await open({
      beforeCommit: (writeId) => {
        if (!crashedWrite) return Promise.resolve();
        crashedWrite = writeId;
        return Promise.reject(crash);
      },
    });
    await store.save(checkpoint('run-1', 2));
    crashedWrite = 'armed';
    await expect(store.save(checkpoint('run-1', 4))).rejects.toBe(crash);
    // The crashed write's pieces are in the database, but no manifest names them.
    expect(await writesWithPieces(store, 'run-1', 'latest')).toContain(crashedWrite);
    await closeLorabookDb(dbName);
    const again = await open();
    const got = await again.loadChecked('run-1', 'latest');
    expect(got.problems).toEqual([]);
    expectSameCheckpoint(got.checkpoint, checkpoint('run-1', 2));

    await again.save(checkpoint('run-1', 6));
    const writes = await writesWithPieces(again, 'run-1', 'latest');
    expect(writes).not.toContain(crashedWrite);
    expect(writes).toHaveLength(2); // step 6 and step 2 (kept as the fallback)
    expectSameCheckpoint(await again.load('run-1', 'latest'), checkpoint('run-1', 6));
  });

  it('a manifest whose pieces are missing or altered falls back to the previous checkpoint', async () => {
    const store = await open();
    await store.save(checkpoint('run-1', 2));
    await store.save(checkpoint('run-1', 4));
    const rec = (await store.db.get('checkpoints', checkpointId('run-1', 'latest')))!;
    // Piece 3 of tensor 0 of the step-4 write disappears (evicted, or never written).
    await store.db.delete('checkpointChunks', ['run-1', 'latest', rec.current.writeId, 0, 3]);
    const got = await store.loadChecked('run-1', 'latest');
    expect(got.problems).toHaveLength(1);
    expect(got.problems[0]).toMatch(/piece 3 of model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight .*missing/);
    expectSameCheckpoint(got.checkpoint, checkpoint('run-1', 2));
    // The broken write is gone for good: step 2 is now current, and only its pieces remain.
    expect(await writesWithPieces(store, 'run-1', 'latest')).toEqual([rec.previous!.writeId]);

    // An altered byte is caught by the piece's SHA-256.
    await store.save(checkpoint('run-1', 6));
    const rec6 = (await store.db.get('checkpoints', checkpointId('run-1', 'latest')))!;
    const key: [string, string, string, number, number] = ['run-1', 'latest', rec6.current.writeId, 1, 0];
    const piece = new Uint8Array((await store.db.get('checkpointChunks', key))!.bytes);
    piece[5] ^= 1;
    await store.db.put('checkpointChunks', { bytes: piece.buffer }, key);
    const altered = await store.loadChecked('run-1', 'latest');
    expect(altered.problems[0]).toMatch(/does not match its SHA-256/);
    expectSameCheckpoint(altered.checkpoint, checkpoint('run-1', 2));

    // With both writes broken nothing loads, and the record is deleted.
    const rec2 = (await store.db.get('checkpoints', checkpointId('run-1', 'latest')))!;
    await store.db.delete('checkpointChunks', ['run-1', 'latest', rec2.current.writeId, 1, 0]);
    const none = await store.loadChecked('run-1', 'latest');
    expect(none.checkpoint).toBeNull();
    expect(none.problems[0]).toMatch(/piece 0 of adam\.m\..* missing/);
    expect(await store.db.get('checkpoints', checkpointId('run-1', 'latest'))).toBeUndefined();
    expect(await writesWithPieces(store, 'run-1', 'latest')).toEqual([]);
  });

  it('sweeps the pieces of superseded checkpoints, keeping the current and the previous write', async () => {
    const store = await open();
    for (const step of [1, 2, 3, 4, 5]) await store.save(checkpoint('run-1', step));
    const rec = (await store.db.get('checkpoints', checkpointId('run-1', 'latest')))!;
    expect(rec.current.step).toBe(5);
    expect(rec.previous!.step).toBe(4);
    expect((await writesWithPieces(store, 'run-1', 'latest')).sort()).toEqual(
      [rec.current.writeId, rec.previous!.writeId].sort(),
    );
    expect(await store.db.count('checkpointChunks')).toBe(20);
  });

  it('checks the quota before writing and names the bytes needed and free', async () => {
    const storage = { estimate: () => Promise.resolve({ usage: 9_900, quota: 10_000 }) };
    const store = await open({ storage });
    const c = checkpoint('run-1', 1);
    const err = await store.save(c).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(QuotaExceeded);
    const q = err as QuotaExceeded;
    expect(q.availableBytes).toBe(100);
    expect(q.neededBytes).toBeGreaterThanOrEqual((100 + 37) * 4);
    expect(q.message).toMatch(/^The checkpoint needs/);
    expect(await store.db.count('checkpointChunks')).toBe(0);
    expect(await store.load('run-1', 'latest')).toBeNull();
  });

  it('lists runs with their checkpoints and deletes one run without touching another', async () => {
    const store = await open();
    await store.save(checkpoint('run-a', 2));
    await store.save(checkpoint('run-a', 1, 'best'));
    await store.save(checkpoint('run-b', 3));
    const list = await store.list();
    expect(list.map((r) => r.runId).sort()).toEqual(['run-a', 'run-b']);
    const a = list.find((r) => r.runId === 'run-a')!;
    expect(a.checkpoints.map(({ kind, step, bytes }) => ({ kind, step, bytes }))).toEqual([
      { kind: 'latest', step: 2, bytes: 548 },
      { kind: 'best', step: 1, bytes: 548 },
    ]);
    expect(a.bytes).toBe(1096);
    expect(a.step).toBe(2);
    expect(a.checkpoints.every((c) => c.createdAt > 0)).toBe(true);

    await store.delete('run-a');
    expect(await store.load('run-a', 'latest')).toBeNull();
    expect(await store.load('run-a', 'best')).toBeNull();
    expect(await writesWithPieces(store, 'run-a', 'latest')).toEqual([]);
    expect(await writesWithPieces(store, 'run-a', 'best')).toEqual([]);
    expectSameCheckpoint(await store.load('run-b', 'latest'), checkpoint('run-b', 3));
    expect((await store.list()).map((r) => r.runId)).toEqual(['run-b']);
  });

  it('sweep() removes pieces no manifest names, of any run, and nothing else', async () => {
    const store = await open();
    await store.save(checkpoint('run-a', 1));
    const db = await openLorabookDb(dbName);
    await db.put('checkpointChunks', { bytes: new ArrayBuffer(8) }, ['run-gone', 'latest', 'w1', 0, 0]);
    await db.put('checkpointChunks', { bytes: new ArrayBuffer(8) }, ['run-gone', 'latest', 'w1', 1, 0]);
    await db.put('checkpointChunks', { bytes: new ArrayBuffer(8) }, ['run-a', 'latest', 'w-crashed', 0, 0]);
    expect(await store.sweep()).toBe(2);
    expect(await db.count('checkpointChunks')).toBe(10);
    expectSameCheckpoint(await store.load('run-a', 'latest'), checkpoint('run-a', 1));
  });

  it('upgrades a version-1 database in place: cached data stays, checkpoints can be written', async () => {
    const v1 = await openDB(dbName, 1, {
      upgrade(db) {
        db.createObjectStore('chunks');
        db.createObjectStore('manifests');
        db.createObjectStore('refs');
        for (const s of ['datasets', 'notebooks', 'runs', 'checkpoints']) db.createObjectStore(s, { keyPath: 'id' });
      },
    });
    await v1.put('refs', { repo: 'a/b', revision: 'main', sha: 'c0ffee', at: 1 }, 'a/b@main');
    v1.close();
    const store = await open();
    expect(store.db.version).toBe(2);
    expect((await store.db.get('refs', 'a/b@main'))?.sha).toBe('c0ffee');
    await store.save(checkpoint('run-1', 1));
    expectSameCheckpoint(await store.load('run-1', 'latest'), checkpoint('run-1', 1));
  });
});
