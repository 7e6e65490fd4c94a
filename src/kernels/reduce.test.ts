import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roundToF16 } from '../gpu/f16.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { randomArray } from '../reference/compare.ts';
import { sumRowsRef } from '../reference/elementwise.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { reduceRows } from './reduce.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

async function reduce(x: Float32Array, rows: number, squares: boolean, dtype: 'f32' | 'f16' = 'f32') {
  const tx = gpu.upload(x, [x.length], dtype, 'x');
  const out = gpu.empty([Math.max(rows, 1)], 'f32', 'out');
  const step = gpu.step('reduce test');
  await reduceRows(step, tx, rows, out, { squares });
  await step.submit();
  const got = (await gpu.readF32(out)).slice(0, rows);
  gpu.release(tx, out);
  return got;
}

describe('reductions on Dawn', () => {
  // Lengths: 1, a tail, exactly one chunk (4096), one over, several passes (3 levels at 17M would be slow;
  // 300k needs 74 partials, then a second pass).
  for (const len of [1, 255, 4096, 4097, 300_001]) {
    for (const squares of [false, true]) {
      it(`${squares ? 'sum of squares' : 'sum'} of one row of ${len}`, async () => {
        const x = randomArray(len, len);
        const got = await reduce(x, 1, squares);
        const ref = sumRowsRef(x, 1, len, squares);
        expectClose(got, ref, 1e-6 * Math.sqrt(len) + 1e-6, 1e-5);
      });
    }
  }

  it('many rows at once (each reduced on its own)', async () => {
    const rows = 37;
    const len = 5000;
    const x = randomArray(rows * len, 9);
    for (const squares of [false, true]) {
      expectClose(await reduce(x, rows, squares), sumRowsRef(x, rows, len, squares), 1e-4, 1e-5);
    }
  });

  it('f16 input, f32 accumulation', async () => {
    if (!gpu.caps.shaderF16) throw new Error('this adapter has no shader-f16');
    const x = randomArray(10_000, 3);
    const got = await reduce(x, 1, true, 'f16');
    expectClose(got, sumRowsRef(roundToF16(x), 1, x.length, true), 1e-4, 1e-5);
  });

  it('is bitwise reproducible run to run', async () => {
    const x = randomArray(300_001, 4);
    const a = await reduce(x, 1, false);
    const b = await reduce(x, 1, false);
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it('gives back its temporaries to the pool', async () => {
    const before = gpu.pool.liveBytes;
    await reduce(randomArray(300_001, 5), 1, false);
    expect(gpu.pool.liveBytes).toBe(before);
  });
});
