import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { swigluBackwardRef, swigluRef } from '../reference/activation.ts';
import { randomArray } from '../reference/compare.ts';
import { dot, numericGradient, toF64 } from '../reference/finite-diff.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { swigluBackwardInPlace, swigluForward } from './activation.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

describe('SwiGLU reference vs finite differences', () => {
  const g = toF64(randomArray(9, 1).map((v) => v * 6));
  const u = toF64(randomArray(9, 2));
  const dh = toF64(randomArray(9, 3));
  const { dg, du } = swigluBackwardRef(dh, g, u);
  it('dg and du', () => {
    expectClose(
      dg,
      numericGradient((t) => dot(swigluRef(t, u), dh), g),
      1e-8,
      1e-6,
      'dg',
    );
    expectClose(
      du,
      numericGradient((t) => dot(swigluRef(g, t), dh), u),
      1e-8,
      1e-6,
      'du',
    );
  });
});

describe('SwiGLU on Dawn', () => {
  for (const n of [1, 255, 70_001]) {
    it(`forward and backward n=${n}`, async () => {
      // Gate values up to ±100 reach the sigmoid's saturation on both sides.
      const g = randomArray(n, 4).map((v, i) => (i % 13 === 0 ? v * 100 : v * 5));
      const u = randomArray(n, 5);
      const dh = randomArray(n, 6);
      const tg = gpu.upload(g, [n], 'f32', 'g');
      const tu = gpu.upload(u, [n], 'f32', 'u');
      const th = gpu.empty([n], 'f32', 'h');
      const tdh = gpu.upload(dh, [n], 'f32', 'dh');
      const step = gpu.step('swiglu');
      await swigluForward(step, tg, tu, th);
      await swigluBackwardInPlace(step, tdh, tg, tu);
      await step.submit();
      const ref = swigluBackwardRef(dh, g, u);
      expectClose(await gpu.readF32(th), swigluRef(g, u), 1e-6, 1e-5, 'h');
      expectClose(await gpu.readF32(tg), ref.dg, 1e-6, 1e-5, 'dg');
      expectClose(await gpu.readF32(tu), ref.du, 1e-6, 1e-5, 'du');
      gpu.release(tg, tu, th, tdh);
    });
  }
});
