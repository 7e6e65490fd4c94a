import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { randomArray } from '../reference/compare.ts';
import { matmulRef, type MatmulProduct } from '../reference/matmul.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { matmul } from './matmul.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

interface Case {
  product: MatmulProduct;
  m: number;
  n: number;
  k: number;
  batch?: number;
}

async function run(
  c: Case,
  opts: { bias?: boolean; accumulate?: boolean; alpha?: number; dtype?: 'f32' | 'f16' } = {},
) {
  const batch = c.batch ?? 1;
  const dtype = opts.dtype ?? 'f32';
  const a = randomArray(batch * c.m * c.k, 1);
  const b = randomArray(batch * c.k * c.n, 2);
  const bias = opts.bias ? randomArray(c.n, 3) : undefined;
  const init = opts.accumulate ? randomArray(batch * c.m * c.n, 4) : undefined;
  const ta = gpu.upload(a, [batch, c.product === 'tn' ? c.k : c.m, c.product === 'tn' ? c.m : c.k], dtype, 'a');
  const tb = gpu.upload(b, [batch, c.product === 'nt' ? c.n : c.k, c.product === 'nt' ? c.k : c.n], dtype, 'b');
  const tc = init ? gpu.upload(init, [batch, c.m, c.n], 'f32', 'c') : gpu.empty([batch, c.m, c.n], 'f32', 'c');
  const tbias = bias ? gpu.upload(bias, [c.n], 'f32', 'bias') : undefined;
  const step = gpu.step('test');
  await matmul(
    step,
    { a: ta, b: tb, c: tc, m: c.m, n: c.n, k: c.k, batch, bias: tbias, alpha: opts.alpha, accumulate: opts.accumulate },
    c.product,
  );
  await step.submit();
  const got = await gpu.readF32(tc);
  gpu.release(ta, tb, tc, ...(tbias ? [tbias] : []));
  const ref = matmulRef({ ...c, batch }, a, b, { bias, accumulate: init, alpha: opts.alpha });
  return { got, ref };
}

describe('matmul on Dawn', () => {
  const shapes: Case[] = [];
  for (const product of ['nn', 'nt', 'tn'] as const) {
    shapes.push({ product, m: 1, n: 1, k: 1 });
    shapes.push({ product, m: 1, n: 37, k: 19 });
    shapes.push({ product, m: 67, n: 65, k: 33 });
    shapes.push({ product, m: 128, n: 64, k: 16 });
    shapes.push({ product, m: 5, n: 130, k: 129, batch: 3 });
  }
  for (const c of shapes) {
    it(`${c.product} ${c.batch ?? 1}×${c.m}×${c.k}×${c.n}`, async () => {
      const { got, ref } = await run(c);
      expectClose(got, ref, 1e-5, 1e-4, c.product);
    });
  }
  it('bias, alpha and accumulate', async () => {
    const { got, ref } = await run(
      { product: 'nt', m: 33, n: 70, k: 45, batch: 2 },
      { bias: true, accumulate: true, alpha: 0.5 },
    );
    expectClose(got, ref, 1e-5, 1e-4);
  });
  it('adapter', () => {
    expect(gpu.caps.host).toBe('node');
  });
});
