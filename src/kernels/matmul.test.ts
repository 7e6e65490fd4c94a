import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matmulReference, matmulTolerance } from '../engine/bench-matmul.ts';
import { roundToF16 } from '../gpu/f16.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Step } from '../gpu/step.ts';
import { compareClose, randomArray } from '../reference/compare.ts';
import { matmulRef, type MatmulProduct } from '../reference/matmul.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { matmul, matmulConfig, matmulTile, sharedBytes, type MatmulArgs } from './matmul.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const PRODUCTS = ['nn', 'nt', 'tn'] as const;

interface Case {
  product: MatmulProduct;
  m: number;
  n: number;
  k: number;
  batch?: number;
  /** Elements between batch items of A / B; default dense, 0 broadcasts. */
  strideA?: number;
  strideB?: number;
}

interface Options {
  bias?: boolean;
  accumulate?: boolean;
  alpha?: number;
  dtype?: 'f32' | 'f16';
  outType?: 'f32' | 'f16';
  /** Records the kernel under test; the default is lorabook's matmul. */
  kernel?: (step: Step, args: MatmulArgs, product: MatmulProduct) => Promise<void>;
}

/** Runs one case on the GPU and computes its reference (on the f16-rounded inputs for f16). */
async function run(c: Case, opts: Options = {}) {
  const batch = c.batch ?? 1;
  const dtype = opts.dtype ?? 'f32';
  const outType = opts.outType ?? 'f32';
  const strideA = c.strideA ?? c.m * c.k;
  const strideB = c.strideB ?? c.k * c.n;
  const a = randomArray((batch - 1) * strideA + c.m * c.k, 1);
  const b = randomArray((batch - 1) * strideB + c.k * c.n, 2);
  const bias = opts.bias ? randomArray(c.n, 3) : undefined;
  const init = opts.accumulate ? randomArray(batch * c.m * c.n, 4) : undefined;
  const ta = gpu.upload(a, [a.length], dtype, 'a');
  const tb = gpu.upload(b, [b.length], dtype, 'b');
  // Without accumulate, C starts as NaN: a kernel that skips an element cannot pass on a pooled buffer.
  const tc = gpu.upload(init ?? new Float32Array(batch * c.m * c.n).fill(NaN), [batch, c.m, c.n], outType, 'c');
  const tbias = bias ? gpu.upload(bias, [c.n], outType, 'bias') : undefined;
  const args: MatmulArgs = {
    a: ta,
    b: tb,
    c: tc,
    m: c.m,
    n: c.n,
    k: c.k,
    batch,
    strideA,
    strideB,
    bias: tbias,
    alpha: opts.alpha,
    accumulate: opts.accumulate,
  };
  const step = gpu.step('test');
  await (opts.kernel ?? matmul)(step, args, c.product);
  await step.submit();
  const got = await gpu.readF32(tc);
  const cfg = matmulConfig(c.product, args, strideA, strideB);
  gpu.release(ta, tb, tc, ...(tbias ? [tbias] : []));
  const round = (x: Float32Array | undefined) => (x && outType === 'f16' ? roundToF16(x) : x);
  const ra = dtype === 'f16' ? roundToF16(a) : a;
  const rb = dtype === 'f16' ? roundToF16(b) : b;
  // The plain single product uses the fast dense reference (checked against matmulRef below).
  const ref =
    batch === 1 && !bias && !init && opts.alpha === undefined
      ? matmulReference(c.product, c.m, c.n, c.k, ra, rb)
      : matmulRef({ ...c, batch, strideA, strideB }, ra, rb, {
          bias: round(bias),
          accumulate: round(init),
          alpha: opts.alpha,
        });
  return { got, ref, cfg };
}

const label = (c: Case) =>
  `${c.product} ${c.batch ?? 1}×${c.m}×${c.k}×${c.n}` +
  (c.strideA !== undefined ? ` strideA=${c.strideA}` : '') +
  (c.strideB !== undefined ? ` strideB=${c.strideB}` : '');

describe('matmul on Dawn', () => {
  // Shapes that hit every edge: single elements and rows, odd sizes (scalar loads), sizes that are
  // multiples of 4 but not of the tile (vec4 loads with tails in m, n and k), exact tiles, batches.
  const shapes: Case[] = [];
  for (const product of PRODUCTS) {
    shapes.push({ product, m: 1, n: 1, k: 1 });
    shapes.push({ product, m: 1, n: 37, k: 19 });
    shapes.push({ product, m: 1, n: 40, k: 20 });
    shapes.push({ product, m: 67, n: 65, k: 33 });
    shapes.push({ product, m: 68, n: 72, k: 36 });
    shapes.push({ product, m: 128, n: 64, k: 16 });
    shapes.push({ product, m: 132, n: 136, k: 40 });
    shapes.push({ product, m: 5, n: 130, k: 129, batch: 3 });
    shapes.push({ product, m: 12, n: 20, k: 28, batch: 3 });
  }
  for (const c of shapes) {
    it(label(c), async () => {
      const { got, ref } = await run(c);
      expectClose(got, ref, 1e-5, 1e-4, c.product);
    });
  }

  it('takes the vec4 path on aligned shapes and the scalar path on odd ones', async () => {
    for (const product of PRODUCTS) {
      expect((await run({ product, m: 68, n: 72, k: 36 })).cfg).toMatchObject({ vecA: true, vecB: true });
      expect((await run({ product, m: 67, n: 65, k: 33 })).cfg).toMatchObject({ vecA: false, vecB: false });
    }
  });

  it('broadcasts an operand with batch stride 0 and reads strided batches', async () => {
    for (const product of PRODUCTS) {
      for (const c of [
        { product, m: 36, n: 44, k: 20, batch: 3, strideB: 0 },
        { product, m: 33, n: 29, k: 17, batch: 2, strideA: 0 },
        { product, m: 8, n: 12, k: 16, batch: 2, strideA: 8 * 16 + 4, strideB: 12 * 16 + 8 },
      ]) {
        const { got, ref } = await run(c);
        expectClose(got, ref, 1e-5, 1e-4, label(c));
      }
    }
  });

  // The epilogue: vec4 stores (nn, tn with N a multiple of 4), scalar stores (nt, whose columns are
  // strided), and the scalar-load path once (it is the same epilogue code as the others).
  for (const c of [
    { product: 'nn', m: 36, n: 72, k: 44, batch: 2 },
    { product: 'tn', m: 36, n: 72, k: 44, batch: 2 },
    { product: 'nt', m: 36, n: 72, k: 44, batch: 2 },
    { product: 'nn', m: 33, n: 70, k: 45, batch: 2 },
  ] as const) {
    it(`bias, alpha and accumulate: ${label(c)}`, async () => {
      const { got, ref } = await run(c, { bias: true, accumulate: true, alpha: 0.5 });
      expectClose(got, ref, 1e-5, 1e-4, label(c));
    });
  }

  // The sizes SmolLM2-135M trains with: forward x·Wᵀ (512 tokens, 576 → 1536) and its two backward
  // products, checked element by element against the reference.
  const model: Case[] = [
    { product: 'nt', m: 512, n: 1536, k: 576 },
    { product: 'nn', m: 512, n: 576, k: 1536 },
    { product: 'tn', m: 1536, n: 576, k: 512 },
  ];
  for (const c of model) {
    it(`model size ${label(c)}`, async () => {
      const { got, ref } = await run(c);
      const { atol, rtol } = matmulTolerance(c.k);
      expectClose(got, ref, atol, rtol, c.product);
    });
  }

  it('f16 storage with f32 accumulation matches the reference on f16-rounded inputs', async () => {
    if (!gpu.caps.shaderF16) {
      console.info('[gpu] no shader-f16 on this adapter: the f16 variant is not available to test');
      return;
    }
    // vec4<f16> loads for every product, scalar f16 loads once.
    const cases: Case[] = PRODUCTS.map((product) => ({ product, m: 68, n: 72, k: 36, batch: 2 }));
    cases.push({ product: 'tn', m: 67, n: 65, k: 33 });
    for (const c of cases) {
      const { got, ref } = await run(c, { dtype: 'f16' });
      expectClose(got, ref, 1e-5, 1e-4, `f16 ${label(c)}`);
    }
    // f16 output (bias and accumulate in f16 too): the result is rounded once more on store.
    const c: Case = { product: 'nn', m: 36, n: 40, k: 24 };
    const { got, ref } = await run(c, { dtype: 'f16', outType: 'f16', bias: true, accumulate: true, alpha: 2 });
    expectClose(got, ref, 2e-3, 2e-3, 'f16 out');
  });

  it("fits WebGPU's default 16 KiB of workgroup memory with a shallower tile", async () => {
    // nt needs the most workgroup memory (both operands k-contiguous, padded).
    for (const product of ['nt'] as const) {
      const tile = matmulTile(product, 16384);
      expect(sharedBytes(product, tile)).toBeLessThanOrEqual(16384);
      const c: Case = { product, m: 70, n: 68, k: 52 };
      const { got, ref } = await run(c, { kernel: (step, args, p) => matmul(step, args, p, tile) });
      expectClose(got, ref, 1e-5, 1e-4, `${label(c)} bk=${tile.bk}`);
    }
  });

  it('the compact tile of fallback adapters gives bitwise the results of the default tile', async () => {
    for (const product of PRODUCTS) {
      const c: Case = { product, m: 70, n: 68, k: 52 };
      const compact = matmulTile(product, 32768, true);
      expect([compact.tm, compact.tn]).toEqual([4, 4]);
      const wide = await run(c, { kernel: (step, args, p) => matmul(step, args, p, matmulTile(p, 32768)) });
      const small = await run(c, { kernel: (step, args, p) => matmul(step, args, p, compact) });
      expectClose(small.got, small.ref, 1e-5, 1e-4, `${label(c)} compact`);
      expect(Array.from(small.got)).toEqual(Array.from(wide.got));
    }
  });

  it('the fast dense reference agrees with reference/matmul.ts', () => {
    for (const product of PRODUCTS) {
      for (const [m, n, k] of [
        [1, 1, 1],
        [7, 13, 5],
        [16, 9, 33],
      ]) {
        const a = randomArray(m * k, 5);
        const b = randomArray(k * n, 6);
        const fast = matmulReference(product, m, n, k, a, b);
        expectClose(fast, matmulRef({ product, m, n, k }, a, b), 1e-6, 1e-6, `${product} ${m}×${k}×${n}`);
      }
    }
  });

  it('the harness catches a kernel that does nothing or writes zeros', async () => {
    const c: Case = { product: 'nt', m: 68, n: 72, k: 36 };
    const noop = async () => {};
    const nothing = await run(c, { kernel: noop });
    const r1 = compareClose(nothing.got, nothing.ref, 1e-5, 1e-4);
    expect(r1.ok).toBe(false);
    expect(r1.mismatches).toBe(c.m * c.n);
    // A kernel that leaves C as it was fails with accumulate too (C_old alone is not C_old + A·B).
    const unchanged = await run(c, { kernel: noop, accumulate: true });
    expect(compareClose(unchanged.got, unchanged.ref, 1e-5, 1e-4).ok).toBe(false);
    const zeros = new Float32Array(c.m * c.n);
    const r2 = compareClose(zeros, nothing.ref, 1e-5, 1e-4);
    expect(r2.ok).toBe(false);
    expect(r2.mismatches).toBeGreaterThan(0.99 * c.m * c.n);
    expect(() => expectClose(zeros, nothing.ref, 1e-5, 1e-4)).toThrow(/out of tolerance/);
  });

  it('adapter', () => {
    expect(gpu.caps.host).toBe('node');
  });
});
