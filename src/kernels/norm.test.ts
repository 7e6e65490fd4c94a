import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { randomArray } from '../reference/compare.ts';
import { sumColumnsRef } from '../reference/elementwise.ts';
import { rmsnormBackwardRef, rmsnormRef } from '../reference/norm.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { reduceColumns } from './reduce.ts';
import { rmsnormBackward, rmsnormForward } from './norm.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const eps = 1e-6;

describe('RMSNorm on Dawn', () => {
  // One row; d below, equal to and above the 64-wide workgroup with a tail; Qwen3's head norm shape;
  // SmolLM2's hidden size.
  const shapes: [number, number][] = [
    [1, 1],
    [1, 576],
    [5, 63],
    [17, 130],
    [96, 64],
    [200, 576],
  ];
  for (const [rows, d] of shapes) {
    it(`forward and backward ${rows}×${d}`, async () => {
      const x = randomArray(rows * d, rows + d);
      const w = randomArray(d, 7);
      const dy = randomArray(rows * d, 8);
      const dx0 = randomArray(rows * d, 9);
      const dw0 = randomArray(d, 10);
      const tx = gpu.upload(x, [rows, d], 'f32', 'x');
      const tw = gpu.upload(w, [d], 'f32', 'w');
      const ty = gpu.empty([rows, d], 'f32', 'y');
      const tr = gpu.empty([rows], 'f32', 'rstd');
      const tdy = gpu.upload(dy, [rows, d], 'f32', 'dy');
      const tdx = gpu.upload(dx0, [rows, d], 'f32', 'dx');
      const tdw = gpu.upload(dw0, [d], 'f32', 'dw');
      const step = gpu.step('rmsnorm');
      await rmsnormForward(step, { x: tx, w: tw, y: ty, rstd: tr, rows, d, eps });
      await rmsnormBackward(step, {
        dy: tdy,
        x: tx,
        w: tw,
        rstd: tr,
        dx: tdx,
        rows,
        d,
        accumulateDx: true,
        dw: tdw,
        accumulateDw: true,
      });
      await step.submit();
      const ref = rmsnormRef(x, w, rows, d, eps);
      const bref = rmsnormBackwardRef(dy, x, w, rows, d, eps);
      expectClose(await gpu.readF32(ty), ref.y, 1e-5, 1e-4, 'y');
      expectClose(await gpu.readF32(tr), ref.rstd, 1e-5, 1e-4, 'rstd');
      expectClose(
        await gpu.readF32(tdx),
        bref.dx.map((v, i) => v + dx0[i]),
        1e-5,
        1e-4,
        'dx',
      );
      expectClose(
        await gpu.readF32(tdw),
        bref.dw.map((v, i) => v + dw0[i]),
        1e-4,
        1e-4,
        'dw',
      );
      gpu.release(tx, tw, ty, tr, tdy, tdx, tdw);
    });
  }

  it('backward without dw overwrites dx', async () => {
    const [rows, d] = [4, 33];
    const x = randomArray(rows * d, 1);
    const w = randomArray(d, 2);
    const dy = randomArray(rows * d, 3);
    const tx = gpu.upload(x, [rows, d], 'f32', 'x');
    const tw = gpu.upload(w, [d], 'f32', 'w');
    const ty = gpu.empty([rows, d], 'f32', 'y');
    const tr = gpu.empty([rows], 'f32', 'rstd');
    const tdy = gpu.upload(dy, [rows, d], 'f32', 'dy');
    const tdx = gpu.upload(randomArray(rows * d, 4), [rows, d], 'f32', 'dx');
    const step = gpu.step('rmsnorm');
    await rmsnormForward(step, { x: tx, w: tw, y: ty, rstd: tr, rows, d, eps });
    await rmsnormBackward(step, { dy: tdy, x: tx, w: tw, rstd: tr, dx: tdx, rows, d });
    await step.submit();
    expectClose(await gpu.readF32(tdx), rmsnormBackwardRef(dy, x, w, rows, d, eps).dx, 1e-5, 1e-4);
    gpu.release(tx, tw, ty, tr, tdy, tdx);
  });
});

describe('column reduction on Dawn', () => {
  for (const [rows, cols] of [
    [1, 1],
    [63, 5],
    [64, 70],
    [1000, 129],
  ] as const) {
    it(`${rows}×${cols}, with and without accumulate`, async () => {
      const live = gpu.pool.liveBytes;
      const x = randomArray(rows * cols, rows);
      const init = randomArray(cols, 2);
      const tx = gpu.upload(x, [rows, cols], 'f32', 'x');
      const out = gpu.upload(init, [cols], 'f32', 'out');
      const out2 = gpu.empty([cols], 'f32', 'out2');
      const step = gpu.step('columns');
      await reduceColumns(step, tx, rows, cols, out, { accumulate: true });
      await reduceColumns(step, tx, rows, cols, out2);
      await step.submit();
      const ref = sumColumnsRef(x, rows, cols);
      expectClose(await gpu.readF32(out2), ref, 1e-5 * Math.sqrt(rows), 1e-5);
      expectClose(
        await gpu.readF32(out),
        ref.map((v, i) => v + init[i]),
        1e-5 * Math.sqrt(rows),
        1e-5,
      );
      gpu.release(tx, out, out2);
      expect(gpu.pool.liveBytes).toBe(live); // the partials went back to the pool
    });
  }
});
