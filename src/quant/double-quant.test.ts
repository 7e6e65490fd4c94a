// The dynamic 8-bit map and the double quantization of absmax, against values worked out by hand from
// bitsandbytes' create_dynamic_map and quantize_4bit(compress_statistics=True).

import { describe, expect, it } from 'vitest';
import { dynamicMap } from './codes.ts';
import { compressStatistics, dequantizeBlockwise8, expandStatistics, quantizeBlockwise8 } from './double-quant.ts';

const map = dynamicMap();

describe('dynamic map', () => {
  it('has 127 negative values, 0, and 128 positive values ending in 1, sorted', () => {
    expect(map).toHaveLength(256);
    for (let i = 1; i < 256; i++) expect(map[i]).toBeGreaterThan(map[i - 1]);
    expect(map.filter((v) => v < 0)).toHaveLength(127);
    expect(map[127]).toBe(0);
    expect(map[255]).toBe(1);
    for (let i = 0; i < 127; i++) expect(map[i]).toBe(-map[254 - i]); // symmetric except for 1.0
  });

  it('holds the hand-computed fractions of each decade', () => {
    // Exponent i = 0 (scale 1e-6): linspace(0.1, 1, 2) = [0.1, 1], one mean 0.55 → 5.5e-7.
    expect(map[128]).toBe(Math.fround(5.5e-7));
    // i = 1 (1e-5): linspace(0.1, 1, 3) = [0.1, 0.55, 1], means 0.325 and 0.775.
    expect(map[129]).toBe(Math.fround(3.25e-6));
    expect(map[130]).toBe(Math.fround(7.75e-6));
    // i = 6 (1): 64 means of linspace(0.1, 1, 65), step 0.9/64 = 0.0140625; the largest is
    // 0.1 + 0.0140625·63.5 = 0.99296875, just under the extra 1.0.
    expect(map[254]).toBe(Math.fround(0.99296875));
    expect(map[0]).toBe(Math.fround(-0.99296875));
    // torch 1.13 on x86 gives map[1] = -0.9789062142 (its float32 linspace); this map is within one ulp.
    expect(Math.abs(map[1] - -0.9789062142372131)).toBeLessThanOrEqual(2 ** -24);
  });
});

describe('8-bit blockwise quantization', () => {
  it('scales by the block absmax and picks the nearest code', () => {
    const { q, absmax } = quantizeBlockwise8(Float32Array.from([0.5, -0.25, 0.0001]), map);
    // absmax 0.5 → scaled 1, -0.5, 0.0002.
    expect(Array.from(absmax)).toEqual([0.5]);
    // 1 → index 255 (1.0).
    // -0.5: top-decade means are 0.1 + 0.0140625·(k + 0.5); k = 28 gives 0.50078125 (k = 27: 0.48671875),
    //   and the negatives of the top decade sit at index 63 − k → 35.
    // 0.0002: the neighbours are 1.5625e-4 (1e-3 · 0.15625, the first mean of linspace(0.1, 1, 9)) and
    //   2.6875e-4; the nearer is 1.5625e-4, the 8th positive value (after 1 + 2 + 4 smaller ones) → 135.
    expect(Array.from(q)).toEqual([255, 35, 135]);
    expect(map[35]).toBe(Math.fround(-0.50078125));
    expect(map[135]).toBe(Math.fround(1.5625e-4));
    const back = dequantizeBlockwise8(q, absmax, map);
    expect(Array.from(back)).toEqual([0.5, Math.fround(-0.50078125 * 0.5), Math.fround(map[135] * 0.5)]);
  });

  it('gives each group of 256 its own absmax', () => {
    const v = new Float32Array(300).fill(0.1);
    v[299] = -4;
    const { absmax } = quantizeBlockwise8(v, map);
    expect(Array.from(absmax)).toEqual([Math.fround(0.1), 4]);
  });
});

describe('compress_statistics', () => {
  it('subtracts the mean, quantizes in groups of 256, and adds the mean back', () => {
    // absmax [1, 3]: offset = 2, centered [-1, 1], absmax2 = 1; codes: -1 → index 0 (-0.99296875,
    // the most negative code), 1 → 255. Expanded: -0.99296875 + 2 = 1.00703125 and 3.
    const nested = compressStatistics(Float32Array.from([1, 3]), map);
    expect(nested.offset).toBe(2);
    expect(Array.from(nested.absmax2)).toEqual([1]);
    expect(Array.from(nested.q)).toEqual([0, 255]);
    expect(nested.blocksize).toBe(256);
    expect(Array.from(expandStatistics(nested))).toEqual([Math.fround(1.00703125), 3]);
  });

  it('is exact for constant absmax (every centered value is 0)', () => {
    const nested = compressStatistics(new Float32Array(5).fill(0.25), map);
    expect(Array.from(expandStatistics(nested))).toEqual([0.25, 0.25, 0.25, 0.25, 0.25]);
  });

  it('keeps realistic absmax within half a code step of the top decade', () => {
    // absmax of 64 normal weights ≈ 2.4σ ± 0.4σ: centered values are well inside the top decades.
    const absmax = Float32Array.from({ length: 1000 }, (_, i) => 0.05 + 0.01 * Math.sin(i));
    const back = expandStatistics(compressStatistics(absmax, map));
    for (let i = 0; i < absmax.length; i++) expect(Math.abs(back[i] - absmax[i])).toBeLessThan(0.01 * 0.0071);
  });
});
