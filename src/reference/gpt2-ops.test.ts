// GPT-2's own ops in the CPU reference (LayerNorm with bias, gelu_new) against finite differences in
// float64, and LayerNorm's statistics against their definitions.

import { describe, expect, it } from 'vitest';
import { expectClose } from '../test/gpu.ts';
import { randomArray } from './compare.ts';
import { dot, numericGradient, toF64 } from './finite-diff.ts';
import { geluNewBackwardRef, geluNewRef } from './gelu.ts';
import { layernormBackwardRef, layernormRef } from './layernorm.ts';

describe('LayerNorm reference', () => {
  const rows = 3;
  const d = 7;
  const eps = 1e-5;
  const x = toF64(randomArray(rows * d, 1));
  const w = toF64(randomArray(d, 2));
  const b = toF64(randomArray(d, 4));
  const dy = toF64(randomArray(rows * d, 3));
  const { dx, dw, db } = layernormBackwardRef(dy, x, w, rows, d, eps);
  it('normalizes each row to mean 0 and variance 1 before the affine part', () => {
    const { y } = layernormRef(x, new Float64Array(d).fill(1), new Float64Array(d), rows, d, eps);
    for (let r = 0; r < rows; r++) {
      const row = y.subarray(r * d, (r + 1) * d);
      const m = row.reduce((a, v) => a + v, 0) / d;
      expect(Math.abs(m)).toBeLessThan(1e-12);
      expect(row.reduce((a, v) => a + (v - m) ** 2, 0) / d).toBeCloseTo(1, 3);
    }
  });
  it('dx, dw, db vs finite differences', () => {
    expectClose(
      dx,
      numericGradient((t) => dot(layernormRef(t, w, b, rows, d, eps).y, dy), x),
      1e-8,
      1e-6,
      'dx',
    );
    expectClose(
      dw,
      numericGradient((t) => dot(layernormRef(x, t, b, rows, d, eps).y, dy), w),
      1e-8,
      1e-6,
      'dw',
    );
    expectClose(
      db,
      numericGradient((t) => dot(layernormRef(x, w, t, rows, d, eps).y, dy), b),
      1e-8,
      1e-6,
      'db',
    );
  });
});

describe('gelu_new reference', () => {
  it('matches known values and its finite-difference derivative', () => {
    const y = geluNewRef([0, 1, -1, 3]);
    expect(y[0]).toBe(0);
    expect(y[1]).toBeCloseTo(0.8411919906, 9); // 0.5·(1 + tanh(√(2/π)·1.044715))
    expect(y[2]).toBeCloseTo(-0.1588080094, 9);
    const x = toF64(Array.from(randomArray(20, 5), (v) => 6 * v));
    const dy = toF64(randomArray(20, 6));
    expectClose(
      geluNewBackwardRef(dy, x),
      numericGradient((t) => dot(geluNewRef(t), dy), x),
      1e-8,
      1e-6,
      'dx',
    );
  });
});
