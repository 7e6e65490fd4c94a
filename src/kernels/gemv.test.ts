// The decoding matrix-vector kernel against the reference matmul ('nt'): 1..8 rows, odd k and n, with
// bias, alpha and accumulation, and a vocabulary-sized n.

import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { randomArray } from '../reference/compare.ts';
import { matmulRef } from '../reference/matmul.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { gemv } from './gemv.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

describe('gemv on Dawn', () => {
  for (const [t, n, k] of [
    [1, 1, 1],
    [1, 67, 129],
    [3, 48, 64],
    [8, 33, 577],
    [1, 5000, 24],
  ] as const) {
    it(`${t}×${k} · (${n}×${k})ᵀ, plain and with bias, alpha, accumulate`, async () => {
      const x = randomArray(t * k, t + k);
      const w = randomArray(n * k, n);
      const b = randomArray(n, 3);
      const c0 = randomArray(t * n, 4);
      const tx = gpu.upload(x, [t, k], 'f32', 'x');
      const tw = gpu.upload(w, [n, k], 'f32', 'w');
      const tb = gpu.upload(b, [n], 'f32', 'b');
      const c1 = gpu.empty([t, n], 'f32', 'c1');
      const c2 = gpu.upload(c0, [t, n], 'f32', 'c2');
      const step = gpu.step('gemv');
      await gemv(step, { x: tx, w: tw, c: c1, t, n, k });
      await gemv(step, { x: tx, w: tw, c: c2, t, n, k, bias: tb, alpha: 0.5, accumulate: true });
      await step.submit();
      const shape = { product: 'nt' as const, m: t, n, k };
      expectClose(await gpu.readF32(c1), matmulRef(shape, x, w), 1e-5, 1e-4, 'plain');
      const ref = matmulRef(shape, x, w, { bias: b, alpha: 0.5, accumulate: c0 });
      expectClose(await gpu.readF32(c2), ref, 1e-5, 1e-4, 'bias alpha accumulate');
      gpu.release(tx, tw, tb, c1, c2);
    });
  }
});
