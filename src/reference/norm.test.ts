import { describe, it } from 'vitest';
import { expectClose } from '../test/gpu.ts';
import { randomArray } from './compare.ts';
import { dot, numericGradient, toF64 } from './finite-diff.ts';
import { rmsnormBackwardRef, rmsnormRef } from './norm.ts';

describe('RMSNorm reference backward vs finite differences (float64)', () => {
  const rows = 3;
  const d = 7;
  const eps = 1e-5;
  const x = toF64(randomArray(rows * d, 1));
  const w = toF64(randomArray(d, 2));
  const dy = toF64(randomArray(rows * d, 3));
  const { dx, dw } = rmsnormBackwardRef(dy, x, w, rows, d, eps);

  it('dx', () => {
    const num = numericGradient((t) => dot(rmsnormRef(t, w, rows, d, eps).y, dy), x);
    expectClose(dx, num, 1e-8, 1e-6, 'dx');
  });
  it('dw', () => {
    const num = numericGradient((t) => dot(rmsnormRef(x, t, rows, d, eps).y, dy), w);
    expectClose(dw, num, 1e-8, 1e-6, 'dw');
  });
});
