import { describe, expect, it } from 'vitest';
import { DatasetError } from '../errors.ts';
import { DataLoader } from './loader.ts';
import { prepareDataset } from './pipeline.ts';
import { charTokenizer } from './test-tokenizer.ts';

const tok = charTokenizer({ bos: true });

/** 60 ham and 30 spam rows, with one exact and one normalised duplicate, an empty row and a bad line. */
function spamCsv(): string {
  const rows = ['text,label'];
  for (let i = 0; i < 60; i++) rows.push(`"meeting notes ${i}, see you",ham`);
  for (let i = 0; i < 30; i++) rows.push(`"WIN ""cash"" now ${i}",spam`);
  rows.push('"meeting notes 3, see you",ham'); // exact duplicate
  rows.push('"meeting  notes 4,\nsee you",ham'); // normalised duplicate (spaces, newline)
  rows.push('"   ",ham'); // empty
  rows.push('no label here'); // wrong field count
  return rows.join('\r\n') + '\r\n';
}

describe('prepareDataset', () => {
  it('reads, cleans, tokenizes and splits a CSV, with a report the UI can show', async () => {
    const p = await prepareDataset(spamCsv(), tok, { file: 'spam.csv', seed: 5, badRows: 'skip' });
    expect([p.format, p.shape, p.template]).toEqual(['csv', 'classification', 'raw']);
    expect(p.badRows.count).toBe(1);
    expect(p.badRows.errors[0].message).toBe('spam.csv, line 96: expected 2 fields as in the header, got 1');
    const c = p.cleaning;
    expect([c.input, c.exactDuplicates.count, c.normalizedDuplicates.count, c.empty.count, c.kept]).toEqual([
      93, 1, 1, 1, 90,
    ]);
    expect(p.stats.train.labels).toEqual({ ham: 48, spam: 24 });
    expect(p.stats.validation.labels).toEqual({ ham: 6, spam: 3 });
    expect(p.stats.test.labels).toEqual({ ham: 6, spam: 3 });
    const first = p.splits.train[0];
    expect(first.ids[0]).toBe(1); // BOS
    expect(first.ids[first.ids.length - 1]).toBe(2); // EOS, trained
    expect(first.trained[first.ids.length - 1]).toBe(1);
    expect(tok.decode([...first.ids].filter((_, i) => first.trained[i] === 1))).toBe(' ham</s>');
    // the same seed gives the same result; the output crosses a worker boundary
    const again = await prepareDataset(spamCsv(), tok, { file: 'spam.csv', seed: 5, badRows: 'skip' });
    expect(again.splits).toEqual(p.splits);
    expect(structuredClone(p.splits.test)).toEqual(p.splits.test);
  });

  it("with 'stop', the first bad row throws", async () => {
    const e = await prepareDataset(spamCsv(), tok, { file: 'spam.csv', seed: 5 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DatasetError);
    expect((e as DatasetError).row).toBe(96);
  });

  it('chat JSONL: masks through to batches; the token budget drops long rows', async () => {
    const line = (q: string, a: string) =>
      JSON.stringify({
        messages: [
          { role: 'user', content: q },
          { role: 'assistant', content: a },
        ],
      });
    const text = [line('hi', 'hello'), line('long '.repeat(40), 'x'), line('2+2?', '4'), line('bye', 'ciao')].join(
      '\n',
    );
    const p = await prepareDataset(text, tok, { file: 'chat.jsonl', seed: 1, maxLength: 64, fractions: [1, 0, 0] });
    expect(p.template).toBe('chatml');
    expect(p.cleaning.overBudget.count).toBe(1);
    expect(p.splits.train).toHaveLength(3);
    const loader = new DataLoader(p.splits.train, {
      batch: 1,
      seq: 128,
      packing: true,
      padId: 0,
      seed: 1,
      shuffle: false,
      epochs: 1,
    });
    const b = loader.next()!.batch;
    const predicted = [...b.labels].filter((l) => l >= 0);
    // every assistant answer and its <|im_end|>, nothing from the user turns
    expect(tok.decode(predicted)).toBe('hello<|im_end|>4<|im_end|>ciao<|im_end|>');
    expect(new Set(b.segments)).toEqual(new Set([0, 1, 2, 3]));
  });

  it('no usable rows is an error', async () => {
    await expect(prepareDataset('{"text": "  "}\n', tok, { file: 'e.jsonl', seed: 1 })).rejects.toThrow(
      /no usable rows/,
    );
  });
});

describe('prepareDataset limitRows', () => {
  const rows = Array.from({ length: 50 }, (_, i) =>
    JSON.stringify({ text: `row number ${i}`, label: i % 2 ? 'a' : 'b' }),
  );
  const jsonl = rows.join('\n') + '\n';
  const kept = async (seed: number, limitRows: number) => {
    const p = await prepareDataset(jsonl, tok, { file: 'rows.jsonl', seed, limitRows, fractions: [1, 0, 0] });
    return p.splits.train.map((t) => t.row).sort((a, b) => a - b);
  };

  it('keeps a seeded subset of the rows (not the first ones), the same for the same seed', async () => {
    const a = await kept(3, 12);
    expect(a).toHaveLength(12);
    expect(a).not.toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(await kept(3, 12)).toEqual(a);
    expect(await kept(4, 12)).not.toEqual(a);
    expect(new Set(a).size).toBe(12);
  });

  it('keeps every row when the limit is 0 or above the row count', async () => {
    expect(await kept(3, 0)).toHaveLength(50);
    expect(await kept(3, 80)).toHaveLength(50);
  });
});
