// Notebooks in IndexedDB (the `notebooks` store of src/store/db.ts, keyed by id): save with an updated
// timestamp (autosave calls it on every edit), load, list for the notebook picker, delete, duplicate.
// A notebook opened from a share link or a lesson is imported under a NEW id with an insert that fails
// rather than replace, so opening a link can never overwrite a notebook the user already has.
// Notebooks must be plain data: pass `$state.snapshot(...)` of reactive state, not the proxy.

import { NOTEBOOK_VERSION, type Notebook } from '../share/notebook.ts';
import { openLorabookDb, type LorabookDb } from './db.ts';

export interface NotebookSummary {
  id: string;
  title: string;
  createdAt: number;
  updatedAt: number;
  cellCount: number;
  /** Opened from a lesson or a teacher's link. */
  lesson: boolean;
}

type Row = { id: string } & Record<string, unknown>;
const toRow = (nb: Notebook) => nb as unknown as Row;

/** A fresh id for a notebook (a random UUID: ids never repeat across devices that share links). */
export function newNotebookId(): string {
  return crypto.randomUUID();
}

/** An empty notebook with a new id. */
export function blankNotebook(title = 'Untitled notebook', now = Date.now()): Notebook {
  return { version: NOTEBOOK_VERSION, id: newNotebookId(), title, cells: [], createdAt: now, updatedAt: now };
}

function asNotebook(row: Row | undefined): Notebook | null {
  if (!row) return null;
  if (row.version !== NOTEBOOK_VERSION || !Array.isArray(row.cells)) {
    throw new Error(`The saved notebook ${row.id} has an unknown format (version ${String(row.version)})`);
  }
  return row as unknown as Notebook;
}

export class NotebookStore {
  private constructor(private readonly db: LorabookDb) {}

  /** The store over the app's database (`dbName` is for tests). */
  static async open(dbName?: string): Promise<NotebookStore> {
    return new NotebookStore(await openLorabookDb(dbName));
  }

  /** Writes the notebook with updatedAt = now (ms); returns what was stored. */
  async save(nb: Notebook, now = Date.now()): Promise<Notebook> {
    const saved: Notebook = { ...nb, updatedAt: Math.max(now, nb.createdAt) };
    await this.db.put('notebooks', toRow(saved));
    return saved;
  }

  async load(id: string): Promise<Notebook | null> {
    return asNotebook(await this.db.get('notebooks', id));
  }

  /** Every notebook, most recently updated first. */
  async list(): Promise<NotebookSummary[]> {
    const rows = (await this.db.getAll('notebooks')) as unknown as Notebook[];
    return rows
      .map((nb) => ({
        id: nb.id,
        title: nb.title,
        createdAt: nb.createdAt,
        updatedAt: nb.updatedAt,
        cellCount: nb.cells.length,
        lesson: nb.lesson !== undefined,
      }))
      .sort((a, b) => b.updatedAt - a.updatedAt || a.id.localeCompare(b.id));
  }

  async delete(id: string): Promise<void> {
    await this.db.delete('notebooks', id);
  }

  /** A copy under a new id, titled "<title> (copy)". */
  async duplicate(id: string, now = Date.now()): Promise<Notebook> {
    const nb = await this.load(id);
    if (!nb) throw new Error(`No saved notebook has the id ${id}`);
    return this.insertNew({ ...structuredClone(nb), title: `${nb.title} (copy)` }, now);
  }

  /** Saves a notebook from a link or a lesson under a new id; never touches existing notebooks. */
  async importNotebook(nb: Notebook, now = Date.now()): Promise<Notebook> {
    return this.insertNew(structuredClone(nb), now);
  }

  private async insertNew(nb: Notebook, now: number): Promise<Notebook> {
    const fresh: Notebook = { ...nb, id: newNotebookId(), createdAt: now, updatedAt: now };
    // add(), not put(): if the id were ever taken, the insert fails instead of replacing a notebook.
    await this.db.add('notebooks', toRow(fresh));
    return fresh;
  }
}
