// The training reader: a seeded per-epoch shuffle, micro-batches read from a cursor that are the same
// wherever the cursor is used, epoch boundaries, packing, and the micro-batch count the trainer plans with.

import { describe, expect, it } from 'vitest';
import type { TokenizedExample } from '../data/tokenize.ts';
import { DataOrder, epochOrder } from './data-order.ts';
import type { DataCursor } from './run-types.ts';

/** Example k has k % 4 + 2 tokens, all ids 10 + k, every token after the first trained. */
const examples: TokenizedExample[] = Array.from({ length: 7 }, (_, k) => {
  const len = (k % 4) + 2;
  return {
    row: 100 + k,
    ids: new Uint32Array(len).fill(10 + k),
    trained: Uint8Array.from({ length: len }, (_, i) => (i > 0 ? 1 : 0)),
  };
});

describe('DataOrder', () => {
  it('each epoch is a different seeded permutation; the same seed gives the same one', () => {
    const e0 = epochOrder(7, 5, 0);
    expect([...e0].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(epochOrder(7, 5, 0)).toEqual(e0);
    expect([...epochOrder(7, 5, 1)]).not.toEqual([...e0]);
    expect([...epochOrder(7, 6, 0)]).not.toEqual([...e0]);
  });

  it('reads micro-batches in the epoch order; the last of an epoch is short; the cursor wraps', () => {
    const d = new DataOrder(examples, { microBatch: 3, seq: 8, packing: false, padId: 0, seed: 5 });
    const order = [...epochOrder(7, 5, 0)];
    let c: DataCursor = { epoch: 0, index: 0 };
    const seen: number[][] = [];
    for (let i = 0; i < 3; i++) {
      const m = d.read(c);
      expect(m.epoch).toBe(0);
      seen.push(m.rows.flat());
      c = m.next;
    }
    expect(seen).toEqual([order.slice(0, 3), order.slice(3, 6), order.slice(6)].map((r) => r.map((k) => 100 + k)));
    expect(c).toEqual({ epoch: 1, index: 0 });
    const m = d.read({ epoch: 0, index: 6 });
    expect(m.batch.batch).toBe(1);
    expect(m.batch.ids.length).toBe(8);
    // labels are the next token of the same example: ids 10 + k repeated, then padding ignored
    const k = order[6];
    const len = (k % 4) + 2;
    expect([...m.batch.labels]).toEqual([
      ...new Array<number>(len - 1).fill(10 + k),
      ...new Array<number>(9 - len).fill(-100),
    ]);
    expect(d.countMicroBatches({ epoch: 0, index: 0 }, 2)).toBe(6);
    expect(d.countMicroBatches({ epoch: 0, index: 3 }, 2)).toBe(5);
    expect(d.countMicroBatches({ epoch: 0, index: 0 }, 2, 4)).toBe(4);
  });

  it('the same cursor gives the same batch in a fresh reader (a resume)', () => {
    const opts = { microBatch: 2, seq: 8, packing: true, padId: 0, seed: 9 };
    const a = new DataOrder(examples, opts);
    let c: DataCursor = { epoch: 0, index: 0 };
    const batches = [];
    for (let i = 0; i < 6; i++) {
      const m = a.read(c);
      batches.push(m);
      c = m.next;
    }
    const mid = batches[3];
    const b = new DataOrder(examples, opts);
    expect(b.read(batches[2].next)).toEqual(mid);
    // packing: rows hold several examples (segments 1, 2, ...) and never more than seq tokens
    const segs = batches.flatMap((m) => [...m.batch.segments]);
    expect(Math.max(...segs)).toBeGreaterThan(1);
    // every example is read exactly once per epoch
    let cur: DataCursor = { epoch: 0, index: 0 };
    const rows: number[] = [];
    let count = 0;
    while (cur.epoch === 0) {
      const m = b.read(cur);
      rows.push(...m.rows.flat());
      cur = m.next;
      count++;
    }
    expect(rows.sort()).toEqual(examples.map((e) => e.row));
    expect(b.countMicroBatches({ epoch: 0, index: 0 }, 1)).toBe(count);
  });

  it('rejects an empty split, an example over seq and a cursor out of range', () => {
    expect(() => new DataOrder([], { microBatch: 1, seq: 8, packing: false, padId: 0, seed: 1 })).toThrow(/empty/);
    expect(() => new DataOrder(examples, { microBatch: 1, seq: 4, packing: false, padId: 0, seed: 1 })).toThrow(
      /row 102 has 4 tokens|row 103 has 5 tokens/,
    );
    const d = new DataOrder(examples, { microBatch: 1, seq: 8, packing: false, padId: 0, seed: 1 });
    expect(() => d.read({ epoch: 0, index: 7 })).toThrow(RangeError);
    expect(() => d.read({ epoch: -1, index: 0 })).toThrow(RangeError);
  });
});
