import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { randomArray } from '../reference/compare.ts';
import { embeddingBackwardRef, embeddingRef } from '../reference/embedding.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { embeddingBackward, embeddingForward, groupTokens } from './embedding.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

describe('groupTokens', () => {
  it('groups positions by id in increasing order', () => {
    const g = groupTokens([5, 2, 5, 0, 2, 5], 6);
    expect(Array.from(g.unique)).toEqual([0, 2, 5]);
    expect(Array.from(g.offsets)).toEqual([0, 1, 3, 6]);
    expect(Array.from(g.positions)).toEqual([3, 1, 4, 0, 2, 5]);
  });
  it('rejects ids outside the vocabulary', () => {
    expect(() => groupTokens([1, 7], 6)).toThrow(/token id 7 at 1/);
  });
});

describe('embedding on Dawn', () => {
  const cases = [
    { vocab: 1, d: 1, ids: [0] },
    { vocab: 50, d: 65, ids: [3, 3, 3, 49, 0, 3, 17, 49] },
    { vocab: 1024, d: 128, ids: Array.from({ length: 300 }, (_, i) => (i * 37) % 97) },
  ];
  for (const c of cases) {
    it(`gather and scatter-add V=${c.vocab} D=${c.d} T=${c.ids.length}`, async () => {
      const table = randomArray(c.vocab * c.d, 1);
      const dout = randomArray(c.ids.length * c.d, 2);
      const de0 = randomArray(c.vocab * c.d, 3);
      const tt = gpu.upload(table, [c.vocab, c.d], 'f32', 'E');
      const tids = gpu.upload(c.ids, [c.ids.length], 'u32', 'ids');
      const tout = gpu.empty([c.ids.length, c.d], 'f32', 'out');
      const tdout = gpu.upload(dout, [c.ids.length, c.d], 'f32', 'dout');
      const tde = gpu.upload(de0, [c.vocab, c.d], 'f32', 'dE');
      const step = gpu.step('embedding');
      await embeddingForward(step, { table: tt, ids: tids, out: tout, tokens: c.ids.length, vocab: c.vocab, d: c.d });
      await embeddingBackward(step, { dout: tdout, groups: groupTokens(c.ids, c.vocab), dTable: tde, d: c.d });
      await step.submit();
      expectClose(await gpu.readF32(tout), embeddingRef(table, c.ids, c.d), 0, 0, 'gather');
      const ref = embeddingBackwardRef(dout, c.ids, c.vocab, c.d).map((v, i) => v + de0[i]);
      expectClose(await gpu.readF32(tde), ref, 1e-6, 1e-5, 'scatter-add');
      gpu.release(tt, tids, tout, tdout, tde);
    });
  }
});
