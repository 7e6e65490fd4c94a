// The notebooks a person has: the saved ones (IndexedDB, through a NotebookStore), the built-in lessons,
// the one open now with its runner and autosave, and share links (open one as a new saved notebook; copy
// one for the open notebook with the losses its train cells recorded). A link that does not decode shows
// its typed error and leaves every saved notebook as it was.

import { NOTEBOOK_VERSION, type Notebook } from '../../share/notebook.ts';
import { describeError, type Problem } from '../problem.ts';
import { Autosaver } from './autosave.ts';
import { newId, starterCells } from './defaults.ts';
import { NotebookDoc } from './notebook-doc.svelte.ts';
import { lossesToRecord } from './reproduce.ts';
import type { NotebookRunner } from './runner.svelte.ts';

export interface NotebookListing {
  id: string;
  title: string;
  updatedAt: number;
}

/** Saved notebooks: what the notebook list needs of src/store/notebooks.ts (a Map in tests). */
export interface NotebookStore {
  list(): Promise<NotebookListing[]>;
  load(id: string): Promise<Notebook | null>;
  save(nb: Notebook): Promise<unknown>;
  delete(id: string): Promise<void>;
  /** Saves a notebook from a link under a new id; never touches existing notebooks. */
  importNotebook(nb: Notebook): Promise<Notebook>;
}

/** Share links (src/share/link.ts in the app): a notebook to and from the URL fragment (without '#'). */
export interface ShareCodec {
  /** The fragment for a notebook, e.g. 'nb=…'. */
  encode(nb: Notebook): Promise<string>;
  /** Whether a fragment is a share link at all. */
  isShareFragment(fragment: string): boolean;
  /** The notebook of a share-link fragment; throws a typed error for a bad link. */
  decode(fragment: string): Promise<Notebook>;
}

export type SaveState = 'saved' | 'pending' | 'failed';

export interface LibraryOptions {
  store: NotebookStore;
  lessons: readonly Notebook[];
  codec: ShareCodec;
  makeRunner: (doc: NotebookDoc) => NotebookRunner;
  autosaveMs?: number;
  now?: () => number;
}

export class Library {
  saved = $state.raw<NotebookListing[]>([]);
  doc = $state.raw<NotebookDoc | null>(null);
  runner = $state.raw<NotebookRunner | null>(null);
  saveState = $state<SaveState>('saved');
  saveProblem = $state.raw<Problem | null>(null);
  /** A share link that could not be opened. */
  linkProblem = $state.raw<Problem | null>(null);
  /** The notebook was just opened from a share link. */
  fromLink = $state(false);

  readonly lessons: readonly Notebook[];
  private readonly store: NotebookStore;
  private readonly codec: ShareCodec;
  private readonly makeRunner: (doc: NotebookDoc) => NotebookRunner;
  private readonly now: () => number;
  private readonly autosaveMs: number;
  private autosave: Autosaver | null = null;
  private unwatch: (() => void) | null = null;

  constructor(opts: LibraryOptions) {
    this.store = opts.store;
    this.lessons = opts.lessons;
    this.codec = opts.codec;
    this.makeRunner = opts.makeRunner;
    this.autosaveMs = opts.autosaveMs ?? 600;
    this.now = opts.now ?? Date.now;
  }

  async refresh(): Promise<void> {
    const list = await this.store.list();
    this.saved = [...list].sort((a, b) => b.updatedAt - a.updatedAt);
  }

  /** The lesson a notebook id belongs to (a lesson's edited copy keeps the lesson's id). */
  lessonOf(id: string): Notebook | undefined {
    return this.lessons.find((l) => l.id === id);
  }

  /** Opens a notebook as it is (not saved until it changes). */
  async open(nb: Notebook): Promise<NotebookDoc> {
    await this.close();
    const doc = new NotebookDoc(nb);
    const autosave = new Autosaver(
      () => this.store.save(doc.toNotebook()).then(() => this.refresh()),
      this.autosaveMs,
      (e) => {
        this.saveState = 'failed';
        this.saveProblem = describeError(e);
      },
      () => {
        if (!autosave.pending) this.saveState = 'saved';
        this.saveProblem = null;
      },
    );
    this.autosave = autosave;
    this.unwatch = doc.watch(() => {
      this.saveState = 'pending';
      autosave.schedule();
    });
    this.doc = doc;
    this.runner = this.makeRunner(doc);
    this.saveState = 'saved';
    return doc;
  }

  async openSaved(id: string): Promise<NotebookDoc> {
    const nb = await this.store.load(id);
    if (!nb) throw new Error(`no saved notebook ${id}`);
    this.fromLink = false;
    return this.open(nb);
  }

  /** A lesson: its saved copy when the student changed it, else the lesson as written. */
  async openLesson(lessonId: string): Promise<NotebookDoc> {
    const lesson = this.lessons.find((l) => l.id === lessonId);
    if (!lesson) throw new Error(`no lesson ${lessonId}`);
    this.fromLink = false;
    const saved = await this.store.load(lesson.id);
    return this.open(saved ?? structuredClone(lesson));
  }

  /** A new notebook with a starter chain of cells, saved at once. */
  async create(title = 'Untitled notebook'): Promise<NotebookDoc> {
    const t = this.now();
    const nb: Notebook = {
      version: NOTEBOOK_VERSION,
      id: newId('nb'),
      title,
      cells: starterCells(),
      createdAt: t,
      updatedAt: t,
    };
    await this.store.save(nb);
    await this.refresh();
    this.fromLink = false;
    return this.open(nb);
  }

  async remove(id: string): Promise<void> {
    if (this.doc?.id === id) {
      this.autosave?.cancel();
      await this.close();
    }
    await this.store.delete(id);
    await this.refresh();
  }

  /** Writes a pending save now and stops watching the open notebook. */
  async close(): Promise<void> {
    this.unwatch?.();
    this.unwatch = null;
    await this.autosave?.flush();
    this.autosave = null;
    this.doc = null;
    this.runner = null;
  }

  flush(): Promise<void> {
    return this.autosave?.flush() ?? Promise.resolve();
  }

  /**
   * Opens a share-link fragment (without '#') as a new saved notebook. Returns false when the fragment is
   * not a share link; a bad link sets `linkProblem` and changes nothing that is saved.
   */
  async openFragment(fragment: string): Promise<boolean> {
    if (!this.codec.isShareFragment(fragment)) return false;
    let nb: Notebook;
    try {
      nb = await this.codec.decode(fragment);
    } catch (e) {
      this.linkProblem = describeError(e);
      return true;
    }
    this.linkProblem = null;
    const copy = await this.store.importNotebook(nb);
    await this.refresh();
    await this.open(copy);
    this.fromLink = true;
    return true;
  }

  /** The share-link fragment of the open notebook, recording its train cells' first losses. */
  async shareFragment(): Promise<string> {
    const doc = this.doc;
    const runner = this.runner;
    if (!doc || !runner) throw new Error('no notebook is open');
    const nb = doc.toNotebook();
    const recorded: Record<string, number[]> = {};
    for (const c of doc.cells) {
      if (c.type !== 'train') continue;
      const losses = runner.runOf(c).steps.map((s) => s.loss);
      if (losses.length > 0) recorded[c.id] = lossesToRecord(losses);
      else if (doc.recordedLosses?.[c.id]) recorded[c.id] = doc.recordedLosses[c.id];
    }
    if (Object.keys(recorded).length > 0) nb.recordedLosses = recorded;
    else delete nb.recordedLosses;
    return this.codec.encode(nb);
  }
}
