// JSONL (JSON Lines, NDJSON): one JSON object per non-empty line. A malformed line becomes a DatasetError
// naming the file, the 1-based line and what was expected; the good lines around it are kept.
// `JsonlParser` is the streaming form used by readDataset; `parseJsonl` is the same on a whole string.

import type { DatasetError } from '../errors.ts';
import { splitLines } from './lines.ts';
import { jsonTypeName, rowError, type Fields, type LineParser, type RecordSink } from './record.ts';

export type JsonRow = Fields;

export class JsonlParser implements LineParser {
  constructor(
    private readonly file: string,
    private readonly sink: RecordSink,
  ) {}

  line(text: string, lineNo: number): void {
    const line = text.trim();
    if (line.length === 0) return;
    const where = `line ${lineNo}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      const problem = `not valid JSON (${(e as Error).message})`;
      this.sink.error(rowError(this.file, where, lineNo, null, 'a JSON object', problem));
      return;
    }
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      this.sink.record({ row: lineNo, fields: v as Fields });
    } else {
      const problem = `expected a JSON object, got ${jsonTypeName(v)}`;
      this.sink.error(rowError(this.file, where, lineNo, null, 'a JSON object', problem));
    }
  }

  end(): void {}
}

export interface JsonlResult {
  rows: JsonRow[];
  /** 1-based line of each row, parallel to `rows`. */
  lines: number[];
  errors: DatasetError[];
}

/** Parses a whole JSONL string. Throws the first DatasetError unless `skipBadRows`. */
export function parseJsonl(file: string, text: string, opts: { skipBadRows?: boolean } = {}): JsonlResult {
  const out: JsonlResult = { rows: [], lines: [], errors: [] };
  const parser = new JsonlParser(file, {
    record: (r) => {
      out.rows.push(r.fields);
      out.lines.push(r.row);
    },
    error: (e) => {
      if (!opts.skipBadRows) throw e;
      out.errors.push(e);
    },
  });
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) parser.line(lines[i], i + 1);
  return out;
}
