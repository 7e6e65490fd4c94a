// A JSON file whose top level is an array of objects (what many tools export as "JSON"). Read line by line
// with a small scanner that only tracks strings and bracket depth, so each element is cut out and parsed on
// its own: a malformed element is a DatasetError for that element (its 1-based number, and the line it
// starts on in the message) while the others are kept. A broken array structure (text between elements, a
// file that ends before the closing bracket) stops the read there, with the elements before it kept.

import { jsonTypeName, rowError, type Fields, type LineParser, type RecordSink } from './record.ts';

type Phase = 'before' | 'between' | 'element' | 'after' | 'closed' | 'dead';

const STRING_STOP = /["\\]/g;

export class JsonArrayParser implements LineParser {
  private phase: Phase = 'before';
  private index = 0;
  private pieces: string[] = [];
  private startLine = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private lastLine = 0;

  constructor(
    private readonly file: string,
    private readonly sink: RecordSink,
  ) {}

  line(text: string, lineNo: number): void {
    this.lastLine = lineNo;
    if (this.phase === 'element') this.pieces.push('\n');
    let i = 0;
    let elemFrom = 0;
    while (i < text.length && this.phase !== 'dead') {
      if (this.phase === 'element') {
        if (this.inString) {
          if (this.escaped) {
            this.escaped = false;
            i++;
            continue;
          }
          STRING_STOP.lastIndex = i;
          const m = STRING_STOP.exec(text);
          if (!m) {
            i = text.length;
            continue;
          }
          if (m[0] === '\\') this.escaped = true;
          else this.inString = false;
          i = m.index + 1;
          continue;
        }
        const c = text[i];
        if (c === '"') this.inString = true;
        else if (c === '{' || c === '[') this.depth++;
        else if (c === '}' || c === ']') {
          if (this.depth === 0) {
            // a primitive element ended by the array's closing bracket
            this.pieces.push(text.slice(elemFrom, i));
            this.finishElement();
            continue;
          }
          this.depth--;
          if (this.depth === 0) {
            this.pieces.push(text.slice(elemFrom, i + 1));
            this.finishElement();
            i++;
            continue;
          }
        } else if (c === ',' && this.depth === 0) {
          this.pieces.push(text.slice(elemFrom, i));
          this.finishElement();
          continue;
        }
        i++;
        continue;
      }
      const c = text[i];
      if (c === ' ' || c === '\t' || c === '\r') {
        i++;
        continue;
      }
      if (this.phase === 'before') {
        if (c !== '[') return this.fail(lineNo, 'a JSON array', `expected "[" to open a JSON array, got "${c}"`);
        this.phase = 'between';
        i++;
      } else if (this.phase === 'between') {
        if (c === ']') {
          this.phase = 'closed';
          i++;
          continue;
        }
        this.phase = 'element';
        this.index++;
        this.startLine = lineNo;
        this.pieces = [];
        this.depth = 0;
        this.inString = false;
        elemFrom = i;
      } else if (this.phase === 'after') {
        if (c === ',') this.phase = 'between';
        else if (c === ']') this.phase = 'closed';
        else return this.fail(lineNo, '"," or "]"', `expected "," or "]" after element ${this.index}, got "${c}"`);
        i++;
      } else if (this.phase === 'closed') {
        return this.fail(lineNo, 'the end of the file', `unexpected "${c}" after the array's closing bracket`);
      }
    }
    if (this.phase === 'element') this.pieces.push(text.slice(elemFrom));
  }

  end(): void {
    if (this.phase === 'before') return; // empty file: the reader reports it
    if (this.phase === 'element' || this.phase === 'between' || this.phase === 'after') {
      const n = this.phase === 'element' ? this.index : this.index + 1;
      const where = `element ${n} (line ${this.lastLine})`;
      const problem = `the file ends before the array is closed (is the file truncated?)`;
      this.sink.error(rowError(this.file, where, n, null, '"]" closing the array', problem));
      this.phase = 'dead';
    }
  }

  private finishElement(): void {
    const text = this.pieces.join('').trim();
    this.pieces = [];
    this.phase = 'after';
    const n = this.index;
    const where = `element ${n} (line ${this.startLine})`;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      const problem = `not valid JSON (${(e as Error).message})`;
      this.sink.error(rowError(this.file, where, n, null, 'a JSON object', problem));
      return;
    }
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) this.sink.record({ row: n, fields: v as Fields });
    else {
      const problem = `expected a JSON object, got ${jsonTypeName(v)}`;
      this.sink.error(rowError(this.file, where, n, null, 'a JSON object', problem));
    }
  }

  private fail(lineNo: number, expected: string, problem: string): void {
    const n = Math.max(1, this.index);
    this.sink.error(
      rowError(this.file, `line ${lineNo}`, n, null, expected, `${problem}; the rest of the file is not read`),
    );
    this.phase = 'dead';
  }
}
