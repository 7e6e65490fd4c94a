import { describe, expect, it } from 'vitest';
import { DatasetError } from '../errors.ts';
import { parseJsonl } from './jsonl.ts';

describe('parseJsonl', () => {
  it('reads objects line by line, skipping blank lines, with a BOM and CRLF', () => {
    const r = parseJsonl('a.jsonl', '\ufeff{"text":"x"}\r\n\r\n{"text":"y"}\n');
    expect(r.rows).toEqual([{ text: 'x' }, { text: 'y' }]);
    expect(r.lines).toEqual([1, 3]);
  });

  it('names the file and line of a malformed row', () => {
    let err: unknown;
    try {
      parseJsonl('train.jsonl', '{"a":1}\n[1,2]\n');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as DatasetError).row).toBe(2);
    expect((err as DatasetError).message).toBe('train.jsonl, line 2: expected a JSON object, got an array');
  });

  it('keeps the good rows and reports the bad ones when asked to skip', () => {
    const r = parseJsonl('t.jsonl', '{"a":1}\nnot json\n{"a":2}\nnull\n', { skipBadRows: true });
    expect(r.rows).toEqual([{ a: 1 }, { a: 2 }]);
    expect(r.errors.map((e) => e.row)).toEqual([2, 4]);
  });
});
