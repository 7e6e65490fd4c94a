import { describe, expect, it } from 'vitest';
import { DatasetError } from '../errors.ts';
import { readLines } from './lines.ts';
import { detectFormat, readDataset, type ReadOptions } from './read.ts';

const enc = new TextEncoder();

/** A byte stream cut into chunks of `size` bytes (cuts fall inside UTF-8 characters and CRLF pairs). */
function streamOf(text: string, size: number): ReadableStream<Uint8Array> {
  const bytes = enc.encode(text);
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

async function fails(p: Promise<unknown>): Promise<DatasetError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(DatasetError);
  return e as DatasetError;
}

const read = (text: string, o: Partial<ReadOptions> & { file: string }) => readDataset(text, o);

describe('lines', () => {
  it('streams lines across chunk cuts inside multi-byte characters and CRLF pairs', async () => {
    const text = '\ufeffé1\r\nżółw\r\n\r\n日本語 line\nlast';
    for (const size of [1, 2, 3, 5, 64]) {
      const got: string[] = [];
      let first = 0;
      for await (const b of readLines(streamOf(text, size))) {
        if (got.length === 0) first = b.firstLine;
        expect(b.firstLine).toBe(got.length + 1);
        got.push(...b.lines);
      }
      expect(first).toBe(1);
      expect(got).toEqual(['é1', 'żółw', '', '日本語 line', 'last']);
    }
  });
});

describe('format detection', () => {
  it('goes by extension, then by the first character', () => {
    expect(detectFormat('a.jsonl', '{"a": 1}')).toBe('jsonl');
    expect(detectFormat('a.json', '[')).toBe('json');
    expect(detectFormat('a.json', '{"a": 1}')).toBe('jsonl');
    expect(detectFormat('a.json', '{')).toBe('json'); // a pretty-printed object
    expect(detectFormat('a.csv', 'x')).toBe('csv');
    expect(detectFormat('a.TSV', 'x')).toBe('tsv');
    expect(detectFormat('notes.txt', '{')).toBe('text');
    expect(detectFormat('upload', '[')).toBe('json');
    expect(detectFormat('upload', 'Once')).toBe('text');
  });
});

describe('JSONL', () => {
  it('reads objects with a BOM, CRLF and blank lines; rows are lines', async () => {
    const r = await read('\ufeff{"text":"x"}\r\n\r\n{"text":"y"}', { file: 'a.jsonl' });
    expect(r.format).toBe('jsonl');
    expect(r.records).toEqual([
      { row: 1, fields: { text: 'x' } },
      { row: 3, fields: { text: 'y' } },
    ]);
    expect(r.columns).toEqual(['text']);
  });

  it('stops at a bad line in the middle, naming file, line and what was expected', async () => {
    const e = await fails(read('{"a":1}\n{"a":2}\n{"a": oops}\n{"a":4}\n', { file: 'train.jsonl' }));
    expect(e.file).toBe('train.jsonl');
    expect(e.row).toBe(3);
    expect(e.expected).toBe('a JSON object');
    expect(e.message).toMatch(/^train\.jsonl, line 3: not valid JSON/);
  });

  it('skipping keeps every good row and reports each bad one', async () => {
    const text = '{"a":1}\n[1]\n{"a":3}\nnull\n"s"\n{"a":6}\n{"a": 7';
    const r = await read(text, { file: 't.jsonl', badRows: 'skip' });
    expect(r.records.map((x) => x.row)).toEqual([1, 3, 6]);
    expect(r.badRowCount).toBe(4);
    expect(r.errors.map((x) => [x.row, x.message.split(': ').slice(1).join(': ').slice(0, 34)])).toEqual([
      [2, 'expected a JSON object, got an arr'],
      [4, 'expected a JSON object, got null'],
      [5, 'expected a JSON object, got a stri'],
      [7, "not valid JSON (Expected ',' or '}"],
    ]);
  });

  it('a truncated last line is a bad row; the rows before it are kept', async () => {
    const r = await read('{"text":"a"}\n{"text":"b"}\n{"text":"trunc', { file: 'cut.jsonl', badRows: 'skip' });
    expect(r.records).toHaveLength(2);
    expect(r.errors[0].row).toBe(3);
  });

  it('reads a 1 MB line', async () => {
    const big = 'x'.repeat(1 << 20);
    const text = `{"text":"short"}\n{"text":"${big}"}\n{"text":"after"}\n`;
    const r = await readDataset(streamOf(text, 65536), { file: 'big.jsonl' });
    expect(r.records.map((x) => (x.fields.text as string).length)).toEqual([5, 1 << 20, 5]);
    expect(r.records[2].row).toBe(3);
  });

  it('an empty or blank file is an error, whatever the policy', async () => {
    for (const text of ['', '\n\n  \n', '\ufeff']) {
      const e = await fails(read(text, { file: 'e.jsonl', badRows: 'skip' }));
      expect(e.message).toBe('e.jsonl: the file is empty');
    }
  });

  it('streams a Blob with progress, and stops when aborted', async () => {
    const lines = Array.from({ length: 20000 }, (_, i) => JSON.stringify({ text: `row ${i} ü` })).join('\n');
    const seen: number[] = [];
    const r = await readDataset(new Blob([lines]), { file: 'b.jsonl', onProgress: (d) => seen.push(d) });
    expect(r.records).toHaveLength(20000);
    expect(r.records[19999]).toEqual({ row: 20000, fields: { text: 'row 19999 ü' } });
    expect(seen.at(-1)).toBe(enc.encode(lines).length);
    const ac = new AbortController();
    ac.abort();
    await expect(readDataset(new Blob([lines]), { file: 'b.jsonl', signal: ac.signal })).rejects.toThrow();
  });
});

describe('JSON arrays', () => {
  const pretty = JSON.stringify([{ text: 'a\nb' }, { text: 'c', n: [1, { d: ']' }] }, { text: '"}{' }], null, 2);

  it('reads a pretty-printed array; rows are element numbers', async () => {
    const r = await read(pretty, { file: 'd.json' });
    expect(r.format).toBe('json');
    expect(r.records).toEqual([
      { row: 1, fields: { text: 'a\nb' } },
      { row: 2, fields: { text: 'c', n: [1, { d: ']' }] } },
      { row: 3, fields: { text: '"}{' } },
    ]);
  });

  it('is the same streamed one byte at a time', async () => {
    const r = await readDataset(streamOf(pretty, 1), { file: 'd.json' });
    expect(r.records.map((x) => x.fields.text)).toEqual(['a\nb', 'c', '"}{']);
  });

  it('a bad element is its own error; its neighbours are kept', async () => {
    const text = '[\n {"a": 1},\n {"a": tru},\n 7,\n {"a": 4}\n]';
    const r = await read(text, { file: 'd.json', badRows: 'skip' });
    expect(r.records.map((x) => x.row)).toEqual([1, 4]);
    expect(r.errors.map((x) => x.row)).toEqual([2, 3]);
    expect(r.errors[0].message).toMatch(/^d\.json, element 2 \(line 3\): not valid JSON/);
    expect(r.errors[1].message).toBe('d.json, element 3 (line 4): expected a JSON object, got a number');
  });

  it('a truncated array keeps the complete elements and reports the cut', async () => {
    const r = await read('[{"a":1},{"a":2},{"a":', { file: 'cut.json', badRows: 'skip' });
    expect(r.records).toHaveLength(2);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].row).toBe(3);
    expect(r.errors[0].message).toMatch(/ends before the array is closed/);
    const e = await fails(read('[{"a":1}', { file: 'cut.json' }));
    expect(e.row).toBe(2);
  });

  it('rejects a file that is not an array, and text after the array', async () => {
    const e = await fails(read('{"a":1}', { file: 'o.json', format: 'json' }));
    expect(e.expected).toBe('a JSON array');
    // one pretty-printed object: one clear error, not one per line
    const one = await read('{\n  "data": [\n    {"text": "a"}\n  ]\n}\n', { file: 'o.json', badRows: 'skip' });
    expect(one.format).toBe('json');
    expect(one.errors).toHaveLength(1);
    expect(one.errors[0].message).toBe(
      'o.json, line 1: expected "[" to open a JSON array, got "{"; the rest of the file is not read',
    );
    const r = await read('[{"a":1}] {"a":2}', { file: 'x.json', badRows: 'skip' });
    expect(r.records).toHaveLength(1);
    expect(r.errors[0].message).toMatch(/after the array's closing bracket/);
  });
});

describe('CSV and TSV', () => {
  it('handles quoted fields, escaped quotes, embedded newlines, CRLF and a BOM', async () => {
    const text =
      '\ufefftext,label\r\n"Hello, world",ham\r\n"She said ""hi""\r\nand left",spam\r\nplain,ham\r\n"",ham\r\n';
    const r = await read(text, { file: 'd.csv' });
    expect(r.columns).toEqual(['text', 'label']);
    expect(r.records).toEqual([
      { row: 2, fields: { text: 'Hello, world', label: 'ham' } },
      { row: 3, fields: { text: 'She said "hi"\nand left', label: 'spam' } },
      { row: 5, fields: { text: 'plain', label: 'ham' } },
      { row: 6, fields: { text: '', label: 'ham' } },
    ]);
  });

  it('is the same streamed in tiny chunks', async () => {
    const text = 'a,b\n"x\r\ny","1,2"\n"q""q",z\n';
    for (const size of [1, 3, 7]) {
      const r = await readDataset(streamOf(text, size), { file: 'd.csv' });
      expect(r.records.map((x) => x.fields)).toEqual([
        { a: 'x\ny', b: '1,2' },
        { a: 'q"q', b: 'z' },
      ]);
    }
  });

  it('reports wrong field counts and text after a closing quote, keeping the other rows', async () => {
    const text = 'a,b\n1,2\n3\n4,5,6\n"7"x,8\n9,10\n';
    const r = await read(text, { file: 'd.csv', badRows: 'skip' });
    expect(r.records.map((x) => x.fields)).toEqual([
      { a: '1', b: '2' },
      { a: '9', b: '10' },
    ]);
    expect(r.errors.map((x) => [x.row, x.expected])).toEqual([
      [3, '2 fields'],
      [4, '2 fields'],
      [5, 'a delimiter or the end of the record after a closing quote'],
    ]);
    expect(r.errors[0].message).toBe('d.csv, line 3: expected 2 fields as in the header, got 1');
  });

  it('a file cut inside a quoted field is reported as truncated', async () => {
    const r = await read('a,b\n1,2\n"open,\nstill open', { file: 'cut.csv', badRows: 'skip' });
    expect(r.records).toHaveLength(1);
    expect(r.errors[0].row).toBe(3);
    expect(r.errors[0].message).toMatch(/ends inside a quoted field .*truncated/);
  });

  it('a header without rows is an error; header names are made unique', async () => {
    const e = await fails(read('a,b\n', { file: 'h.csv' }));
    expect(e.message).toBe('h.csv: the file has a header but no rows');
    const r = await read('x,x,\n1,2,3\n', { file: 'u.csv' });
    expect(r.records[0].fields).toEqual({ x: '1', x_2: '2', column_3: '3' });
  });

  it('reads TSV, with literal quotes inside fields, and a custom delimiter', async () => {
    const r = await read('text\tlabel\nsay "no" now\tham\n"a\tb"\tspam\n', { file: 'd.tsv' });
    expect(r.format).toBe('tsv');
    expect(r.records.map((x) => x.fields)).toEqual([
      { text: 'say "no" now', label: 'ham' },
      { text: 'a\tb', label: 'spam' },
    ]);
    const s = await read('a;b\n1;2\n', { file: 'd.csv', delimiter: ';' });
    expect(s.records[0].fields).toEqual({ a: '1', b: '2' });
  });
});

describe('plain text', () => {
  const text = 'First paragraph\nwraps here.\n\n\nSecond one.\n  \nThird.\n';

  it('cuts paragraphs by default, rows are their first lines', async () => {
    const r = await read(text, { file: 'book.txt' });
    expect(r.records).toEqual([
      { row: 1, fields: { text: 'First paragraph\nwraps here.' } },
      { row: 5, fields: { text: 'Second one.' } },
      { row: 7, fields: { text: 'Third.' } },
    ]);
  });

  it('or lines, or the whole file', async () => {
    const lines = await read(text, { file: 'book.txt', textUnit: 'line' });
    expect(lines.records.map((x) => x.row)).toEqual([1, 2, 5, 7]);
    const whole = await read(text, { file: 'book.txt', textUnit: 'file' });
    expect(whole.records).toEqual([{ row: 1, fields: { text: text.trimEnd() } }]);
  });
});
