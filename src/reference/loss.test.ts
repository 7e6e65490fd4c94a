import { describe, expect, it } from 'vitest';
import { expectClose } from '../test/gpu.ts';
import { randomArray } from './compare.ts';
import { dot, numericGradient, toF64 } from './finite-diff.ts';
import { crossEntropyRef, inverseTokenCount, lmHeadCrossEntropyRef } from './loss.ts';

describe('fused LM head + cross-entropy reference', () => {
  const n = 4;
  const d = 3;
  const vocab = 5;
  const labels = [2, -100, 0, 4];
  const inv = inverseTokenCount([labels]);
  const h = toF64(randomArray(n * d, 1));
  const w = toF64(randomArray(vocab * d, 2));
  const r = lmHeadCrossEntropyRef(h, w, labels, d, vocab, inv);

  it('normalizes by the non-ignored tokens', () => {
    expect(inv).toBe(1 / 3);
    expect(r.rowLoss[1]).toBe(0);
  });
  it('dh and dW match finite differences', () => {
    expectClose(
      r.dh,
      numericGradient((t) => lmHeadCrossEntropyRef(t, w, labels, d, vocab, inv).loss, h),
      1e-8,
      1e-6,
    );
    expectClose(
      r.dw,
      numericGradient((t) => lmHeadCrossEntropyRef(h, t, labels, d, vocab, inv).loss, w),
      1e-8,
      1e-6,
    );
  });
  it('dlogits matches finite differences', () => {
    const logits = toF64(randomArray(n * vocab, 3).map((x) => x * 4));
    const ce = crossEntropyRef(logits, labels, vocab, inv);
    const num = numericGradient((t) => crossEntropyRef(t, labels, vocab, inv).loss, logits);
    expectClose(ce.dlogits, num, 1e-8, 1e-6);
    expect(dot(ce.dlogits, ce.dlogits)).toBeGreaterThan(0);
  });
  it('4 micro-batches of 1 sum to 1 batch of 4', () => {
    const batches = [[1], [-100], [3], [0]];
    const all = batches.flat();
    const invAll = inverseTokenCount(batches);
    const logits = toF64(randomArray(4 * vocab, 4));
    const whole = crossEntropyRef(logits, all, vocab, invAll).loss;
    const parts = batches.reduce(
      (s, b, i) => s + crossEntropyRef(logits.slice(i * vocab, (i + 1) * vocab), b, vocab, invAll).loss,
      0,
    );
    expect(parts).toBeCloseTo(whole, 12);
  });
});
