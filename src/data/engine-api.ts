// The data pipeline as the engine serves it: what the UI asks for (a file, a tokenizer, options) and what
// comes back (plain, structured-cloneable reports), so the same calls work in-process, through the trainer
// worker and over the companion's WebSocket. The tokenized splits stay on the engine's side; the UI gets
// the counts, the cleaning report, the bad rows and a per-token view of the first training examples.

import { readDataset } from './read.ts';
import { detectShape, type ShapeName } from './shapes.ts';
import { prepareDataset, type PrepareOptions, type PreparedDataset } from './pipeline.ts';
import { loadTokenizerFromFiles, loadTokenizerFromHub, type TextTokenizer, type TokenizerFiles } from './tokenizer.ts';
import { viewTokens, type TokenViewRow } from './tokenize.ts';
import type { DatasetFormat } from './read.ts';

/** A dataset file: its name and either its text or a Blob/File (read streamed). */
export interface DatasetInput {
  name: string;
  text: string;
  /** When given, read instead of `text` (a File the user picked crosses to the worker without a copy). */
  blob?: Blob;
}

/** Where a tokenizer comes from: its files (e.g. a loaded model's), or a model id on the Hub. */
export type TokenizerSource = { files: TokenizerFiles; name?: string } | { model: string; revision?: string };

export interface PrepareDatasetRequest {
  file: DatasetInput;
  tokenizer: TokenizerSource;
  options: Omit<PrepareOptions, 'file' | 'onProgress' | 'signal'>;
  /** How many training examples to show token by token (default 1). */
  previewExamples?: number;
}

/** A bad row as plain data (an Error would lose its class and fields in a structured clone). */
export interface BadRow {
  file: string;
  row: number;
  column: string | null;
  expected: string;
  message: string;
}

export interface PrepareDatasetResult extends Omit<PreparedDataset, 'splits' | 'badRows'> {
  badRows: { count: number; rows: BadRow[] };
  /** Per-token views of the first training examples. */
  preview: { row: number; tokens: TokenViewRow[] }[];
}

export interface DatasetInspection {
  file: string;
  rows: number;
  fields: string[];
  format: DatasetFormat;
  /** The shape most rows have, or 'unknown' when no row has the fields of any shape. */
  shape: ShapeName | 'unknown';
}

const source = (f: DatasetInput) => f.blob ?? f.text;

/** Reads a dataset (any format) and says what it holds; a malformed row throws its DatasetError. */
export async function inspectDatasetFile(file: DatasetInput): Promise<DatasetInspection> {
  const read = await readDataset(source(file), { file: file.name });
  const { shape, shapeCounts } = detectShape(read.records);
  const known = (shapeCounts[shape] ?? 0) > 0;
  const fields = [...read.columns].sort();
  return { file: file.name, rows: read.records.length, fields, format: read.format, shape: known ? shape : 'unknown' };
}

export async function loadTokenizer(t: TokenizerSource): Promise<TextTokenizer> {
  return 'files' in t ? loadTokenizerFromFiles(t.files, t.name) : loadTokenizerFromHub(t.model, t.revision);
}

/**
 * Runs the whole pipeline; `onProgress` reports bytes read; an aborted `signal` stops it between batches.
 * Returns the report and the splits apart.
 */
export async function prepareDatasetRequest(
  req: PrepareDatasetRequest,
  onProgress?: (done: number, total: number | null) => void,
  signal?: AbortSignal,
): Promise<{ result: PrepareDatasetResult; prepared: PreparedDataset }> {
  const tok = await loadTokenizer(req.tokenizer);
  signal?.throwIfAborted();
  const opts = { ...req.options, file: req.file.name, onProgress, signal };
  const prepared = await prepareDataset(source(req.file), tok, opts);
  const { splits: _splits, badRows, ...report } = prepared;
  const rows = badRows.errors.map((e) => ({
    file: e.file,
    row: e.row,
    column: e.column,
    expected: e.expected,
    message: e.message,
  }));
  const preview = prepared.splits.train
    .slice(0, req.previewExamples ?? 1)
    .map((t) => ({ row: t.row, tokens: viewTokens(t, tok) }));
  return { result: { ...report, badRows: { count: badRows.count, rows }, preview }, prepared };
}
