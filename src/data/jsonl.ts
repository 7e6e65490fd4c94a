// JSONL reading: one JSON object per non-empty line. A malformed line becomes a DatasetError naming
// the file, the 1-based line and what was expected; with `onBadRow` the good rows are kept and each bad
// one is reported instead of stopping at the first.

import { DatasetError } from '../errors.ts';

export type JsonRow = Record<string, unknown>;

export interface JsonlResult {
  rows: JsonRow[];
  /** 1-based line of each row, parallel to `rows`. */
  lines: number[];
  errors: DatasetError[];
}

export function parseJsonl(file: string, text: string, opts: { skipBadRows?: boolean } = {}): JsonlResult {
  const rows: JsonRow[] = [];
  const lines: number[] = [];
  const errors: DatasetError[] = [];
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const all = body.split(/\r?\n/);
  for (let i = 0; i < all.length; i++) {
    const line = all[i].trim();
    if (line.length === 0) continue;
    let err: DatasetError | null = null;
    try {
      const v: unknown = JSON.parse(line);
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        rows.push(v as JsonRow);
        lines.push(i + 1);
      } else {
        const got = Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v;
        err = new DatasetError(
          `${file}, line ${i + 1}: expected a JSON object, got ${got}`,
          file,
          i + 1,
          null,
          'a JSON object',
        );
      }
    } catch (e) {
      err = new DatasetError(
        `${file}, line ${i + 1}: not valid JSON (${(e as Error).message})`,
        file,
        i + 1,
        null,
        'a JSON object',
      );
    }
    if (err) {
      if (!opts.skipBadRows) throw err;
      errors.push(err);
    }
  }
  return { rows, lines, errors };
}
