// The skinny matmul (src/kernels/matmul-skinny.ts) on Dawn against the float64 CPU reference, on the
// shapes of LoRA's rank-r products with odd tails (1, 7 and 513 tokens; r 1 to 32; 71, 128 and 352
// features), with alpha, accumulate, bias, batches and f16 storage; bitwise equal to the tiled kernel
// and to itself run twice; and matmul() routing these shapes (only these) to it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matmulReference } from '../engine/bench-matmul.ts';
import { roundToF16 } from '../gpu/f16.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { randomArray } from '../reference/compare.ts';
import { matmulRef, type MatmulProduct } from '../reference/matmul.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { matmul, matmulTile, type MatmulArgs, type MatmulTile } from './matmul.ts';
import { skinnyMatmul, skinnyPlan, type SkinnyPlan } from './matmul-skinny.ts';

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
  strideA?: number;
  strideB?: number;
  what?: string;
}

interface Options {
  alpha?: number;
  accumulate?: boolean;
  bias?: boolean;
  dtype?: 'f32' | 'f16';
  /** Forces the tiled kernel. */
  tile?: MatmulTile;
  /** Runs the skinny kernel with this plan instead of matmul()'s choice. */
  plan?: SkinnyPlan;
  seed?: number;
}

async function run(c: Case, o: Options = {}) {
  const batch = c.batch ?? 1;
  const dtype = o.dtype ?? 'f32';
  const strideA = c.strideA ?? c.m * c.k;
  const strideB = c.strideB ?? c.k * c.n;
  const seed = o.seed ?? 1;
  const a = randomArray((batch - 1) * strideA + c.m * c.k, seed);
  const b = randomArray((batch - 1) * strideB + c.k * c.n, seed + 1);
  const bias = o.bias ? randomArray(c.n, seed + 2) : undefined;
  const init = o.accumulate ? randomArray(batch * c.m * c.n, seed + 3) : undefined;
  const ta = gpu.upload(a, [a.length], dtype, 'a');
  const tb = gpu.upload(b, [b.length], dtype, 'b');
  // Without accumulate C starts as NaN: an output the kernel skips cannot pass.
  const tc = gpu.upload(init ?? new Float32Array(batch * c.m * c.n).fill(NaN), [batch * c.m * c.n], 'f32', 'c');
  const tbias = bias ? gpu.upload(bias, [c.n], 'f32', 'bias') : undefined;
  const args: MatmulArgs = { a: ta, b: tb, c: tc, m: c.m, n: c.n, k: c.k, batch, strideA, strideB };
  Object.assign(args, { alpha: o.alpha, accumulate: o.accumulate, bias: tbias });
  const step = gpu.step('skinny test');
  const kernels: string[] = [];
  const record = step.dispatch.bind(step);
  step.dispatch = (d) => (kernels.push(d.kernel.label), record(d));
  if (o.plan) await skinnyMatmul(step, args, c.product, strideA, strideB, o.plan);
  else await matmul(step, args, c.product, o.tile);
  await step.submit();
  const got = await gpu.readF32(tc);
  gpu.release(ta, tb, tc, ...(tbias ? [tbias] : []));
  const ra = dtype === 'f16' ? roundToF16(a) : a;
  const rb = dtype === 'f16' ? roundToF16(b) : b;
  const plain = batch === 1 && !bias && !init && o.alpha === undefined;
  const ref = plain
    ? matmulReference(c.product, c.m, c.n, c.k, ra, rb)
    : matmulRef({ ...c, batch, strideA, strideB }, ra, rb, { alpha: o.alpha, accumulate: init, bias });
  return { got, ref, kernel: kernels.join(' ') };
}

const label = (c: Case) => `${c.what ?? ''} ${c.product} ${c.batch ?? 1}×${c.m}×${c.k}×${c.n}`.trim();
/** f32 tolerance for a k-long dot product of values in [-1, 1]. */
const check = (got: Float32Array, ref: Float32Array, c: Case) =>
  expectClose(got, ref, 2e-6 * Math.sqrt(c.k) + 1e-6, 1e-5, label(c));

// The six products of a LoRA'd linear (in → out features, rank r) over `t` tokens, with the options
// linear.ts records them with.
function loraProducts(t: number, inF: number, outF: number, r: number): [Case, Options][] {
  const s = 2.5; // scaling = alpha / r
  return [
    [{ what: 'x·Aᵀ', product: 'nt', m: t, n: r, k: inF }, {}],
    [
      { what: 'xa·Bᵀ into y', product: 'nt', m: t, n: outF, k: r },
      { alpha: s, accumulate: true },
    ],
    [{ what: 'dy·B', product: 'nn', m: t, n: r, k: outF }, { alpha: s }],
    [{ what: 'dxa·A into dx', product: 'nn', m: t, n: inF, k: r }, { accumulate: true }],
    [{ what: 'dA', product: 'tn', m: r, n: inF, k: t }, { accumulate: true }],
    [
      { what: 'dB', product: 'tn', m: outF, n: r, k: t },
      { alpha: s, accumulate: true },
    ],
  ];
}

// Tokens × (in → out features) × rank: 1, 7 and 513 tokens, ranks 1 to 32, 71 (scalar loads), 128 and
// 352 features. The vec4 cases share their kernels, so the file compiles few pipelines.
const LORA: [number, number, number, number][] = [
  [513, 128, 352, 8],
  [7, 352, 128, 16],
  [1, 128, 128, 32],
  [513, 71, 128, 4],
  [7, 128, 71, 1],
];

describe('skinny matmul on Dawn', () => {
  for (const [t, inF, outF, r] of LORA) {
    it(`LoRA products: ${t} tokens, ${inF} → ${outF}, r ${r}`, async () => {
      for (const [c, o] of loraProducts(t, inF, outF, r)) {
        const { got, ref, kernel } = await run(c, o);
        check(got, ref, c);
        expect(kernel, label(c)).toMatch(/^matmul_skinny_/);
      }
    });
  }

  it('bias, batches with strides and a broadcast operand', async () => {
    for (const product of ['nn', 'nt', 'tn'] as const) {
      const n = product === 'tn' ? 19 : 20; // scalar stores once
      const c: Case = {
        product,
        m: 37,
        n,
        k: 12,
        batch: 3,
        strideA: product === 'nn' ? 0 : 37 * 12 + 3,
        strideB: n * 12 + 1,
      };
      const { got, ref, kernel } = await run(c, { bias: true, alpha: -0.75, accumulate: true });
      check(got, ref, c);
      expect(kernel).toMatch(/^matmul_skinny_/);
    }
  });

  it('f16 storage with f32 accumulation', async () => {
    if (!gpu.caps.shaderF16) {
      console.info('[gpu] no shader-f16 on this adapter: the f16 variant is not available to test');
      return;
    }
    for (const c of [
      { product: 'nt', m: 65, n: 8, k: 128 },
      { product: 'nn', m: 33, n: 128, k: 8 },
      { product: 'tn', m: 8, n: 71, k: 40 },
    ] as const) {
      const { got, ref } = await run(c, { dtype: 'f16' });
      check(got, ref, c);
    }
  });

  it('gives bitwise the tiled kernel’s results, and the same bits on a second run', async () => {
    // One product of each kind (the whole training step's losses are compared in bench/lora-matmul.ts).
    const [xa, , , dxa, dA] = loraProducts(513, 128, 352, 8);
    for (const [c, o] of [xa, dxa, dA, loraProducts(7, 128, 71, 1)[1]]) {
      const tile = matmulTile(c.product, gpu.caps.limits.maxComputeWorkgroupStorageSize);
      const skinny = await run(c, o);
      const again = await run(c, o);
      const tiled = await run(c, { ...o, tile });
      check(skinny.got, skinny.ref, c);
      expect(tiled.kernel).toMatch(/^matmul_(?!skinny)/);
      expect(Array.from(again.got), label(c)).toEqual(Array.from(skinny.got));
      expect(Array.from(tiled.got), label(c)).toEqual(Array.from(skinny.got));
    }
  });

  it('the plan for other adapters (64 invocations a workgroup) gives the same bits', async () => {
    const [xa, , , , dA] = loraProducts(513, 128, 352, 8);
    for (const [c, o] of [xa, dA]) {
      const plan = skinnyPlan(c.product, c.m, c.n, c.k, false)!;
      expect(plan.wg).toBe(64);
      const gpuPlan = await run(c, { ...o, plan });
      const fallback = await run(c, o);
      check(gpuPlan.got, gpuPlan.ref, c);
      expect(Array.from(gpuPlan.got), label(c)).toEqual(Array.from(fallback.got));
    }
  });

  it('an empty product (m = 0) records nothing and does not fail', async () => {
    const a = gpu.upload(new Float32Array(4), [4], 'f32', 'a');
    const b = gpu.upload(new Float32Array(32), [32], 'f32', 'b');
    const c = gpu.upload(new Float32Array(4).fill(7), [4], 'f32', 'c');
    const step = gpu.step('empty');
    await matmul(step, { a, b, c, m: 0, n: 8, k: 4 }, 'nt');
    expect(step.dispatchCount).toBe(0);
    await step.submit();
    expect(Array.from(await gpu.readF32(c))).toEqual([7, 7, 7, 7]);
    gpu.release(a, b, c);
  });

  it('routes only skinny shapes to the skinny kernel', () => {
    for (const fallback of [true, false]) {
      expect(skinnyPlan('nt', 512, 128, 128, fallback)).toBeNull();
      expect(skinnyPlan('nn', 512, 352, 128, fallback)).toBeNull();
      expect(skinnyPlan('tn', 128, 352, 512, fallback)).toBeNull();
      expect(skinnyPlan('nn', 33, 64, 64, fallback)).toBeNull(); // a small m only counts for weight gradients
      expect(skinnyPlan('nt', 512, 128, 8, fallback)).not.toBeNull();
      expect(skinnyPlan('nn', 512, 8, 128, fallback)).not.toBeNull();
      expect(skinnyPlan('tn', 8, 128, 512, fallback)).not.toBeNull();
      expect(skinnyPlan('tn', 128, 8, 512, fallback)).not.toBeNull();
    }
  });
});
