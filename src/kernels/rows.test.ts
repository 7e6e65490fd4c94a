import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { randomArray } from '../reference/compare.ts';
import { testGpu } from '../test/gpu.ts';
import { NO_ROW, labelledRows, selectRows } from './rows.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

describe('labelledRows', () => {
  it('keeps the labelled positions in order, with the inverse', () => {
    const r = labelledRows([-100, 4, -100, -100, 0, 7])!;
    expect(Array.from(r.rows)).toEqual([1, 4, 5]);
    expect(Array.from(r.inverse)).toEqual([NO_ROW, 0, NO_ROW, NO_ROW, 1, 2]);
  });
  it('is null when all or none are labelled', () => {
    expect(labelledRows([1, 2, 3])).toBeNull();
    expect(labelledRows([-100, -100])).toBeNull();
  });
});

describe('selectRows on Dawn', () => {
  it('gathers rows and zero-fills NO_ROW, exactly (D = 1, 130)', async () => {
    for (const d of [1, 130]) {
      const sourceRows = 9;
      const index = [8, 0, NO_ROW, 3, 3, NO_ROW, 5];
      const x = randomArray(sourceRows * d, d);
      const tx = gpu.upload(x, [sourceRows, d], 'f32', 'x');
      const ti = gpu.upload(index, [index.length], 'u32', 'index');
      const out = gpu.empty([index.length, d], 'f32', 'out');
      gpu.write(out, new Float32Array(index.length * d).fill(NaN));
      const step = gpu.step('select');
      await selectRows(step, { x: tx, index: ti, out, sourceRows, rows: index.length, d });
      await step.submit();
      const got = await gpu.readF32(out);
      const want = new Float32Array(index.length * d);
      index.forEach((src, r) => {
        if (src !== NO_ROW) want.set(x.subarray(src * d, (src + 1) * d), r * d);
      });
      expect(Array.from(got)).toEqual(Array.from(want));
      gpu.release(tx, ti, out);
    }
  });
});
