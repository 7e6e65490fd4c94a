import { describe, expect, it } from 'vitest';
import { expectClose } from '../test/gpu.ts';
import { attentionBackwardRef, attentionRef, type AttentionShape } from './attention.ts';
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
});
