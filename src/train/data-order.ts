// The order in which training examples are read, and the micro-batches read from a cursor. Each epoch's
// order is a counter-based (Philox) shuffle keyed by (seed, epoch), so it is recomputed rather than
// saved: a DataCursor {epoch, index} is the reader's whole state, and the same cursor gives the same
// micro-batches on any machine, in any process, after any resume. A micro-batch never straddles two
// epochs (the last one of an epoch may hold fewer rows), so the epoch of every step is well defined.

import { assembleBatch, type PackedBatch } from '../data/batch.ts';
import { STREAM, permutation } from '../data/shuffle.ts';
import type { TokenizedExample } from '../data/tokenize.ts';
import type { DataCursor } from './run-types.ts';

export interface DataOrderOptions {
  /** Rows per micro-batch. */
  microBatch: number;
  /** Tokens per row. */
  seq: number;
  /** Pack consecutive examples into a row while they fit. */
  packing: boolean;
  /** Written into padding. */
  padId: number;
  seed: number;
  /** Shuffle every epoch (default true); false reads the examples in order. */
  shuffle?: boolean;
}

export interface MicroBatch {
  batch: PackedBatch;
  /** The epoch its examples come from. */
  epoch: number;
  /** Source rows of its examples, row by row. */
  rows: number[][];
  /** Where the reader stands after it. */
  next: DataCursor;
}

/** The order of the examples in an epoch: a Philox Fisher–Yates permutation of 0..n-1 keyed by (seed, epoch). */
export function epochOrder(n: number, seed: number, epoch: number): Uint32Array {
  return permutation(n, seed, STREAM.epoch, epoch);
}

export class DataOrder {
  private cached: { epoch: number; order: Uint32Array } | null = null;

  constructor(
    readonly examples: readonly TokenizedExample[],
    readonly options: DataOrderOptions,
  ) {
    if (examples.length === 0) throw new RangeError('the training split is empty: there is nothing to train on');
    if (!(Number.isInteger(options.microBatch) && options.microBatch >= 1))
      throw new RangeError(`microBatch must be an integer ≥ 1, got ${options.microBatch}`);
    for (const e of examples) {
      if (e.ids.length > options.seq) {
        throw new RangeError(
          `the example from row ${e.row} has ${e.ids.length} tokens, more than seq ${options.seq}; tokenize with maxLength ≤ seq`,
        );
      }
    }
  }

  /** The example order of `epoch` (cached for the current epoch). */
  order(epoch: number): Uint32Array {
    if (this.cached?.epoch !== epoch) {
      const n = this.examples.length;
      const order = this.options.shuffle === false ? Uint32Array.from({ length: n }, (_, i) => i) : null;
      this.cached = { epoch, order: order ?? epochOrder(n, this.options.seed, epoch) };
    }
    return this.cached.order;
  }

  private check(c: DataCursor): void {
    if (!(Number.isInteger(c.epoch) && c.epoch >= 0 && Number.isInteger(c.index))) {
      throw new RangeError(`data cursor {epoch ${c.epoch}, index ${c.index}} is not a pair of non-negative integers`);
    }
    if (c.index < 0 || c.index >= this.examples.length) {
      throw new RangeError(`data cursor index ${c.index} is outside the ${this.examples.length} training examples`);
    }
  }

  /** The example indices of the rows of the micro-batch at `cursor`, and the cursor after it. */
  private rowsAt(cursor: DataCursor): { rows: number[][]; next: DataCursor } {
    this.check(cursor);
    const { microBatch, packing, seq } = this.options;
    const order = this.order(cursor.epoch);
    const n = this.examples.length;
    let i = cursor.index;
    const rows: number[][] = [];
    while (rows.length < microBatch && i < n) {
      const row: number[] = [];
      let used = 0;
      while (i < n) {
        const len = this.examples[order[i]].ids.length;
        if (row.length > 0 && (!packing || used + len > seq)) break;
        row.push(order[i]);
        used += len;
        i++;
      }
      rows.push(row);
    }
    const next = i >= n ? { epoch: cursor.epoch + 1, index: 0 } : { epoch: cursor.epoch, index: i };
    return { rows, next };
  }

  /** The micro-batch at `cursor` and the cursor after it. */
  read(cursor: DataCursor): MicroBatch {
    const { rows, next } = this.rowsAt(cursor);
    const batch = assembleBatch(
      rows.map((r) => r.map((k) => this.examples[k])),
      { batch: rows.length, seq: this.options.seq, padId: this.options.padId },
    );
    return { batch, epoch: cursor.epoch, rows: rows.map((r) => r.map((k) => this.examples[k].row)), next };
  }

  /** How many micro-batches are read from `from` until the start of epoch `epochs` (stops counting at `limit`). */
  countMicroBatches(from: DataCursor, epochs: number, limit = Infinity): number {
    let c = from;
    let count = 0;
    while (c.epoch < epochs && count < limit) {
      if (!this.options.packing && this.options.microBatch > 0) {
        // Without packing every row is one example: whole epochs count in closed form.
        const left = Math.ceil((this.examples.length - c.index) / this.options.microBatch);
        const take = Math.min(left, limit - count);
        count += take;
        if (take < left) break;
        c = { epoch: c.epoch + 1, index: 0 };
        continue;
      }
      c = this.rowsAt(c).next;
      count++;
    }
    return count;
  }
}
