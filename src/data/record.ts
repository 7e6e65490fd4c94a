// What every format reader produces: records (a row number and its fields) and per-row DatasetErrors,
// pushed into a sink as lines arrive. Why a sink and not arrays: the streaming reader decides per error
// whether to stop (throw) or keep going, and memory holds only what the caller keeps.

import { DatasetError } from '../errors.ts';

export type Fields = Record<string, unknown>;

export interface RawRecord {
  /** 1-based: the line a JSONL/CSV/text record starts on, or the element number in a JSON array. */
  row: number;
  fields: Fields;
}

export interface RecordSink {
  record(r: RawRecord): void;
  error(e: DatasetError): void;
}

/** A line-driven reader of one format. `end` flushes what is pending (and reports a truncated file). */
export interface LineParser {
  line(text: string, lineNo: number): void;
  end(lastLine: number): void;
}

/** The JSON type name a user would recognise, for "expected X, got Y" messages. */
export function jsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'number') return 'a number';
  if (typeof v === 'boolean') return 'a boolean';
  return typeof v;
}

/** A short, single-line excerpt of user text for error messages and reports. */
export function preview(text: string, max = 60): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

export function rowError(
  file: string,
  where: string,
  row: number,
  column: string | null,
  expected: string,
  problem: string,
): DatasetError {
  const col = column === null ? '' : `, column "${column}"`;
  return new DatasetError(`${file}, ${where}${col}: ${problem}`, file, row, column, expected);
}
