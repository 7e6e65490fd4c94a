// The data loader: an endless (training) or one-pass (evaluation) stream of TokenBatches over tokenized
// examples, shuffled per epoch with the seeded counter-based RNG. Its whole state is a small cursor
// (epoch, next example) that a checkpoint saves as JSON; a loader rebuilt from the same examples, settings
// and cursor yields exactly the batches the original would have yielded next. A fingerprint of the data and
// settings travels in the cursor, so restoring onto other data fails loudly instead of drifting.

import { assembleBatch, type BatchShape, type PackedBatch } from './batch.ts';
import { STREAM, permutation } from './shuffle.ts';
import type { TokenizedExample } from './tokenize.ts';

export interface LoaderOptions extends BatchShape {
  seed: number;
  /** Reshuffle every epoch (training); false keeps file order (evaluation). */
  shuffle: boolean;
  /** Stop after this many epochs (evaluation: 1); endless when omitted. */
  epochs?: number;
}

export interface DataCursor {
  version: 1;
  /** The epoch the next example comes from (0-based). */
  epoch: number;
  /** Index, in that epoch's order, of the next example. */
  index: number;
  /** Batches served so far. */
  batches: number;
  /** Identifies the examples and settings the cursor belongs to. */
  fingerprint: string;
}

export interface LoadedBatch {
  batch: PackedBatch;
  /** Source rows of the examples in the batch, row by row. */
  rows: number[][];
  /** The epoch of the batch's first example. */
  epoch: number;
}

/** FNV-1a over the examples and the settings that shape batches. */
export function fingerprint(examples: readonly TokenizedExample[], o: LoaderOptions): string {
  let h = 0x811c9dc5;
  const mix = (x: number) => {
    h = Math.imul(h ^ (x & 0xff), 0x01000193);
    h = Math.imul(h ^ ((x >>> 8) & 0xff), 0x01000193);
    h = Math.imul(h ^ ((x >>> 16) & 0xff), 0x01000193);
    h = Math.imul(h ^ (x >>> 24), 0x01000193);
  };
  for (const x of [
    examples.length,
    o.batch,
    o.seq,
    o.packing ? 1 : 0,
    o.padId,
    o.shuffle ? 1 : 0,
    o.seed >>> 0,
    Math.floor(o.seed / 2 ** 32),
  ])
    mix(x);
  for (const e of examples) {
    mix(e.ids.length);
    for (let i = 0; i < e.ids.length; i++) mix(e.ids[i] * 2 + e.trained[i]);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

export class DataLoader {
  private epoch = 0;
  private index = 0;
  private batches = 0;
  private order: Uint32Array | null = null;
  private orderEpoch = -1;
  readonly fingerprint: string;

  constructor(
    private readonly examples: readonly TokenizedExample[],
    private readonly opts: LoaderOptions,
    cursor?: DataCursor,
  ) {
    if (examples.length === 0) throw new RangeError('the data loader needs at least one example');
    for (const e of examples) {
      if (e.ids.length > opts.seq) {
        throw new RangeError(
          `the example from row ${e.row} has ${e.ids.length} tokens, more than seq ${opts.seq}; truncate to at most seq`,
        );
      }
    }
    this.fingerprint = fingerprint(examples, opts);
    if (cursor) this.restore(cursor);
  }

  get cursor(): DataCursor {
    return { version: 1, epoch: this.epoch, index: this.index, batches: this.batches, fingerprint: this.fingerprint };
  }

  restore(c: DataCursor): void {
    if (c.version !== 1) throw new Error(`unknown data cursor version ${String(c.version)}`);
    if (c.fingerprint !== this.fingerprint) {
      throw new Error(
        `this data cursor was saved on other data or batch settings (fingerprint ${c.fingerprint}, these are ${this.fingerprint})`,
      );
    }
    if (!(c.index >= 0 && c.index <= this.examples.length && c.epoch >= 0))
      throw new RangeError('data cursor out of range');
    this.epoch = c.epoch;
    this.index = c.index;
    this.batches = c.batches;
  }

  /** Whether a one-pass loader has served everything. */
  get done(): boolean {
    this.rollEpoch();
    return this.opts.epochs !== undefined && this.epoch >= this.opts.epochs;
  }

  /** The next batch, or null when a loader with `epochs` has run out. */
  next(): LoadedBatch | null {
    if (this.done) return null;
    const firstEpoch = this.epoch;
    const rows: TokenizedExample[][] = [];
    while (rows.length < this.opts.batch && !this.done) {
      const row: TokenizedExample[] = [];
      let used = 0;
      while (!this.done) {
        const e = this.peek();
        if (row.length > 0 && (!this.opts.packing || used + e.ids.length > this.opts.seq)) break;
        row.push(e);
        used += e.ids.length;
        this.index++;
      }
      rows.push(row);
    }
    this.batches++;
    return { batch: assembleBatch(rows, this.opts), rows: rows.map((r) => r.map((e) => e.row)), epoch: firstEpoch };
  }

  private rollEpoch(): void {
    if (this.index >= this.examples.length) {
      this.epoch++;
      this.index = 0;
    }
  }

  private peek(): TokenizedExample {
    if (this.orderEpoch !== this.epoch) {
      this.order = this.opts.shuffle
        ? permutation(this.examples.length, this.opts.seed, STREAM.epoch, this.epoch)
        : null;
      this.orderEpoch = this.epoch;
    }
    return this.examples[this.order ? this.order[this.index] : this.index];
  }
}
