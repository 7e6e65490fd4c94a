// Saved notebooks in a Map, for tests of the notebook list and share links (the app uses IndexedDB).

import type { Notebook } from '../../share/notebook.ts';
import type { NotebookStore } from './library.svelte.ts';

export class MemoryNotebookStore implements NotebookStore {
  readonly map = new Map<string, Notebook>();
  saves = 0;

  async list() {
    return [...this.map.values()].map((n) => ({ id: n.id, title: n.title, updatedAt: n.updatedAt }));
  }

  async load(id: string) {
    const n = this.map.get(id);
    return n ? structuredClone(n) : null;
  }

  async save(nb: Notebook) {
    this.saves++;
    this.map.set(nb.id, structuredClone(nb));
  }

  async delete(id: string) {
    this.map.delete(id);
  }

  async importNotebook(nb: Notebook) {
    const copy = { ...structuredClone(nb), id: `imported-${this.map.size + 1}` };
    await this.save(copy);
    return copy;
  }
}
