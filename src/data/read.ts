// readDataset: a file (string, Blob/File or byte stream) to raw records, streamed. The format is taken from
// the file name and the first non-blank character unless the caller overrides it. Bad rows follow the
// caller's choice: 'stop' throws the first DatasetError; 'skip' keeps every good row and returns the bad
// ones (all counted, the first `maxErrorsKept` kept) so the UI can show them and let the user decide.
// Between line batches the reader reports progress and yields to the event loop, so a 100 MB file read on
// the main thread does not freeze the tab (in the trainer worker it simply runs).

import { DatasetError } from '../errors.ts';
import { CsvParser } from './csv.ts';
import { JsonArrayParser } from './json-array.ts';
import { JsonlParser } from './jsonl.ts';
import { readLines, type DataSource } from './lines.ts';
import { PlainTextParser, type TextUnit } from './plain-text.ts';
import type { LineParser, RawRecord, RecordSink } from './record.ts';

export type DatasetFormat = 'jsonl' | 'json' | 'csv' | 'tsv' | 'text';
export type BadRowPolicy = 'stop' | 'skip';

export interface ReadOptions {
  /** The file's name: used in every error message and to recognise the format. */
  file: string;
  format?: DatasetFormat | 'auto';
  badRows?: BadRowPolicy;
  /** How plain text is cut into records. */
  textUnit?: TextUnit;
  /** Overrides the CSV/TSV delimiter (e.g. ';'). */
  delimiter?: string;
  /** Errors kept in the result (all are counted). */
  maxErrorsKept?: number;
  onProgress?: (done: number, total: number | null) => void;
  signal?: AbortSignal;
}

export interface ReadResult {
  file: string;
  format: DatasetFormat;
  records: RawRecord[];
  /** Bad rows, in file order (at most maxErrorsKept of them). */
  errors: DatasetError[];
  badRowCount: number;
  /** Field names seen, in first-seen order (CSV: the header). */
  columns: string[];
}

const EXTENSIONS: Record<string, DatasetFormat> = {
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  json: 'json',
  csv: 'csv',
  tsv: 'tsv',
  tab: 'tsv',
  txt: 'text',
  text: 'text',
  md: 'text',
};

/** Whether a line parses as JSON on its own (a JSONL line does; the "{" of a pretty-printed object does not). */
function parses(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

/** The format a file most likely has, from its extension and its first non-blank line. */
export function detectFormat(file: string, firstLine: string | null): DatasetFormat {
  const ext = /\.([a-z0-9]+)$/i.exec(file)?.[1]?.toLowerCase();
  const byExt = ext ? EXTENSIONS[ext] : undefined;
  const line = firstLine?.trim() ?? '';
  if (byExt === 'json' || byExt === 'jsonl' || byExt === undefined) {
    if (line.startsWith('[')) return 'json';
    // A .json file that opens with an object spread over lines is one JSON document, not JSON Lines:
    // read as JSON it fails once, clearly, instead of once per line.
    if (line.startsWith('{')) return byExt === 'json' && !parses(line) ? 'json' : 'jsonl';
    if (byExt !== undefined) return byExt;
    return 'text';
  }
  return byExt;
}

function makeParser(format: DatasetFormat, opts: ReadOptions, sink: RecordSink): LineParser {
  switch (format) {
    case 'jsonl':
      return new JsonlParser(opts.file, sink);
    case 'json':
      return new JsonArrayParser(opts.file, sink);
    case 'csv':
      return new CsvParser(opts.file, sink, { delimiter: opts.delimiter ?? ',' });
    case 'tsv':
      return new CsvParser(opts.file, sink, { delimiter: opts.delimiter ?? '\t' });
    case 'text':
      return new PlainTextParser(sink, opts.textUnit ?? 'paragraph');
  }
}

const YIELD_EVERY_MS = 30;

export async function readDataset(source: DataSource, opts: ReadOptions): Promise<ReadResult> {
  const policy = opts.badRows ?? 'stop';
  const keep = opts.maxErrorsKept ?? 1000;
  const records: RawRecord[] = [];
  const errors: DatasetError[] = [];
  const columns = new Set<string>();
  let badRowCount = 0;
  const sink: RecordSink = {
    record: (r) => {
      records.push(r);
      for (const k of Object.keys(r.fields)) columns.add(k);
    },
    error: (e) => {
      if (policy === 'stop') throw e;
      badRowCount++;
      if (errors.length < keep) errors.push(e);
    },
  };
  let parser: LineParser | null = null;
  let format: DatasetFormat | null = opts.format && opts.format !== 'auto' ? opts.format : null;
  let lastLine = 0;
  let lastYield = performance.now();
  for await (const batch of readLines(source)) {
    opts.signal?.throwIfAborted();
    if (parser === null) {
      const first = batch.lines.find((l) => l.trim().length > 0);
      if (first === undefined && format === null) {
        lastLine = batch.firstLine + batch.lines.length - 1;
        continue;
      }
      format ??= detectFormat(opts.file, first ?? null);
      parser = makeParser(format, opts, sink);
      // blank lines skipped while sniffing carry no records in any format
    }
    for (let i = 0; i < batch.lines.length; i++) parser.line(batch.lines[i], batch.firstLine + i);
    lastLine = batch.firstLine + batch.lines.length - 1;
    opts.onProgress?.(batch.done, batch.total);
    if (performance.now() - lastYield > YIELD_EVERY_MS) {
      await new Promise((r) => setTimeout(r, 0));
      lastYield = performance.now();
    }
  }
  if (parser === null) {
    throw new DatasetError(`${opts.file}: the file is empty`, opts.file, 1, null, 'at least one record');
  }
  parser.end(lastLine);
  if (records.length === 0 && badRowCount === 0) {
    const what = format === 'csv' || format === 'tsv' ? 'a header but no rows' : 'no records';
    throw new DatasetError(`${opts.file}: the file has ${what}`, opts.file, 1, null, 'at least one record');
  }
  if (parser instanceof CsvParser && parser.columns) for (const c of parser.columns) columns.add(c);
  return { file: opts.file, format: format!, records, errors, badRowCount, columns: [...columns] };
}
