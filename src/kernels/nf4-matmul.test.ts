// The fused frozen-weight matmul against dequantize-on-the-CPU (src/quant, bitsandbytes semantics) then
// the reference matmul, on Dawn: NF4 and FP4, plain and double-quantized absmax (past one 256-block of
// absmax), odd shapes, one row, k/m/n tails, `in` not a multiple of 64 or 4 (blocks straddle rows, an odd
// count pads a nibble), bias and accumulate, f16 compute, and a plain f16 weight.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matmulTolerance } from '../engine/bench-matmul.ts';
import { fromF16Array, roundToF16 } from '../gpu/f16.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { dequantize4bit, dequantize4bitF16, quantize4bit, withCompressedStatistics } from '../quant/blockwise4.ts';
import type { FourBitType } from '../quant/codes.ts';
import { compareClose, randomArray } from '../reference/compare.ts';
import { matmulRef } from '../reference/matmul.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import {
  frozenMatmul,
  releaseFrozen,
  uploadF16Weight,
  uploadQuant4,
  type FrozenProduct,
  type FrozenWeight,
} from './nf4-matmul.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

interface Case {
  product: FrozenProduct;
  m: number;
  out: number;
  inF: number;
  format: FourBitType | 'f16';
  nested?: boolean;
  compute?: 'f32' | 'f16';
  bias?: boolean;
  accumulate?: boolean;
  alpha?: number;
  /** The production tile (16×8 per invocation); the default is a small tile that compiles fast. */
  fullTile?: boolean;
}

/** 8×8 invocations of 2×4 outputs (a 16×32 block), 8-deep k slices: many tiles and tails on small shapes. */
const SMALL_TILE = { wgx: 8, wgy: 8, tm: 2, tn: 4, bk: 8 };

/** Runs a case; returns the maximum error against the reference and against the unquantized weight. */
async function run(c: Case): Promise<{ errQuantRef: number; errOriginal: number }> {
  const { m, out, inF, product } = c;
  const w = randomArray(out * inF, 7 + out);
  const [n, k] = product === 'nt' ? [out, inF] : [inF, out];
  const x = randomArray(m * k, 3 + m);
  const compute = c.compute ?? 'f32';
  let weight: FrozenWeight;
  let wRef: Float32Array;
  if (c.format === 'f16') {
    weight = uploadF16Weight(gpu, w, out, inF, 'w');
    wRef = roundToF16(w);
  } else {
    let q = quantize4bit(w, [out, inF], c.format);
    if (c.nested ?? true) q = withCompressedStatistics(q);
    weight = uploadQuant4(gpu, q, 'w');
    wRef = compute === 'f16' ? fromF16Array(dequantize4bitF16(q)) : dequantize4bit(q);
  }
  const xRef = compute === 'f16' ? roundToF16(x) : x;
  const bias = c.bias ? randomArray(n, 5) : undefined;
  const init = c.accumulate ? randomArray(m * n, 6) : undefined;
  const tx = gpu.upload(x, [m, k], 'f32', 'x');
  const ty = gpu.upload(init ?? new Float32Array(m * n).fill(NaN), [m, n], 'f32', 'y');
  const tb = bias ? gpu.upload(bias, [n], 'f32', 'bias') : undefined;
  const step = gpu.step('test');
  await frozenMatmul(
    step,
    { x: tx, w: weight, y: ty, m, bias: tb, accumulate: c.accumulate, alpha: c.alpha, compute },
    product,
    c.fullTile ? undefined : SMALL_TILE,
  );
  await step.submit();
  const got = await gpu.readF32(ty);
  gpu.release(tx, ty, ...(tb ? [tb] : []));
  releaseFrozen(gpu, weight);
  const shape = { product, m, n, k };
  const o = { bias, accumulate: init, alpha: c.alpha };
  const ref = matmulRef(shape, xRef, wRef, o);
  const { atol, rtol } = matmulTolerance(k);
  expectClose(got, ref, atol, rtol, JSON.stringify(c));
  return {
    errQuantRef: compareClose(got, ref, 0, 0).maxAbsErr,
    errOriginal: compareClose(got, matmulRef(shape, x, w, o), 0, 0).maxAbsErr,
  };
}

describe('frozen-weight matmul (NF4/FP4 decoded in the kernel) vs dequantize + reference', () => {
  it('forward x·Wᵀ: one row, odd in (scalar path, odd element count), double-quantized NF4', async () => {
    const e = await run({ product: 'nt', m: 1, out: 5, inF: 71, format: 'nf4' });
    // The quantized weight is really used: the original weight's product is far from the result.
    expect(e.errOriginal).toBeGreaterThan(100 * e.errQuantRef + 1e-3);
  });

  it('forward: m/n tails, in = 136 (not a multiple of 64), > 256 absmax blocks, bias', async () => {
    await run({ product: 'nt', m: 37, out: 130, inF: 136, format: 'nf4', bias: true, fullTile: true });
  });

  it('input gradient dY·W: odd in (scalar W loads), accumulate and alpha, NF4', async () => {
    await run({ product: 'nn', m: 37, out: 96, inF: 67, format: 'nf4', accumulate: true, alpha: 0.5 });
    await run({ product: 'nn', m: 37, out: 96, inF: 67, format: 'nf4', accumulate: true, fullTile: true });
  });

  it('FP4 with plain absmax, both products, two row tiles and a column tail', async () => {
    await run({ product: 'nn', m: 130, out: 36, inF: 132, format: 'fp4', nested: false });
    await run({ product: 'nt', m: 130, out: 36, inF: 132, format: 'fp4', nested: false });
  });

  it('f16 compute: f16 tiles, f32 products and accumulation, both products', async () => {
    expect(gpu.caps.shaderF16).toBe(true);
    await run({ product: 'nt', m: 19, out: 70, inF: 100, format: 'nf4', compute: 'f16' });
    await run({ product: 'nn', m: 19, out: 70, inF: 100, format: 'nf4', compute: 'f16', accumulate: true });
  });

  it('a plain f16 weight: vec4 and scalar loads, both products', async () => {
    await run({ product: 'nt', m: 9, out: 40, inF: 36, format: 'f16', bias: true });
    await run({ product: 'nn', m: 9, out: 40, inF: 33, format: 'f16' });
  });
});
