import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Notebook } from '../../share/notebook.ts';
import { Autosaver } from './autosave.ts';
import { fakeEngine } from './fake-engine.ts';
import { Library, type ShareCodec } from './library.svelte.ts';
import { MemoryNotebookStore } from './memory-store.ts';
import { NotebookDoc } from './notebook-doc.svelte.ts';
import { compareLosses } from './reproduce.ts';
import { NotebookRunner } from './runner.svelte.ts';

class LinkError extends Error {
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
    this.name = 'ShareLinkError';
  }
}

const codec: ShareCodec = {
  isShareFragment: (f) => f.startsWith('nb='),
  encode: async (nb) => `nb=${encodeURIComponent(JSON.stringify(nb))}`,
  decode: async (f) => {
    try {
      return JSON.parse(decodeURIComponent(f.slice(3))) as Notebook;
    } catch {
      throw new LinkError('the link is damaged', 'corrupt');
    }
  },
};

const lesson: Notebook = {
  version: 1,
  id: 'lesson-1',
  title: 'LoRA in five minutes',
  cells: [
    { id: 'intro', type: 'markdown', source: '# Lesson' },
    { id: 'model', type: 'model', source: { kind: 'builtin', id: 'lorabook-tiny' } },
  ],
  createdAt: 0,
  updatedAt: 0,
  lesson: { readOnly: true, hideConfig: ['model'], hideControls: ['train.lr'] },
};

function library(store: MemoryNotebookStore) {
  return new Library({
    store,
    lessons: [lesson],
    codec,
    autosaveMs: 100,
    makeRunner: (doc) => new NotebookRunner(doc, () => fakeEngine({ losses: [3, 2, 1] }).engine),
  });
}

describe('NotebookDoc', () => {
  it('adds, moves and removes cells, and finds the cell of a type above', () => {
    const doc = new NotebookDoc({ ...lesson, lesson: undefined });
    const t = doc.add('train');
    const d = doc.add('dataset', 1);
    expect(doc.cells.map((c) => c.type)).toEqual(['markdown', 'dataset', 'model', 'train']);
    doc.move(d, 1);
    expect(doc.cells.map((c) => c.type)).toEqual(['markdown', 'model', 'dataset', 'train']);
    doc.move(t, 1); // past the end: nothing
    expect(doc.indexOf(t)).toBe(3);
    expect(doc.above(t, 'model')?.id).toBe('model');
    doc.remove('model');
    expect(doc.above(t, 'model')).toBeUndefined();
  });

  it('is read-only in lesson mode until unlocked, and hides what the lesson view names', () => {
    const doc = new NotebookDoc(lesson);
    expect(doc.readOnly).toBe(true);
    expect(() => doc.add('markdown')).toThrow(/read-only/);
    expect(doc.hidesConfig('model')).toBe(true);
    expect(doc.hidesControl('train.lr')).toBe(true);
    doc.unlock();
    expect(doc.readOnly).toBe(false);
    expect(doc.hidesConfig('model')).toBe(false);
    expect(doc.toNotebook().lesson?.readOnly).toBe(false);
  });

  it('notices edits made through bound fields, not its starting state', () => {
    const doc = new NotebookDoc({ ...lesson, lesson: undefined });
    const changes = vi.fn();
    const stop = doc.watch(changes);
    doc.check();
    expect(changes).not.toHaveBeenCalled();
    (doc.cells[0] as { source: string }).source = 'edited';
    doc.check();
    expect(changes).toHaveBeenCalledTimes(1);
    stop();
  });
});

describe('Autosaver', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('saves once after a burst of edits settles', async () => {
    const save = vi.fn(async () => {});
    const a = new Autosaver(save, 500, () => {});
    a.schedule();
    await vi.advanceTimersByTimeAsync(300);
    a.schedule();
    await vi.advanceTimersByTimeAsync(300);
    expect(save).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(300);
    expect(save).toHaveBeenCalledTimes(1);
  });

  it('reports a failed save', async () => {
    const onError = vi.fn();
    const a = new Autosaver(() => Promise.reject(new Error('quota')), 10, onError);
    a.schedule();
    await a.flush();
    expect(onError).toHaveBeenCalledWith(new Error('quota'));
  });
});

describe('compareLosses', () => {
  it('matches only exact values', () => {
    expect(compareLosses([1, 2], [1])).toEqual({ kind: 'matching', checked: 1, recorded: 2 });
    expect(compareLosses([1, 2], [1, 2, 3])).toEqual({ kind: 'bitwise', recorded: 2 });
    expect(compareLosses([1, 2], [1, 2 + 1e-12])).toMatchObject({ kind: 'diverged', step: 2 });
    expect(compareLosses(undefined, [1])).toEqual({ kind: 'none' });
  });
});

describe('Library', () => {
  it('creates, autosaves edits, lists newest first and deletes notebooks', async () => {
    const store = new MemoryNotebookStore();
    const lib = library(store);
    const doc = await lib.create('First');
    expect(store.map.get(doc.id)?.title).toBe('First');
    doc.title = 'Renamed';
    doc.check();
    expect(lib.saveState).toBe('pending');
    await lib.flush();
    expect(store.map.get(doc.id)?.title).toBe('Renamed');
    expect(lib.saveState).toBe('saved');
    expect(lib.saved.map((s) => s.title)).toEqual(['Renamed']);
    await lib.remove(doc.id);
    expect(store.map.size).toBe(0);
    expect(lib.doc).toBeNull();
  });

  it('opens a lesson unsaved until it changes, then keeps its edited copy', async () => {
    const store = new MemoryNotebookStore();
    const lib = library(store);
    const doc = await lib.openLesson('lesson-1');
    expect(doc.readOnly).toBe(true);
    expect(store.map.size).toBe(0);
    doc.unlock();
    doc.add('markdown');
    await lib.flush();
    expect(store.map.get('lesson-1')?.cells).toHaveLength(3);
    const again = await lib.openLesson('lesson-1');
    expect(again.cells).toHaveLength(3);
  });

  it('copies a link with the first recorded losses and opens it as a new saved notebook', async () => {
    const store = new MemoryNotebookStore();
    const lib = library(store);
    const doc = await lib.create('Shared');
    await lib.runner!.runAll();
    const fragment = await lib.shareFragment();
    const sent = JSON.parse(decodeURIComponent(fragment.slice(3))) as Notebook;
    const trainId = doc.cells.find((c) => c.type === 'train')!.id;
    expect(sent.recordedLosses).toEqual({ [trainId]: [3, 2, 1] });

    const other = library(new MemoryNotebookStore());
    expect(await other.openFragment(fragment)).toBe(true);
    expect(other.linkProblem).toBeNull();
    expect(other.doc?.title).toBe('Shared');
    expect(other.doc?.id).not.toBe(doc.id);
    expect(other.doc?.cells).toEqual(doc.cells);
    expect(other.saved).toHaveLength(1);
    await other.runner!.runAll();
    expect(other.runner!.runOf(other.doc!.cells.find((c) => c.type === 'train')!).reproduction.kind).toBe('bitwise');
  });

  it('shows a bad link error and leaves saved notebooks untouched', async () => {
    const store = new MemoryNotebookStore();
    const lib = library(store);
    await lib.create('Keep me');
    await lib.flush();
    const before = structuredClone([...store.map.values()]);
    const saves = store.saves;
    expect(await lib.openFragment('nb=%E0%A4%A')).toBe(true);
    expect(lib.linkProblem).toMatchObject({ name: 'ShareLinkError', message: 'the link is damaged' });
    expect([...store.map.values()]).toEqual(before);
    expect(store.saves).toBe(saves);
    expect(await lib.openFragment('somewhere-else')).toBe(false);
  });
});
