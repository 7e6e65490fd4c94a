// One open notebook as reactive state: its title and ordered cells (deep $state, so forms bind straight
// into a cell's config), the lesson view a teacher's link asked for, and the losses recorded when it was
// shared. Editing goes through the methods here or through bound form fields; `watch` notices both and
// calls back (the autosave), so nothing is lost between edits.

import { NOTEBOOK_VERSION, type Cell, type CellType, type LessonView, type Notebook } from '../../share/notebook.ts';
import { newCell, type ModelFacts } from './defaults.ts';

export class NotebookDoc {
  readonly id: string;
  readonly createdAt: number;
  title = $state('');
  cells = $state<Cell[]>([]);
  lesson = $state.raw<LessonView | undefined>(undefined);
  recordedLosses = $state.raw<Record<string, number[]> | undefined>(undefined);
  /** The student pressed "Unlock to edit" on a read-only lesson. */
  unlocked = $state(false);
  updatedAt = $state(0);

  constructor(nb: Notebook) {
    this.id = nb.id;
    this.createdAt = nb.createdAt;
    this.title = nb.title;
    this.cells = structuredClone(nb.cells);
    this.lesson = nb.lesson ? structuredClone(nb.lesson) : undefined;
    this.recordedLosses = nb.recordedLosses ? structuredClone(nb.recordedLosses) : undefined;
    this.updatedAt = nb.updatedAt;
  }

  /** Read-only until unlocked, when the lesson view says so. */
  get readOnly(): boolean {
    return Boolean(this.lesson?.readOnly) && !this.unlocked;
  }

  /** Whether this cell's configuration is hidden (lesson view, while locked). */
  hidesConfig(cellId: string): boolean {
    return !this.unlocked && (this.lesson?.hideConfig.includes(cellId) ?? false);
  }

  /** Whether a named control ('train.lr', 'export', ...) is hidden (lesson view, while locked). */
  hidesControl(name: string): boolean {
    return !this.unlocked && (this.lesson?.hideControls.includes(name) ?? false);
  }

  unlock(): void {
    this.unlocked = true;
  }

  /** Plain data, as saved and shared. Unlocking a lesson keeps its view (the link's) but not read-only. */
  toNotebook(): Notebook {
    const nb: Notebook = {
      version: NOTEBOOK_VERSION,
      id: this.id,
      title: this.title,
      cells: $state.snapshot(this.cells) as Cell[],
      createdAt: this.createdAt,
      updatedAt: this.updatedAt,
    };
    if (this.lesson) nb.lesson = this.unlocked ? { ...this.lesson, readOnly: false } : { ...this.lesson };
    if (this.recordedLosses) nb.recordedLosses = structuredClone(this.recordedLosses);
    return nb;
  }

  indexOf(cellId: string): number {
    return this.cells.findIndex((c) => c.id === cellId);
  }

  cell(cellId: string): Cell | undefined {
    return this.cells.find((c) => c.id === cellId);
  }

  /** Inserts a new cell of `type` at `at` (default: the end). Returns its id. */
  add(type: CellType, at = this.cells.length, model?: ModelFacts): string {
    this.assertEditable();
    const c = newCell(type, model);
    this.cells.splice(Math.max(0, Math.min(at, this.cells.length)), 0, c);
    this.check();
    return c.id;
  }

  remove(cellId: string): void {
    this.assertEditable();
    const i = this.indexOf(cellId);
    if (i >= 0) this.cells.splice(i, 1);
    this.check();
  }

  /** Moves a cell up (-1) or down (+1); a move past either end does nothing. */
  move(cellId: string, delta: -1 | 1): void {
    this.assertEditable();
    const i = this.indexOf(cellId);
    const j = i + delta;
    if (i < 0 || j < 0 || j >= this.cells.length) return;
    const [c] = this.cells.splice(i, 1);
    this.cells.splice(j, 0, c);
    this.check();
  }

  /** The cell of `type` nearest above `cellId`, if any. */
  above<T extends CellType>(cellId: string, type: T): Extract<Cell, { type: T }> | undefined {
    for (let i = this.indexOf(cellId) - 1; i >= 0; i--) {
      const c = this.cells[i];
      if (c.type === type) return c as Extract<Cell, { type: T }>;
    }
    return undefined;
  }

  /**
   * Calls `onChange` after a change to the title or cells, not for the state it starts with. The methods
   * here check at once; edits through bound fields are checked by `check()`, which the notebook view calls
   * from an effect that reads the whole notebook. Returns the function that stops watching.
   */
  watch(onChange: () => void): () => void {
    this.#snapshot = this.#serialize();
    this.#onChange = onChange;
    return () => {
      if (this.#onChange === onChange) this.#onChange = null;
    };
  }

  /** Reports a change (to the watcher) if the title or any cell differs from the last check. */
  check(): void {
    const now = this.#serialize();
    if (now === this.#snapshot) return;
    this.#snapshot = now;
    this.updatedAt = Date.now();
    this.#onChange?.();
  }

  #snapshot = '';
  #onChange: (() => void) | null = null;

  #serialize(): string {
    return JSON.stringify([this.title, this.cells]);
  }

  private assertEditable(): void {
    if (this.readOnly) throw new Error('this lesson is read-only: unlock it to edit');
  }
}
