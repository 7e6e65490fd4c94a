// Plain text as a dataset: each paragraph (blank-line separated, the default), each line, or the whole file
// becomes one record with a `text` field. Why paragraphs by default: prose files (books, speeches, notes)
// break into paragraphs naturally, and a line-per-record split would cut sentences of wrapped text.

import type { LineParser, RecordSink } from './record.ts';

export type TextUnit = 'paragraph' | 'line' | 'file';

export class PlainTextParser implements LineParser {
  private buf: string[] = [];
  private start = 0;

  constructor(
    private readonly sink: RecordSink,
    private readonly unit: TextUnit = 'paragraph',
  ) {}

  line(text: string, lineNo: number): void {
    const blank = text.trim().length === 0;
    if (this.unit === 'line') {
      if (!blank) this.sink.record({ row: lineNo, fields: { text } });
      return;
    }
    if (this.unit === 'paragraph' && blank) {
      this.flush();
      return;
    }
    if (this.buf.length === 0) {
      if (blank) return;
      this.start = lineNo;
    }
    this.buf.push(text);
  }

  end(): void {
    this.flush();
  }

  private flush(): void {
    if (this.buf.length === 0) return;
    this.sink.record({ row: this.start, fields: { text: this.buf.join('\n') } });
    this.buf = [];
  }
}
