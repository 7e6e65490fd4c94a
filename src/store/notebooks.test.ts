// Notebook storage over fake-indexeddb: save stamps updatedAt and reloads the same notebook (also after the
// connection is reopened, as after a page reload), list summarizes newest first, delete and duplicate, and
// a notebook imported from a link always gets a new id and never replaces a saved one, even with the same id.

import 'fake-indexeddb/auto';
import { beforeEach, describe, expect, it } from 'vitest';
import { sampleNotebook } from '../share/test-notebook.ts';
import { closeLorabookDb } from './db.ts';
import { NotebookStore, blankNotebook } from './notebooks.ts';

let dbCount = 0;
let dbName = '';
let store: NotebookStore;

beforeEach(async () => {
  dbName = `lorabook-notebooks-test-${++dbCount}`;
  store = await NotebookStore.open(dbName);
});

describe('notebook store', () => {
  it('saves with updatedAt and loads the same notebook after a reopen', async () => {
    const nb = sampleNotebook();
    const saved = await store.save(nb, 1_800_000_000_000);
    expect(saved.updatedAt).toBe(1_800_000_000_000);
    expect(saved.createdAt).toBe(nb.createdAt);
    await closeLorabookDb(dbName);
    store = await NotebookStore.open(dbName);
    expect(await store.load(nb.id)).toEqual({ ...nb, updatedAt: 1_800_000_000_000 });
    expect(await store.load('missing')).toBeNull();
  });

  it('autosave overwrites the same notebook (same id) with the newer content', async () => {
    const nb = sampleNotebook();
    await store.save(nb, 1_800_000_000_000);
    await store.save({ ...nb, title: 'renamed', cells: nb.cells.slice(0, 2) }, 1_800_000_000_500);
    const back = await store.load(nb.id);
    expect(back?.title).toBe('renamed');
    expect(back?.cells.length).toBe(2);
    expect(await store.list()).toHaveLength(1);
  });

  it('lists summaries newest first and deletes', async () => {
    await store.save(sampleNotebook({ id: 'a', title: 'A' }), 1_800_000_000_001);
    await store.save(blankNotebook('B', 1_700_000_000_000), 1_800_000_000_003);
    await store.save(sampleNotebook({ id: 'c', title: 'C', lesson: undefined }), 1_800_000_000_002);
    const list = await store.list();
    expect(list.map((s) => s.title)).toEqual(['B', 'C', 'A']);
    expect(list[2]).toEqual({
      id: 'a',
      title: 'A',
      createdAt: 1_700_000_000_000,
      updatedAt: 1_800_000_000_001,
      cellCount: 8,
      lesson: true,
    });
    expect(list[0].cellCount).toBe(0);
    expect(list[1].lesson).toBe(false);
    await store.delete('a');
    expect((await store.list()).map((s) => s.title)).toEqual(['B', 'C']);
  });

  it('duplicates under a new id', async () => {
    const nb = await store.save(sampleNotebook(), 1_800_000_000_000);
    const copy = await store.duplicate(nb.id, 1_800_000_000_100);
    expect(copy.id).not.toBe(nb.id);
    expect(copy.title).toBe('A sample notebook (copy)');
    expect(copy.cells).toEqual(nb.cells);
    expect(copy.createdAt).toBe(1_800_000_000_100);
    expect(await store.load(nb.id)).toEqual(nb);
    expect(await store.load(copy.id)).toEqual(copy);
    await expect(store.duplicate('missing')).rejects.toThrow(/missing/);
  });

  it('imports a linked notebook as a new notebook and never overwrites a saved one', async () => {
    const mine = await store.save(sampleNotebook({ title: 'mine' }), 1_800_000_000_000);
    // A link that carries the very same id, with other content.
    const linked = sampleNotebook({ title: 'from a link', cells: [] });
    expect(linked.id).toBe(mine.id);
    const a = await store.importNotebook(linked, 1_800_000_000_200);
    const b = await store.importNotebook(linked, 1_800_000_000_300);
    expect(new Set([a.id, b.id, mine.id]).size).toBe(3);
    expect(await store.load(mine.id)).toEqual(mine);
    expect(await store.load(a.id)).toEqual({
      ...linked,
      id: a.id,
      createdAt: 1_800_000_000_200,
      updatedAt: 1_800_000_000_200,
    });
    expect((await store.list()).map((s) => s.title)).toEqual(['from a link', 'from a link', 'mine']);
  });
});
