// Notebooks in IndexedDB (the `notebooks` store of src/store/db.ts, keyed by id): save with an updated
// timestamp (autosave calls it on every edit), load, list for the notebook picker, delete, duplicate.
// A notebook opened from a share link or a lesson is imported under a NEW id, so opening a link can never
// overwrite a notebook the user already has.

import type { Notebook } from '../share/notebook.ts';

export interface NotebookSummary {
  id: string;
  title: string;
  createdAt: number;
  updatedAt: number;
  cellCount: number;
  /** Opened from a lesson or a teacher's link. */
  lesson: boolean;
}

export class NotebookStore {
  static open(dbName?: string): Promise<NotebookStore> {
    void dbName;
    throw new Error('not implemented');
  }
  /** Writes the notebook with updatedAt = now (ms); returns what was stored. */
  save(nb: Notebook, now?: number): Promise<Notebook> {
    void nb;
    void now;
    throw new Error('not implemented');
  }
  load(id: string): Promise<Notebook | null> {
    void id;
    throw new Error('not implemented');
  }
  /** Every notebook, most recently updated first. */
  list(): Promise<NotebookSummary[]> {
    throw new Error('not implemented');
  }
  delete(id: string): Promise<void> {
    void id;
    throw new Error('not implemented');
  }
  /** A copy under a new id, titled "<title> (copy)". */
  duplicate(id: string, now?: number): Promise<Notebook> {
    void id;
    void now;
    throw new Error('not implemented');
  }
  /** Saves a notebook from a link or a lesson under a new id; never touches existing notebooks. */
  importNotebook(nb: Notebook, now?: number): Promise<Notebook> {
    void nb;
    void now;
    throw new Error('not implemented');
  }
}
