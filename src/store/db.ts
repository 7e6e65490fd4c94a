// The one module that owns lorabook's IndexedDB schema and its versions. Why one: several openDB calls
// with versions of their own block each other (an upgrade waits until every other connection closes), so
// every object store of the app is declared here, and a change of schema is a new version with its own
// step in `upgrade`. Other modules take the opened database from `openLorabookDb`.
//
// Version 1:
//   chunks      [entry, name, part] → bytes: the pieces of cached weight tensors and model files
//   manifests   entry → the manifest of a cached model (written last: no manifest, no entry)
//   refs        "repo@revision" → the commit sha it last resolved to (offline loads)
//   datasets, notebooks, runs, checkpoints: keyed by id, for the data, notebook and trainer layers
//
// Version 2:
//   checkpointChunks  [runId, kind, writeId, tensor, part] → bytes: the pieces of checkpoint tensors (their
//                     own store, so the weight cache's sweep of pieces without a model manifest never
//                     touches them, and a run's pieces are one key range); the `checkpoints` store holds
//                     their manifests (CheckpointRecord)

import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { CheckpointRecord } from './checkpoint-manifest.ts';
import type { WeightManifest } from './manifest.ts';

export const DB_NAME = 'lorabook';
export const DB_VERSION = 2;

export interface ChunkRecord {
  bytes: ArrayBuffer;
}

export interface RefRecord {
  repo: string;
  revision: string;
  sha: string;
  at: number;
}

export interface LorabookSchema extends DBSchema {
  chunks: { key: [string, string, number]; value: ChunkRecord };
  manifests: { key: string; value: WeightManifest };
  refs: { key: string; value: RefRecord };
  datasets: { key: string; value: { id: string } & Record<string, unknown> };
  notebooks: { key: string; value: { id: string } & Record<string, unknown> };
  runs: { key: string; value: { id: string } & Record<string, unknown> };
  checkpoints: { key: string; value: CheckpointRecord };
  checkpointChunks: { key: [string, string, string, number, number]; value: ChunkRecord };
}

export type LorabookDb = IDBPDatabase<LorabookSchema>;

const opened = new Map<string, Promise<LorabookDb>>();

/** The database (one connection per name and page, shared). `name` is for tests. */
export function openLorabookDb(name = DB_NAME): Promise<LorabookDb> {
  let p = opened.get(name);
  if (!p) {
    p = openDB<LorabookSchema>(name, DB_VERSION, {
      upgrade(db, oldVersion) {
        if (oldVersion < 1) {
          db.createObjectStore('chunks');
          db.createObjectStore('manifests');
          db.createObjectStore('refs');
          for (const s of ['datasets', 'notebooks', 'runs', 'checkpoints'] as const) {
            db.createObjectStore(s, { keyPath: 'id' });
          }
        }
        if (oldVersion < 2) db.createObjectStore('checkpointChunks');
      },
      // Another tab opens a newer version: let it upgrade, reopen on the next call.
      blocking() {
        void p?.then((db) => db.close());
        opened.delete(name);
      },
      terminated() {
        opened.delete(name);
      },
    });
    opened.set(name, p);
    p.catch(() => opened.delete(name));
  }
  return p;
}

/** Closes the shared connection (tests, or before deleting the database). */
export async function closeLorabookDb(name = DB_NAME): Promise<void> {
  const p = opened.get(name);
  opened.delete(name);
  if (p) (await p).close();
}
