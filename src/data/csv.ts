// CSV and TSV (RFC 4180 quoting): a header row names the columns; a field that starts with a double quote
// may hold delimiters, newlines and doubled quotes (""). Fed line by line, a quoted field that spans lines
// keeps its state, so streaming never cuts a record. A record with the wrong number of fields, text after a
// closing quote, or a file that ends inside quotes (truncated) is a DatasetError for that record, named by
// the line it starts on; the records around it are kept. A quote inside an unquoted field is kept as text
// (many real TSV files do this).

import { rowError, type LineParser, type RecordSink } from './record.ts';

export interface CsvOptions {
  /** ',' for CSV, '\t' for TSV; any single character. */
  delimiter: string;
}

export class CsvParser implements LineParser {
  private header: string[] | null = null;
  private fields: string[] = [];
  private field = '';
  private inRecord = false;
  private inQuotes = false;
  private afterQuote = false;
  private atFieldStart = true;
  private recordStart = 0;
  private problem: { text: string; expected: string } | null = null;

  constructor(
    private readonly file: string,
    private readonly sink: RecordSink,
    private readonly opts: CsvOptions = { delimiter: ',' },
  ) {
    if (opts.delimiter.length !== 1 || opts.delimiter === '"' || opts.delimiter === '\n') {
      throw new RangeError(`CSV delimiter must be one character other than a quote or newline`);
    }
  }

  /** The column names, once the header row has been read. */
  get columns(): readonly string[] | null {
    return this.header;
  }

  line(text: string, lineNo: number): void {
    const d = this.opts.delimiter;
    if (!this.inRecord) {
      if (text.trim().length === 0) return;
      this.inRecord = true;
      this.recordStart = lineNo;
      this.fields = [];
      this.field = '';
      this.atFieldStart = true;
      this.afterQuote = false;
      this.problem = null;
    } else {
      // Only a quoted field continues onto the next line; the newline belongs to it.
      this.field += '\n';
    }
    let i = 0;
    while (i < text.length) {
      if (this.inQuotes) {
        const q = text.indexOf('"', i);
        if (q < 0) {
          this.field += text.slice(i);
          i = text.length;
        } else if (text[q + 1] === '"') {
          this.field += text.slice(i, q + 1);
          i = q + 2;
        } else {
          this.field += text.slice(i, q);
          this.inQuotes = false;
          this.afterQuote = true;
          i = q + 1;
        }
      } else if (this.afterQuote) {
        if (text[i] === d) {
          this.pushField();
          i++;
        } else {
          this.problem ??= {
            text: `unexpected ${JSON.stringify(text[i])} after a closing quote (a quote inside a quoted field is written "")`,
            expected: `a delimiter or the end of the record after a closing quote`,
          };
          this.afterQuote = false;
          this.field += text[i];
          i++;
        }
      } else if (this.atFieldStart && text[i] === '"') {
        this.inQuotes = true;
        this.atFieldStart = false;
        i++;
      } else {
        const next = text.indexOf(d, i);
        const end = next < 0 ? text.length : next;
        this.field += text.slice(i, end);
        this.atFieldStart = false;
        i = end;
        if (next >= 0) {
          this.pushField();
          i++;
        }
      }
    }
    if (!this.inQuotes) {
      this.pushField();
      this.finishRecord();
    }
  }

  end(): void {
    if (this.inRecord && this.inQuotes) {
      const where = `line ${this.recordStart}`;
      const problem = `the file ends inside a quoted field that starts on this line (is the file truncated?)`;
      this.sink.error(rowError(this.file, where, this.recordStart, null, 'a closing quote', problem));
      this.inRecord = false;
    }
  }

  private pushField(): void {
    this.fields.push(this.field);
    this.field = '';
    this.atFieldStart = true;
    this.afterQuote = false;
  }

  private finishRecord(): void {
    this.inRecord = false;
    const row = this.recordStart;
    const where = `line ${row}`;
    if (this.problem) {
      this.sink.error(rowError(this.file, where, row, null, this.problem.expected, this.problem.text));
      return;
    }
    if (this.header === null) {
      this.header = uniqueNames(this.fields);
      return;
    }
    const n = this.header.length;
    if (this.fields.length !== n) {
      const problem = `expected ${n} fields as in the header, got ${this.fields.length}`;
      this.sink.error(rowError(this.file, where, row, null, `${n} fields`, problem));
      return;
    }
    const fields: Record<string, string> = {};
    for (let c = 0; c < n; c++) fields[this.header[c]] = this.fields[c];
    this.sink.record({ row, fields });
  }
}

/** Header names, trimmed; an empty name becomes column_N and a repeated one gets _2, _3, ... */
function uniqueNames(raw: string[]): string[] {
  const seen = new Map<string, number>();
  return raw.map((r, i) => {
    const base = r.trim() || `column_${i + 1}`;
    const k = (seen.get(base) ?? 0) + 1;
    seen.set(base, k);
    return k === 1 ? base : `${base}_${k}`;
  });
}
