import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { randomArray } from '../reference/compare.ts';
import { dropoutMaskRef, philox4x32 } from '../reference/random.ts';
import { testGpu } from '../test/gpu.ts';
import { PHILOX_WGSL, dropout } from './random.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

describe('Philox and dropout on Dawn', () => {
  it('WGSL Philox matches the CPU reference (and so the Random123 vectors)', async () => {
    const inputs = [
      [0, 0, 0, 0, 0, 0],
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0],
      [12345, 7, 0, 0, 42, 1],
    ];
    const tin = gpu.upload(inputs.flat(), [inputs.length, 6], 'u32', 'in');
    const tout = gpu.empty([inputs.length, 4], 'u32', 'out');
    const step = gpu.step('philox');
    await step.dispatch({
      kernel: {
        label: 'philox_test',
        code: `${PHILOX_WGSL}
@group(0) @binding(0) var<storage, read> I: array<u32>;
@group(0) @binding(1) var<storage, read_write> O: array<u32>;
@compute @workgroup_size(1) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let b = g.x * 6u;
  let r = philox4x32_10(vec4<u32>(I[b], I[b + 1u], I[b + 2u], I[b + 3u]), vec2<u32>(I[b + 4u], I[b + 5u]));
  for (var j = 0u; j < 4u; j++) { O[g.x * 4u + j] = r[j]; }
}`,
      },
      buffers: [{ buffer: tin.buffer }, { buffer: tout.buffer }],
      workgroups: [inputs.length],
    });
    await step.submit();
    const got = Array.from(await gpu.read(tout));
    const want = inputs.flatMap((v) => Array.from(philox4x32(v.slice(0, 4), v.slice(4))));
    expect(got).toEqual(want);
    gpu.release(tin, tout);
  });

  for (const n of [1, 5, 4099]) {
    it(`dropout p=0.25 n=${n} keeps exactly the reference mask, scaled`, async () => {
      const x = randomArray(n, n);
      const tx = gpu.upload(x, [n], 'f32', 'x');
      const ty = gpu.empty([n], 'f32', 'y');
      const step = gpu.step('dropout');
      await dropout(step, { x: tx, y: ty, p: 0.25, key: [99, 1], stream: [17, 5] });
      await step.submit();
      const y = await gpu.readF32(ty);
      const mask = dropoutMaskRef(n, 0.25, [99, 1], [17, 5]);
      const want = Float32Array.from(x, (v, i) => (mask[i] ? v * Math.fround(1 / 0.75) : 0));
      expect(Array.from(y)).toEqual(Array.from(want));
      gpu.release(tx, ty);
    });
  }

  it('p = 0 is the identity', async () => {
    const x = randomArray(100, 1);
    const tx = gpu.upload(x, [100], 'f32', 'x');
    const ty = gpu.empty([100], 'f32', 'y');
    const step = gpu.step('dropout');
    await dropout(step, { x: tx, y: ty, p: 0, key: [1, 2], stream: [3, 0] });
    await step.submit();
    expect(Array.from(await gpu.readF32(ty))).toEqual(Array.from(x));
    gpu.release(tx, ty);
  });
});
