// Rows and batches in the engine's TokenBatch layout. A row holds one example (padded) or, with packing,
// as many consecutive examples as fit in `seq` tokens. In every row: positions restart at 0 for each
// example (RoPE sees each example as if alone); each example has its own segment id (1, 2, ...), so the
// engine's segment-aware attention never lets one example see another; padding is segment 0 with label
// -100. Labels are already shifted: label[t] is the id the model should predict at position t (the next
// token of the same example), or -100 where that token is masked, where the example ends, or in padding.

import type { TokenBatch } from '../model/llama-gpu.ts';
import type { TokenizedExample } from './tokenize.ts';

export const IGNORE_LABEL = -100;

/** A TokenBatch with concrete arrays (what the engine uploads as u32/i32 buffers). */
export interface PackedBatch extends TokenBatch {
  ids: Uint32Array;
  labels: Int32Array;
  positions: Uint32Array;
  segments: Uint32Array;
}

export interface BatchShape {
  /** Rows per batch. */
  batch: number;
  /** Tokens per row (the most; see padTo). */
  seq: number;
  /** Pack several examples into one row (default false: one example per row). */
  packing?: boolean;
  /** Id written into padding (the tokenizer's pad id, or EOS). */
  padId: number;
  /** 'seq' pads every row to seq (default); 'longest' to the longest row, rounded up to padMultiple. */
  padTo?: 'seq' | 'longest';
  padMultiple?: number;
}

/** Lays out rows (each a list of examples that fit in seq) as one TokenBatch. */
export function assembleBatch(rows: readonly (readonly TokenizedExample[])[], shape: BatchShape): PackedBatch {
  const used = rows.map((r) => r.reduce((s, e) => s + e.ids.length, 0));
  for (let r = 0; r < rows.length; r++) {
    if (used[r] > shape.seq) throw new RangeError(`row ${r} holds ${used[r]} tokens, more than seq ${shape.seq}`);
  }
  let seq = shape.seq;
  if (shape.padTo === 'longest') {
    const m = shape.padMultiple ?? 8;
    seq = Math.min(shape.seq, Math.max(m, Math.ceil(Math.max(0, ...used) / m) * m));
  }
  const n = rows.length * seq;
  const ids = new Uint32Array(n).fill(shape.padId);
  const labels = new Int32Array(n).fill(IGNORE_LABEL);
  const positions = new Uint32Array(n);
  const segments = new Uint32Array(n);
  rows.forEach((row, r) => {
    // Segment ids at or above 2^16 are attention branches (kernels/attention.ts), never packed examples.
    if (row.length >= 65536) throw new RangeError(`row ${r} packs ${row.length} examples; at most 65535 fit`);
    let t = r * seq;
    row.forEach((ex, k) => {
      const len = ex.ids.length;
      for (let i = 0; i < len; i++, t++) {
        ids[t] = ex.ids[i];
        positions[t] = i;
        segments[t] = k + 1;
        if (i + 1 < len && ex.trained[i + 1] === 1) labels[t] = ex.ids[i + 1];
      }
    });
  });
  return { batch: rows.length, seq, ids, labels, positions, segments };
}
