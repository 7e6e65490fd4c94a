import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roundToF16 } from '../gpu/f16.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { randomArray } from '../reference/compare.ts';
import { addRef, mulRef, scaleRef } from '../reference/elementwise.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { add, cast, mul, scale } from './elementwise.ts';
import { grid1d } from './grid.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

async function runOp(fn: (step: import('../gpu/step.ts').Step) => Promise<void>, out: Tensor): Promise<Float32Array> {
  const step = gpu.step('elementwise test');
  await fn(step);
  await step.submit();
  return gpu.readF32(out);
}

// 1 element, a tail not divisible by the 256-wide workgroup, and more than one workgroup row.
const sizes = [1, 257, 70_001];

describe('elementwise on Dawn', () => {
  for (const n of sizes) {
    it(`add, mul, scale f32 n=${n}`, async () => {
      const a = randomArray(n, 1);
      const b = randomArray(n, 2);
      const ta = gpu.upload(a, [n], 'f32', 'a');
      const tb = gpu.upload(b, [n], 'f32', 'b');
      const tc = gpu.empty([n], 'f32', 'c');
      expectClose(await runOp((s) => add(s, ta, tb, tc), tc), addRef(a, b), 0, 0, 'add');
      expectClose(await runOp((s) => mul(s, ta, tb, tc), tc), mulRef(a, b), 0, 0, 'mul');
      expectClose(await runOp((s) => scale(s, ta, -0.37, tc), tc), scaleRef(a, Math.fround(-0.37)), 0, 0, 'scale');
      gpu.release(ta, tb, tc);
    });
  }

  it('a multi-row grid covers every element', () => {
    const { workgroups, width } = grid1d(70_001, 100);
    expect(workgroups[0] * workgroups[1] * 256).toBeGreaterThanOrEqual(70_001);
    expect(width).toBe(100 * 256);
  });

  it('add and scale in place (c is a)', async () => {
    const a = randomArray(1000, 3);
    const b = randomArray(1000, 4);
    const ta = gpu.upload(a, [1000], 'f32', 'a');
    const tb = gpu.upload(b, [1000], 'f32', 'b');
    expectClose(await runOp((s) => add(s, ta, tb, ta), ta), addRef(a, b), 0, 0);
    expectClose(await runOp((s) => scale(s, ta, 2, ta), ta), scaleRef(addRef(a, b), 2), 0, 0);
    gpu.release(ta, tb);
  });

  it('casts f32 -> f16 -> f32 round to nearest even, like the CPU conversion', async () => {
    if (!gpu.caps.shaderF16) throw new Error('this adapter has no shader-f16; the f16 path cannot be tested');
    const n = 4099;
    // Normal, large and subnormal magnitudes, all inside f16's finite range (WGSL leaves the conversion
    // of out-of-range values to the implementation).
    const a = randomArray(n, 5).map((x, i) => (i % 7 === 0 ? x * 60000 : i % 11 === 0 ? x * 1e-6 : x * 3));
    a[0] = 65504; // the largest f16
    a[1] = 1 + 2 ** -11; // a tie between 1 and the next f16: to even (1)
    a[2] = 1 + 3 * 2 ** -11; // a tie: to even (1 + 2^-9)
    const ta = gpu.upload(a, [n], 'f32', 'a');
    const th = gpu.empty([n], 'f16', 'h');
    const tb = gpu.empty([n], 'f32', 'b');
    const step = gpu.step('cast');
    await cast(step, ta, th);
    await cast(step, th, tb);
    await step.submit();
    const back = await gpu.readF32(tb);
    const viaF16 = await gpu.readF32(th);
    const ref = roundToF16(a);
    expectClose(back, ref, 0, 0, 'f32->f16->f32');
    expectClose(viaF16, ref, 0, 0, 'f16 read');
    expect([back[0], back[1], back[2]]).toEqual([65504, 1, 1 + 2 ** -9]);
    gpu.release(ta, th, tb);
  });

  it('mixed storage: f16 inputs, f32 output', async () => {
    if (!gpu.caps.shaderF16) throw new Error('this adapter has no shader-f16');
    const n = 513;
    const a = randomArray(n, 6);
    const b = randomArray(n, 7);
    const ta = gpu.upload(a, [n], 'f16', 'a');
    const tb = gpu.upload(b, [n], 'f16', 'b');
    const tc = gpu.empty([n], 'f32', 'c');
    const got = await runOp((s) => mul(s, ta, tb, tc), tc);
    expectClose(got, mulRef(roundToF16(a), roundToF16(b)), 0, 1e-7);
    gpu.release(ta, tb, tc);
  });

  it('rejects tensors of different sizes', async () => {
    const ta = gpu.empty([4], 'f32', 'a');
    const tb = gpu.empty([5], 'f32', 'b');
    const step = gpu.step('bad');
    await expect(add(step, ta, tb, ta)).rejects.toThrow(/b has 5 elements, expected 4/);
    gpu.release(ta, tb);
  });
});
