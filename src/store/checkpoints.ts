// Training checkpoints in IndexedDB (the CheckpointStore the trainer writes to in the browser). A
// checkpoint's tensors go in as pieces of a few MiB (their own store, keyed [runId, kind, writeId, tensor,
// part]), each with its SHA-256; then its manifest, in its own transaction, is the commit point. A tab
// closed or crashed mid-write leaves pieces that no manifest names: they never load and are swept by the
// next save of that run and kind. The record of a run and kind keeps the previous complete write as well,
// so a current write whose pieces are missing or altered (evicted, tampered) falls back to the one
// before; pieces older than that are swept. Quota is checked before a byte is written.
// Saves and loads of one store run one at a time (a sweep never races a write of the same store).

import type { Checkpoint, CheckpointKind, CheckpointStore, CheckpointTensor } from '../train/run-types.ts';
import {
  CHECKPOINT_MANIFEST_VERSION,
  checkpointId,
  type CheckpointRecord,
  type CheckpointTensorManifest,
  type CheckpointWrite,
} from './checkpoint-manifest.ts';
import { openLorabookDb, type LorabookDb } from './db.ts';
import { pieceProblem, sha256Hex, splitPieces } from './pieces.ts';
import { checkQuota, defaultStorage, toQuotaError, type QuotaWording, type StorageLike } from './quota.ts';

export const CHECKPOINT_PIECE_BYTES = 4 * 1024 * 1024;

const KINDS: readonly CheckpointKind[] = ['latest', 'best'];

const WORDING: QuotaWording = {
  subject: 'The checkpoint',
  freeable: 'the checkpoints of other runs',
  otherwise: 'Free space in the browser (site data: cached models, other runs) or checkpoint less often.',
};

export interface CheckpointSummary {
  kind: CheckpointKind;
  step: number;
  /** Bytes of the current write's tensors. */
  bytes: number;
  createdAt: number;
}

export interface RunCheckpoints {
  runId: string;
  checkpoints: CheckpointSummary[];
  /** Everything the run holds in storage (current and previous writes' tensors). */
  bytes: number;
  /** The furthest step saved (what a resume continues from, when it is the latest checkpoint's). */
  step: number;
  /** The best step as the most recent checkpoint recorded it. */
  bestStep: number | null;
  /** When the most recent checkpoint was written. */
  updatedAt: number;
}

export interface CheckedLoad {
  checkpoint: Checkpoint | null;
  /** What was wrong with the writes that did not load (empty when the current one loaded). */
  problems: string[];
}

export interface IdbCheckpointStoreOptions {
  /** The database's name (tests); the app's by default. */
  dbName?: string;
  /** navigator.storage by default; null skips the quota check (Node). */
  storage?: StorageLike | null;
  pieceBytes?: number;
  /** Tests: runs after the pieces are written and before the manifest (throw here to simulate a crash). */
  beforeCommit?: (writeId: string) => Promise<void>;
}

type PieceKey = [string, string, string, number, number];

const byteView = (t: Float32Array) => new Uint8Array(t.buffer, t.byteOffset, t.byteLength);

function newWriteId(): string {
  const r = crypto.getRandomValues(new Uint8Array(6));
  return `${Date.now().toString(36)}-${Array.from(r, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function writeBytes(w: CheckpointWrite | null): number {
  return w ? w.totalBytes : 0;
}

export class IdbCheckpointStore implements CheckpointStore {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly db: LorabookDb,
    private readonly o: IdbCheckpointStoreOptions,
  ) {}

  static async open(o: IdbCheckpointStoreOptions = {}): Promise<IdbCheckpointStore> {
    return new IdbCheckpointStore(await openLorabookDb(o.dbName), o);
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.queue.then(f, f);
    this.queue = p.catch(() => undefined);
    return p;
  }

  save(checkpoint: Checkpoint): Promise<void> {
    return this.serial(() => this.write(checkpoint));
  }

  load(runId: string, kind: CheckpointKind): Promise<Checkpoint | null> {
    return this.loadChecked(runId, kind).then((r) => r.checkpoint);
  }

  /** load, saying what was wrong with a write that did not load (a fallback to the previous one). */
  loadChecked(runId: string, kind: CheckpointKind): Promise<CheckedLoad> {
    return this.serial(() => this.read(runId, kind));
  }

  /** Deletes the run's checkpoints: the manifests first (so nothing loads), then every piece. */
  delete(runId: string): Promise<void> {
    return this.serial(async () => {
      const tx = this.db.transaction('checkpoints', 'readwrite');
      await Promise.all([...KINDS.map((k) => tx.store.delete(checkpointId(runId, k))), tx.done]);
      await this.db.delete('checkpointChunks', IDBKeyRange.bound([runId], [runId, []]));
    });
  }

  /** Runs with their checkpoints (step, kind, bytes, time), the most recently written first. */
  async list(): Promise<RunCheckpoints[]> {
    const runs = new Map<string, RunCheckpoints>();
    for (const rec of await this.db.getAll('checkpoints')) {
      const c = rec.current;
      const run = runs.get(rec.runId) ?? {
        runId: rec.runId,
        checkpoints: [],
        bytes: 0,
        step: c.step,
        bestStep: c.state.bestStep,
        updatedAt: c.createdAt,
      };
      run.checkpoints.push({ kind: rec.kind, step: c.step, bytes: c.totalBytes, createdAt: c.createdAt });
      run.bytes += writeBytes(c) + writeBytes(rec.previous);
      run.step = Math.max(run.step, c.step);
      if (c.createdAt >= run.updatedAt) {
        run.updatedAt = c.createdAt;
        run.bestStep = c.state.bestStep;
      }
      runs.set(rec.runId, run);
    }
    for (const r of runs.values()) r.checkpoints.sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind));
    return [...runs.values()].sort((a, b) => b.updatedAt - a.updatedAt);
  }

  /**
   * Removes pieces that no manifest names, for every run (writes cut short by a closed tab). Call it when
   * no other tab is writing checkpoints: a write in progress has no manifest yet. Returns the writes swept.
   */
  sweep(): Promise<number> {
    return this.serial(async () => {
      const keep = new Set<string>();
      for (const r of await this.db.getAll('checkpoints')) {
        for (const w of [r.current, r.previous]) if (w) keep.add(`${r.runId}\u0000${r.kind}\u0000${w.writeId}`);
      }
      const orphans: [string, string, string][] = [];
      let cursor = await this.db.transaction('checkpointChunks').store.openKeyCursor();
      while (cursor) {
        const [runId, kind, writeId] = cursor.key;
        if (!keep.has(`${runId}\u0000${kind}\u0000${writeId}`)) orphans.push([runId, kind, writeId]);
        cursor = await cursor.continue([runId, kind, writeId, []] as unknown as PieceKey);
      }
      for (const [runId, kind, writeId] of orphans) await this.deleteWrite(runId, kind, writeId);
      return orphans.length;
    });
  }

  private async deleteWrite(runId: string, kind: string, writeId: string): Promise<void> {
    await this.db.delete('checkpointChunks', IDBKeyRange.bound([runId, kind, writeId], [runId, kind, writeId, []]));
  }

  /** Deletes the pieces of a run and kind that belong to none of the kept writes. */
  private async sweepKind(runId: string, kind: CheckpointKind, keep: (string | undefined)[]): Promise<void> {
    const writes: string[] = [];
    let cursor = await this.db
      .transaction('checkpointChunks')
      .store.openKeyCursor(IDBKeyRange.bound([runId, kind], [runId, kind, []]));
    while (cursor) {
      const writeId = cursor.key[2];
      if (!keep.includes(writeId)) writes.push(writeId);
      cursor = await cursor.continue([runId, kind, writeId, []] as unknown as PieceKey);
    }
    for (const w of writes) await this.deleteWrite(runId, kind, w);
  }

  private async checkRoom(c: Checkpoint, bytes: number): Promise<void> {
    const others = (await this.list())
      .filter((r) => r.runId !== c.state.runId)
      .map((r) => ({ name: `run ${r.runId}`, bytes: r.bytes }));
    await checkQuota(bytes, this.o.storage === undefined ? defaultStorage() : this.o.storage, others, WORDING);
  }

  private async putTensor(
    runId: string,
    kind: CheckpointKind,
    writeId: string,
    index: number,
    t: CheckpointTensor,
  ): Promise<CheckpointTensorManifest> {
    if (!(t.data instanceof Float32Array)) {
      throw new TypeError(`checkpoint tensor ${t.name} is not a Float32Array`);
    }
    const pieces = splitPieces([byteView(t.data)], this.o.pieceBytes ?? CHECKPOINT_PIECE_BYTES);
    const hashes = await Promise.all(pieces.map(sha256Hex));
    try {
      const tx = this.db.transaction('checkpointChunks', 'readwrite');
      const puts = pieces.map((p, i) => tx.store.put({ bytes: p.slice().buffer }, [runId, kind, writeId, index, i]));
      await Promise.all([...puts, tx.done]);
    } catch (e) {
      throw toQuotaError(e, t.data.byteLength);
    }
    return {
      name: t.name,
      length: t.data.length,
      parts: pieces.map((p, i) => ({ bytes: p.length, sha256: hashes[i] })),
    };
  }

  private async write(c: Checkpoint): Promise<void> {
    const { runId } = c.state;
    if (!KINDS.includes(c.kind)) throw new TypeError(`unknown checkpoint kind ${String(c.kind)}`);
    const totalBytes = c.tensors.reduce((a, t) => a + t.data.byteLength, 0);
    // The state (config, metric history) is small beside the tensors; its JSON size bounds it well enough.
    const stateBytes = new TextEncoder().encode(JSON.stringify(c.state)).length;
    await this.checkRoom(c, totalBytes + stateBytes);

    const id = checkpointId(runId, c.kind);
    const writeId = newWriteId();
    const tensors: CheckpointTensorManifest[] = [];
    for (const [i, t] of c.tensors.entries()) tensors.push(await this.putTensor(runId, c.kind, writeId, i, t));
    await this.o.beforeCommit?.(writeId);

    const before = await this.db.get('checkpoints', id);
    const current: CheckpointWrite = {
      version: CHECKPOINT_MANIFEST_VERSION,
      writeId,
      step: c.state.step,
      createdAt: Date.now(),
      totalBytes,
      state: c.state,
      tensors,
    };
    const record: CheckpointRecord = { id, runId, kind: c.kind, current, previous: before?.current ?? null };
    try {
      await this.db.put('checkpoints', record);
    } catch (e) {
      throw toQuotaError(e, stateBytes);
    }
    await this.sweepKind(runId, c.kind, [writeId, record.previous?.writeId]);
  }

  /** The write's tensors if every piece is there and matches its hash; otherwise what is wrong. */
  private async readTensors(
    rec: CheckpointRecord,
    w: CheckpointWrite,
  ): Promise<{ tensors: CheckpointTensor[] } | { problem: string }> {
    if (w.version !== CHECKPOINT_MANIFEST_VERSION) return { problem: `manifest version ${w.version}` };
    const tensors: CheckpointTensor[] = [];
    for (const [i, t] of w.tensors.entries()) {
      const tx = this.db.transaction('checkpointChunks');
      const key = (p: number): PieceKey => [rec.runId, rec.kind, w.writeId, i, p];
      const recs = await Promise.all(t.parts.map((_, p) => tx.store.get(key(p))));
      const out = new Uint8Array(t.length * 4);
      let at = 0;
      for (const [p, part] of t.parts.entries()) {
        const bytes = recs[p] && new Uint8Array(recs[p].bytes);
        const what = `piece ${p} of ${t.name} (step ${w.step}, ${rec.kind})`;
        const problem = await pieceProblem(what, bytes, part);
        if (problem || !bytes) return { problem: problem ?? what };
        if (at + bytes.length > out.length) return { problem: `the pieces of ${t.name} exceed its length` };
        out.set(bytes, at);
        at += bytes.length;
      }
      if (at !== out.length) return { problem: `the pieces of ${t.name} hold ${at} of its ${out.length} bytes` };
      tensors.push({ name: t.name, data: new Float32Array(out.buffer) });
    }
    return { tensors };
  }

  private async read(runId: string, kind: CheckpointKind): Promise<CheckedLoad> {
    const rec = await this.db.get('checkpoints', checkpointId(runId, kind));
    if (!rec) return { checkpoint: null, problems: [] };
    const problems: string[] = [];
    for (const w of [rec.current, rec.previous]) {
      if (!w) continue;
      const got = await this.readTensors(rec, w);
      if ('problem' in got) {
        problems.push(got.problem);
        continue;
      }
      if (w !== rec.current) {
        // The current write is broken: the previous one becomes current, and the broken pieces go.
        await this.db.put('checkpoints', { ...rec, current: w, previous: null });
        await this.sweepKind(runId, kind, [w.writeId]);
      }
      return { checkpoint: { kind, state: w.state, tensors: got.tensors }, problems };
    }
    // Nothing loads: the record and its pieces are deleted, as the weight cache does with a corrupt entry.
    await this.db.delete('checkpoints', rec.id);
    await this.sweepKind(runId, kind, []);
    return { checkpoint: null, problems };
  }
}
