import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { randomArray } from '../reference/compare.ts';
import { ropeRef } from '../reference/rope.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { rope, uploadRopeTable } from './rope.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

function invFreq(dim: number, theta: number): Float32Array {
  return Float32Array.from({ length: dim / 2 }, (_, i) => 1 / theta ** ((2 * i) / dim));
}

describe('RoPE on Dawn', () => {
  const cases = [
    { tokens: 1, heads: 1, dim: 2, positions: [0] },
    { tokens: 7, heads: 3, dim: 64, positions: [0, 1, 2, 3, 4, 5, 6] },
    // Two packed examples: positions restart at the boundary.
    { tokens: 9, heads: 2, dim: 10, positions: [0, 1, 2, 3, 0, 1, 2, 3, 4] },
    // Large positions, where a WGSL cos() of the raw angle would lose accuracy.
    { tokens: 3, heads: 4, dim: 32, positions: [4000, 8000, 8191] },
  ];
  for (const c of cases) {
    it(`forward and backward ${c.tokens}×${c.heads}×${c.dim} at positions ${c.positions.slice(0, 3).join(',')}…`, async () => {
      const f = invFreq(c.dim, 10000);
      const table = uploadRopeTable(gpu, f, 8192);
      const x = randomArray(c.tokens * c.heads * c.dim, c.dim);
      const tx = gpu.upload(x, [c.tokens, c.heads, c.dim], 'f32', 'x');
      const pos = gpu.upload(c.positions, [c.tokens], 'u32', 'positions');
      const step = gpu.step('rope');
      await rope(step, { x: tx, positions: pos, table, tokens: c.tokens, heads: c.heads, headDim: c.dim }, 'forward');
      await step.submit();
      const y = await gpu.readF32(tx);
      expectClose(y, ropeRef(x, c.positions, f, c.heads, c.dim), 1e-6, 1e-5, 'forward');
      const step2 = gpu.step('rope back');
      await rope(step2, { x: tx, positions: pos, table, tokens: c.tokens, heads: c.heads, headDim: c.dim }, 'backward');
      await step2.submit();
      // The backward of a rotation is its inverse: applied to y it gives x back.
      expectClose(await gpu.readF32(tx), x, 1e-5, 1e-5, 'backward');
      expectClose(await gpu.readF32(tx), ropeRef(y, c.positions, f, c.heads, c.dim, true), 1e-6, 1e-5, 'backward ref');
      gpu.release(table, tx, pos);
    });
  }

  it('position 0 is the identity and rotations move values', async () => {
    const f = invFreq(4, 10000);
    const y = ropeRef([1, 2, 3, 4, 1, 2, 3, 4], [0, 1], f, 1, 4);
    expect(Array.from(y.slice(0, 4))).toEqual([1, 2, 3, 4]);
    expect(y[4]).not.toBeCloseTo(1, 3);
  });
});
