// LayerNorm (forward, backward with dw/db, accumulated dx) and gelu_new (forward, backward) on Dawn
// against the float64 references, on shapes around the 64-wide workgroup, one row, GPT-2's hidden size,
// and rows with a large offset (the two-pass variance keeps them exact).

import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { randomArray } from '../reference/compare.ts';
import { geluNewBackwardRef, geluNewRef } from '../reference/gelu.ts';
import { layernormBackwardRef, layernormRef } from '../reference/layernorm.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { geluBackwardInPlace, geluForward } from './gelu.ts';
import { layernormBackward, layernormForward } from './layernorm.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const eps = 1e-5;

describe('LayerNorm on Dawn', () => {
  const shapes: [number, number, number][] = [
    [1, 1, 0],
    [1, 768, 0],
    [5, 63, 0],
    [17, 130, 0],
    [96, 64, 0],
    [8, 100, 50],
  ];
  for (const [rows, d, offset] of shapes) {
    it(`forward and backward ${rows}×${d}${offset ? ` offset ${offset}` : ''}`, async () => {
      const x = Array.from(randomArray(rows * d, rows + d), (v) => v + offset);
      const w = randomArray(d, 7);
      const b = randomArray(d, 11);
      const dy = randomArray(rows * d, 8);
      const dx0 = randomArray(rows * d, 9);
      const dw0 = randomArray(d, 10);
      const db0 = randomArray(d, 12);
      const up = (v: ArrayLike<number>, shape: number[], label: string) => gpu.upload(v, shape, 'f32', label);
      const t = {
        x: up(x, [rows, d], 'x'),
        w: up(w, [d], 'w'),
        b: up(b, [d], 'b'),
        y: gpu.empty([rows, d], 'f32', 'y'),
        mean: gpu.empty([rows], 'f32', 'mean'),
        rstd: gpu.empty([rows], 'f32', 'rstd'),
        dy: up(dy, [rows, d], 'dy'),
        dx: up(dx0, [rows, d], 'dx'),
        dw: up(dw0, [d], 'dw'),
        db: up(db0, [d], 'db'),
      };
      const step = gpu.step('layernorm');
      await layernormForward(step, { ...t, rows, d, eps });
      await layernormBackward(step, { ...t, rows, d, accumulateDx: true, accumulateDw: true });
      await step.submit();
      const ref = layernormRef(x, w, b, rows, d, eps);
      const bref = layernormBackwardRef(dy, x, w, rows, d, eps);
      expectClose(await gpu.readF32(t.y), ref.y, 1e-5, 1e-4, 'y');
      expectClose(await gpu.readF32(t.mean), ref.mean, 1e-5, 1e-5, 'mean');
      expectClose(await gpu.readF32(t.rstd), ref.rstd, 1e-5, 1e-4, 'rstd');
      const plus = (a: Float64Array, b0: number[] | Float64Array) => a.map((v, i) => v + b0[i]);
      expectClose(await gpu.readF32(t.dx), plus(bref.dx, Float64Array.from(dx0)), 1e-5, 1e-4, 'dx');
      expectClose(await gpu.readF32(t.dw), plus(bref.dw, Float64Array.from(dw0)), 1e-4, 1e-4, 'dw');
      expectClose(await gpu.readF32(t.db), plus(bref.db, Float64Array.from(db0)), 1e-4, 1e-4, 'db');
      gpu.release(...Object.values(t));
    });
  }
});

describe('gelu_new on Dawn', () => {
  for (const n of [1, 255, 4099]) {
    it(`forward and backward, ${n} values over ±12`, async () => {
      const x = Array.from(randomArray(n, n), (v) => 24 * v);
      const dy = randomArray(n, n + 1);
      const tx = gpu.upload(x, [n], 'f32', 'x');
      const ty = gpu.empty([n], 'f32', 'y');
      const tdy = gpu.upload(dy, [n], 'f32', 'dy');
      const step = gpu.step('gelu');
      await geluForward(step, tx, ty);
      await geluBackwardInPlace(step, tx, tdy);
      await step.submit();
      expectClose(await gpu.readF32(ty), geluNewRef(x), 1e-5, 1e-4, 'y');
      expectClose(await gpu.readF32(tdy), geluNewBackwardRef(dy, x), 1e-5, 1e-4, 'dx');
      gpu.release(tx, ty, tdy);
    });
  }
});
