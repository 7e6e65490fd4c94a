import { describe, expect, it } from 'vitest';
import { assembleBatch, IGNORE_LABEL } from './batch.ts';
import { DataLoader, type DataCursor, type LoaderOptions } from './loader.ts';
import type { TokenizedExample } from './tokenize.ts';

const X = IGNORE_LABEL;

/** An example of `n` tokens with ids base, base+1, ...; tokens from `from` on are trained. */
function ex(row: number, n: number, from = 1, base = row * 100): TokenizedExample {
  return {
    row,
    ids: Uint32Array.from({ length: n }, (_, i) => base + i),
    trained: Uint8Array.from({ length: n }, (_, i) => (i >= from ? 1 : 0)),
  };
}

describe('batches', () => {
  it('one example per row: shifted labels, masked prompt, positions from 0, padding as segment 0', () => {
    const b = assembleBatch([[ex(1, 4, 2)], [ex(2, 2)]], { batch: 2, seq: 5, padId: 9 });
    expect([b.batch, b.seq]).toEqual([2, 5]);
    expect([...b.ids]).toEqual([100, 101, 102, 103, 9, 200, 201, 9, 9, 9]);
    // label t = id t+1 when token t+1 is trained; tokens 0-1 are prompt, so position 0 predicts nothing
    expect([...b.labels]).toEqual([X, 102, 103, X, X, 201, X, X, X, X]);
    expect([...b.positions]).toEqual([0, 1, 2, 3, 0, 0, 1, 0, 0, 0]);
    expect([...b.segments]).toEqual([1, 1, 1, 1, 0, 1, 1, 0, 0, 0]);
  });

  it('packed rows: positions restart and segments change at each example; no label crosses a boundary', () => {
    const b = assembleBatch([[ex(1, 3), ex(2, 2), ex(3, 3, 2)]], { batch: 1, seq: 10, padId: 0, packing: true });
    expect([...b.ids]).toEqual([100, 101, 102, 200, 201, 300, 301, 302, 0, 0]);
    expect([...b.positions]).toEqual([0, 1, 2, 0, 1, 0, 1, 2, 0, 0]);
    expect([...b.segments]).toEqual([1, 1, 1, 2, 2, 3, 3, 3, 0, 0]);
    expect([...b.labels]).toEqual([101, 102, X, 201, X, X, 302, X, X, X]);
  });

  it("'longest' pads to the longest row rounded up; rows over seq are refused", () => {
    const b = assembleBatch([[ex(1, 3)], [ex(2, 9)]], {
      batch: 2,
      seq: 32,
      padId: 0,
      padTo: 'longest',
      padMultiple: 4,
    });
    expect(b.seq).toBe(12);
    expect(b.ids.length).toBe(24);
    expect(() => assembleBatch([[ex(1, 6)]], { batch: 1, seq: 5, padId: 0 })).toThrow(RangeError);
  });
});

describe('data loader', () => {
  const data = Array.from({ length: 23 }, (_, i) => ex(i + 1, 2 + ((i * 7) % 9)));
  const opts: LoaderOptions = { batch: 3, seq: 16, padId: 0, packing: true, seed: 11, shuffle: true };
  const rowsOf = (l: DataLoader, n: number) => Array.from({ length: n }, () => l.next()!.rows);

  it('packs greedily in the epoch order and sees every example once per epoch', () => {
    const l = new DataLoader(data, opts);
    const seen: number[] = [];
    while (seen.length < data.length) {
      const b = l.next()!;
      for (const row of b.rows) {
        const used = row.reduce((s, r) => s + data[r - 1].ids.length, 0);
        expect(used).toBeLessThanOrEqual(16);
      }
      seen.push(...b.rows.flat());
    }
    // the batch that finishes epoch 0 may start epoch 1: check the first 23 only
    expect(seen.slice(0, 23).sort((a, b) => a - b)).toEqual(data.map((e) => e.row));
    expect(seen.slice(0, 23)).not.toEqual(data.map((e) => e.row)); // shuffled
  });

  it('each epoch has its own order, the same for the same seed', () => {
    const order = (seed: number) => {
      const l = new DataLoader(data, { ...opts, packing: false, batch: 1, seed });
      return rowsOf(l, 46).flat();
    };
    const a = order(11);
    expect(a.slice(0, 23)).not.toEqual(a.slice(23));
    expect(order(11)).toEqual(a);
    expect(order(12)).not.toEqual(a);
  });

  it('a saved cursor restores exactly, mid-epoch and across epochs, through JSON', () => {
    for (const stop of [0, 1, 4, 9, 17]) {
      const l = new DataLoader(data, opts);
      rowsOf(l, stop);
      const saved = JSON.parse(JSON.stringify(l.cursor)) as DataCursor;
      const next = Array.from({ length: 12 }, () => l.next()!);
      const r = new DataLoader(data, opts, saved);
      expect(r.cursor).toEqual(saved);
      for (const want of next) {
        const got = r.next()!;
        expect(got.rows).toEqual(want.rows);
        expect(got.epoch).toEqual(want.epoch);
        expect([...got.batch.ids]).toEqual([...want.batch.ids]);
        expect([...got.batch.labels]).toEqual([...want.batch.labels]);
        expect([...got.batch.positions]).toEqual([...want.batch.positions]);
        expect([...got.batch.segments]).toEqual([...want.batch.segments]);
      }
      expect(r.cursor).toEqual(l.cursor);
    }
  });

  it('refuses a cursor from other data or settings', () => {
    const cursor = new DataLoader(data, opts).cursor;
    expect(() => new DataLoader(data.slice(1), opts, cursor)).toThrow(/other data or batch settings/);
    expect(() => new DataLoader(data, { ...opts, seq: 32 }, cursor)).toThrow(/other data or batch settings/);
    expect(() => new DataLoader(data, { ...opts, seed: 12 }, cursor)).toThrow(/other data or batch settings/);
  });

  it('an evaluation loader makes one pass in file order and ends with a short batch', () => {
    const l = new DataLoader(data.slice(0, 7), { batch: 3, seq: 16, padId: 0, seed: 0, shuffle: false, epochs: 1 });
    const batches = [];
    for (let b = l.next(); b; b = l.next()) batches.push(b);
    expect(batches.map((b) => b.rows)).toEqual([[[1], [2], [3]], [[4], [5], [6]], [[7]]]);
    expect(batches[2].batch.batch).toBe(1);
    expect(l.done).toBe(true);
    expect(l.next()).toBeNull();
  });

  it('refuses examples longer than seq', () => {
    expect(() => new DataLoader([ex(1, 20)], { ...opts, seq: 16 })).toThrow(/row 1 has 20 tokens/);
    expect(() => new DataLoader([], opts)).toThrow(RangeError);
  });
});
