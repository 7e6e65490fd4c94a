// A notebook as plain data: what is saved to IndexedDB, what a share link carries (compressed, in the URL
// fragment), and what the notebook UI's state classes are built from. Cells hold their configuration only;
// results (metrics, reports, outputs) belong to runs and are recomputed by running the cells.

import type { TrainConfig } from '../train/run-types.ts';

export const NOTEBOOK_VERSION = 1;

export type ModelSource =
  | { kind: 'builtin'; id: string }
  | { kind: 'hub'; repo: string; revision: string; resolvedSha?: string }
  | { kind: 'local'; name: string };

export type DatasetSource =
  | { kind: 'builtin'; id: string }
  /** Rows given inline (pasted, or small enough to travel in a link). */
  | { kind: 'inline'; name: string; text: string }
  /** Fetched from a URL; the content's SHA-256 (hex) is checked on load. */
  | { kind: 'url'; url: string; sha256: string; name: string }
  /** A file the user picked or dropped: not shareable by link. */
  | { kind: 'local'; name: string };

export interface DatasetCellConfig {
  source: DatasetSource | null;
  /** Shape and field mapping, template, budget: the data pipeline's options. */
  shape: string;
  maxLength: number;
  overLength: 'drop' | 'truncate' | 'truncate-prompt';
  fractions: [number, number, number];
  seed: number;
  /** Keep at most this many rows (0 = all): lessons use small, fast subsets. */
  limitRows: number;
}

export interface GenerateCellConfig {
  prompts: string[];
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
}

export interface ExportCellConfig {
  formats: ('peft' | 'merged' | 'onnx' | 'metrics')[];
}

export type Cell =
  | { id: string; type: 'markdown'; source: string }
  | { id: string; type: 'model'; source: ModelSource | null }
  | { id: string; type: 'dataset'; config: DatasetCellConfig }
  | { id: string; type: 'train'; config: TrainConfig; label?: string }
  | { id: string; type: 'evaluate' }
  | { id: string; type: 'generate'; config: GenerateCellConfig }
  | { id: string; type: 'export'; config: ExportCellConfig }
  | { id: string; type: 'device' };

export type CellType = Cell['type'];

/** What a teacher's link hides or locks (like TensorFlow Playground's `_hide` flags). */
export interface LessonView {
  /** Open read-only; the student may unlock to edit. */
  readOnly: boolean;
  /** Cell ids whose configuration is hidden (the cell still runs and shows its results). */
  hideConfig: string[];
  /** Names of controls hidden everywhere, e.g. 'train.lr', 'train.schedule'. */
  hideControls: string[];
}

export interface Notebook {
  version: number;
  id: string;
  title: string;
  cells: Cell[];
  createdAt: number;
  updatedAt: number;
  /** Set when opened from a lesson or a share link. */
  lesson?: LessonView;
  /** The losses recorded when the notebook was shared, by train cell id: re-running must reproduce them. */
  recordedLosses?: Record<string, number[]>;
}
