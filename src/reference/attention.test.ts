import { describe, expect, it } from 'vitest';
import { expectClose } from '../test/gpu.ts';
import { attentionBackwardRef, attentionRef, branchSegment, type AttentionShape } from './attention.ts';
import { randomArray } from './compare.ts';
import { dot, numericGradient, toF64 } from './finite-diff.ts';

describe('attention reference', () => {
  // Two segments (boundary after position 2), GQA ratio 2, an odd head dim.
  const s: AttentionShape = { batch: 1, seq: 5, headsQ: 4, headsKV: 2, headDim: 3 };
  const seg = [0, 0, 0, 1, 1];
  const nq = s.batch * s.seq * s.headsQ * s.headDim;
  const nkv = s.batch * s.seq * s.headsKV * s.headDim;
  const q = toF64(randomArray(nq, 1)).map((x) => 2 * x);
  const k = toF64(randomArray(nkv, 2)).map((x) => 2 * x);
  const v = toF64(randomArray(nkv, 3));
  const dO = toF64(randomArray(nq, 4));
  const { dq, dk, dv } = attentionBackwardRef(dO, q, k, v, seg, s);

  it('dq, dk, dv match central finite differences (float64)', () => {
    expectClose(
      dq,
      numericGradient((t) => dot(attentionRef(t, k, v, seg, s).o, dO), q),
      1e-8,
      1e-6,
      'dq',
    );
    expectClose(
      dk,
      numericGradient((t) => dot(attentionRef(q, t, v, seg, s).o, dO), k),
      1e-8,
      1e-6,
      'dk',
    );
    expectClose(
      dv,
      numericGradient((t) => dot(attentionRef(q, k, t, seg, s).o, dO), v),
      1e-8,
      1e-6,
      'dv',
    );
  });

  it('with a sliding window, matches finite differences too', () => {
    const w = { ...s, window: 2 };
    const g = attentionBackwardRef(dO, q, k, v, seg, w);
    expectClose(
      g.dq,
      numericGradient((t) => dot(attentionRef(t, k, v, seg, w).o, dO), q),
      1e-8,
      1e-6,
      'dq',
    );
    expectClose(
      g.dk,
      numericGradient((t) => dot(attentionRef(q, t, v, seg, w).o, dO), k),
      1e-8,
      1e-6,
      'dk',
    );
  });

  it('a segment start attends only itself; lse is the logsumexp of the visible scores', () => {
    const { o, lse } = attentionRef(q, k, v, seg, s);
    const D = s.headDim;
    // Position 3 starts segment 1: its output is v[3] of its kv head, and lse its own scaled score.
    for (let h = 0; h < s.headsQ; h++) {
      const hk = Math.floor(h / 2);
      for (let d = 0; d < D; d++) {
        expect(o[(3 * s.headsQ + h) * D + d]).toBeCloseTo(v[(3 * s.headsKV + hk) * D + d], 12);
      }
      let sc = 0;
      for (let d = 0; d < D; d++) sc += q[(3 * s.headsQ + h) * D + d] * k[(3 * s.headsKV + hk) * D + d];
      expect(lse[h * s.seq + 3]).toBeCloseTo(sc / Math.sqrt(D), 12);
    }
  });

  it('a branch sees its prefix and itself: its outputs are those of prefix + branch laid out alone', () => {
    // One row: a prefix of 4 tokens (segment 1), branch A of 3 and branch B of 2 (both of segment 1),
    // then an unrelated example (segment 2) that must see neither.
    const shape: AttentionShape = { batch: 1, seq: 11, headsQ: 2, headsKV: 1, headDim: 3 };
    const a = branchSegment(1, 1);
    const b = branchSegment(1, 2);
    const segs = [1, 1, 1, 1, a, a, a, b, b, 2, 2];
    const qq = toF64(randomArray(11 * 2 * 3, 7));
    const kk = toF64(randomArray(11 * 3, 8));
    const vv = toF64(randomArray(11 * 3, 9));
    const all = attentionRef(qq, kk, vv, segs, shape);
    const alone = (rows: number[]) => {
      const pick = (x: Float64Array, width: number) =>
        Float64Array.from(rows.flatMap((r) => Array.from(x.subarray(r * width, (r + 1) * width))));
      const sub = { ...shape, seq: rows.length };
      return attentionRef(
        pick(qq, 6),
        pick(kk, 3),
        pick(vv, 3),
        rows.map(() => 1),
        sub,
      ).o;
    };
    const rowsOf = (o: Float64Array | Float32Array, rows: number[]) =>
      Float64Array.from(rows.flatMap((r) => Array.from(o.subarray(r * 6, (r + 1) * 6))));
    const pathA = [0, 1, 2, 3, 4, 5, 6];
    const pathB = [0, 1, 2, 3, 7, 8];
    expectClose(rowsOf(all.o, [4, 5, 6]), alone(pathA).subarray(4 * 6), 1e-12, 0, 'branch A');
    expectClose(rowsOf(all.o, [7, 8]), alone(pathB).subarray(4 * 6), 1e-12, 0, 'branch B');
    expectClose(rowsOf(all.o, [9, 10]), alone([9, 10]), 1e-12, 0, 'unrelated example');
    expect(() => branchSegment(0, 1)).toThrow(RangeError);
    expect(() => branchSegment(1, 65536)).toThrow(RangeError);
  });
});
