// NF4/FP4 against the published construction and vectors worked out by hand from bitsandbytes' documented
// algorithm (blocksize 64, absmax per block, nearest level, high nibble first, zero padding).

import { describe, expect, it } from 'vitest';
import { f16BitsToF32, f32ToF16Bits } from '../gpu/f16.ts';
import { randomArray } from '../reference/compare.ts';
import {
  blockScales,
  dequantize4bit,
  dequantize4bitF16,
  Quantizer4,
  quantize4bit,
  withCompressedStatistics,
} from './blockwise4.ts';
import {
  bucketCount,
  FP4_BUCKETS,
  FP4_CODE,
  fp4Code,
  FP4_PIVOTS,
  NF4_BUCKETS,
  NF4_CODE,
  NF4_PIVOTS,
  nf4Code,
} from './codes.ts';

/** Φ(x), the standard normal CDF, from erf's Taylor series (plenty for |x| < 3 in float64). */
function normalCdf(x: number): number {
  const z = x / Math.SQRT2;
  let term = z;
  let sum = z;
  for (let n = 1; n < 200; n++) {
    term *= (-z * z) / n;
    sum += term / (2 * n + 1);
  }
  return 0.5 * (1 + (2 / Math.sqrt(Math.PI)) * sum);
}

/** Φ⁻¹(p) by bisection on Φ. */
function normalPpf(p: number): number {
  let lo = -6;
  let hi = 6;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

const linspace = (a: number, b: number, n: number) => Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));

/** Seeded standard normal values (Box–Muller over the project's deterministic uniforms). */
function normals(n: number, seed: number): Float32Array {
  const u = randomArray(2 * n, seed).map((x) => (x + 1) / 2); // U(-1, 1) → U(0, 1)
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u1 = Math.max(u[2 * i], 1e-12);
    out[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u[2 * i + 1]);
  }
  return out;
}

describe('NF4 code table', () => {
  it('is the QLoRA construction: normal quantiles with an extra positive level, scaled to [-1, 1]', () => {
    // bitsandbytes' create_normal_map(offset=0.9677083, use_extra_value=True):
    //   positives: Φ⁻¹ of linspace(offset, 0.5, 9) without its last point (8 values),
    //   negatives: −Φ⁻¹ of linspace(offset, 0.5, 8) without its last point (7 values), plus 0;
    //   sorted and divided by the largest (Φ⁻¹(offset) ≈ 1.848).
    const offset = 0.9677083;
    const pos = linspace(offset, 0.5, 9).slice(0, -1).map(normalPpf);
    const neg = linspace(offset, 0.5, 8)
      .slice(0, -1)
      .map((p) => -normalPpf(p));
    const max = Math.max(...pos);
    const derived = [...pos, 0, ...neg].map((v) => v / max).sort((a, b) => a - b);
    expect(derived).toHaveLength(16);
    for (let i = 0; i < 16; i++) expect(Math.abs(derived[i] - NF4_CODE[i])).toBeLessThan(2e-6);
    // The published table's anchors hold exactly.
    expect(NF4_CODE[0]).toBe(-1);
    expect(NF4_CODE[7]).toBe(0);
    expect(NF4_CODE[15]).toBe(1);
  });

  it('rounds at the float32 midpoints of neighbouring levels (the CUDA decision tree)', () => {
    // First split of bitsandbytes' tree: x > 0.0397901498 ⇔ x is above the midpoint of 0 and 0.0795803.
    expect(NF4_PIVOTS[7]).toBe(Math.fround((0 + 0.07958029955625534) / 2));
    expect(NF4_PIVOTS[3]).toBe(Math.fround((-0.39491748809814453 + -0.28444138169288635) / 2)); // -0.339679
    for (let c = 0; c < 16; c++) expect(nf4Code(NF4_CODE[c])).toBe(c); // every level is its own code
    // A value on a midpoint goes to the lower level; the next float32 above it to the upper one.
    // NF4_PIVOTS[11] is the midpoint of levels 11 (0.3379) and 12 (0.4407).
    expect(nf4Code(NF4_PIVOTS[11])).toBe(11);
    const above = new Float32Array([NF4_PIVOTS[11]]);
    new Uint32Array(above.buffer)[0] += 1; // the next float32 up (a positive value)
    expect(nf4Code(above[0])).toBe(12);
    expect(nf4Code(NaN)).toBe(0); // 0·(1/0) in an all-zero block: the CUDA tree falls through to 0b0000
  });
});

describe('FP4 code table', () => {
  it('is e2m1 with bias 3 scaled by 1/12, sign in bit 3', () => {
    // magnitude bits 000=0, 001=0.0625 (subnormal), 110=2, 111=3, 100=4, 101=6, 010=8, 011=12; then /12.
    const byHand = [0, 0.0625, 8, 12, 4, 6, 2, 3].map((m) => m / 12);
    for (let c = 0; c < 8; c++) {
      expect(FP4_CODE[c]).toBe(Math.fround(byHand[c]));
      expect(FP4_CODE[c + 8]).toBe(Math.fround(-byHand[c]));
    }
    expect(fp4Code(1)).toBe(0b0011);
    expect(fp4Code(-1)).toBe(0b1011);
    expect(fp4Code(0.3)).toBe(0b0100); // nearest 4/12 = 0.333 (0.25 is farther)
    expect(fp4Code(0.29)).toBe(0b0111); // below the 0.2916667 midpoint of 3/12 and 4/12
    expect(fp4Code(-0.001)).toBe(0b1000); // sign bit set, magnitude 0
    expect(fp4Code(0.002)).toBe(0b0000); // under 0.0026042, half of 0.0625/12
    expect(fp4Code(0.003)).toBe(0b0001);
  });
});

/** The float32 values next to v (down, v, up). */
function neighbours(v: number): number[] {
  const f = new Float32Array([v, v, v]);
  const u = new Uint32Array(f.buffer);
  const up = v >= 0 ? 1 : -1;
  u[0] -= up;
  u[2] += up;
  return Array.from(f);
}

describe('bucketed threshold search', () => {
  it('equals the plain count of thresholds below x for every edge case', () => {
    const edges = [-Infinity, Infinity, NaN, 0, -0, 1, -1, 1.0000001, -1.0000001, 1e-40, -1e-40, 5, -5];
    const sample = Array.from(randomArray(20000, 3));
    for (const [t, pivots] of [
      [NF4_BUCKETS, NF4_PIVOTS],
      [FP4_BUCKETS, FP4_PIVOTS],
    ] as const) {
      const xs = [...edges, ...sample, ...Array.from(pivots).flatMap(neighbours)];
      for (const x of xs) {
        let plain = 0;
        while (plain < pivots.length && x > pivots[plain]) plain++;
        expect(bucketCount(t, x), `x = ${x}`).toBe(plain);
      }
    }
  });

  it('the block coder gives the plain coder codes on random, tiny and huge values', () => {
    const x = normals(4096, 12);
    x.set([1e-39, -1e-39, 1e-45, 0], 64); // a block with a subnormal absmax: 1/absmax overflows to ∞
    for (const type of ['nf4', 'fp4'] as const) {
      const q = quantize4bit(x, [4096], type);
      const enc = type === 'nf4' ? nf4Code : fp4Code;
      for (let i = 0; i < 4096; i++) {
        const inv = Math.fround(1 / q.absmax![Math.floor(i / 64)]);
        const want = enc(Math.fround(x[i] * inv));
        const byte = q.packed[i >> 1];
        expect(i & 1 ? byte & 15 : byte >> 4, `${type} value ${i}`).toBe(want);
      }
    }
  });
});

describe('4-bit packing, by hand', () => {
  it('quantizes a block: absmax, nearest levels, high nibble first', () => {
    const x = new Float32Array(64); // the rest of the block are zeros
    x.set([2, -2, 0, 1, -0.5, 0.17]);
    const q = quantize4bit(x, [64], 'nf4');
    // absmax = 2, so the scaled values are 1, -1, 0, 0.5, -0.25, 0.085:
    //   1 → 15 (0b1111), -1 → 0                              byte 0 = 0xF0
    //   0 → 7; 0.5 is under the 0.4407/0.5626 midpoint 0.50166 → 12     byte 1 = 0x7C
    //   -0.25 is under the -0.28444/-0.18477 midpoint -0.23461 → 4;
    //   0.085 is under the 0.07958/0.16093 midpoint 0.12026 → 8          byte 2 = 0x48
    //   the zeros → 7, 7                                                  bytes 3.. = 0x77
    expect(Array.from(q.absmax!)).toEqual([2]);
    expect(Array.from(q.packed.subarray(0, 4))).toEqual([0xf0, 0x7c, 0x48, 0x77]);
    expect(q.packed.length).toBe(32);
    expect(q.packed.subarray(3).every((b) => b === 0x77)).toBe(true);
    // Decoding: level · absmax in float32.
    const back = dequantize4bit(q);
    expect(Array.from(back.subarray(0, 6))).toEqual(
      [1, -1, 0, 0.44070982933044434, -0.28444138169288635, 0.07958029955625534].map((v) => Math.fround(v * 2)),
    );
  });

  it('pads an odd count with a zero value and gives the last partial block its own absmax', () => {
    // n = 67: block 0 = 64 values of 0.5 (absmax 0.5 → all 1.0 → code 15), block 1 = [4, -1, 2].
    const x = new Float32Array(67).fill(0.5);
    x.set([4, -1, 2], 64);
    const q = quantize4bit(x, [67], 'nf4');
    expect(Array.from(q.absmax!)).toEqual([0.5, 4]);
    expect(q.packed.length).toBe(34); // ceil(67 / 2)
    expect(q.packed.subarray(0, 32).every((b) => b === 0xff)).toBe(true);
    // Block 1 scaled: 1 → 15, -0.25 → 4, 0.5 → 12, then the pad value 0 → 7.
    expect(Array.from(q.packed.subarray(32))).toEqual([0xf4, 0xc7]);
    expect(Array.from(dequantize4bit(q).subarray(64))).toEqual([4, -0.28444138169288635 * 4, 0.44070982933044434 * 4]);
  });

  it('an all-zero block gets absmax 0 and code 0 (as the CUDA kernel) and decodes to zeros', () => {
    const q = quantize4bit(new Float32Array(128).fill(0).fill(1, 64), [2, 64], 'nf4');
    expect(Array.from(q.absmax!)).toEqual([0, 1]);
    expect(q.packed.subarray(0, 32).every((b) => b === 0)).toBe(true);
    expect(
      dequantize4bit(q)
        .subarray(0, 64)
        .every((v) => v === 0),
    ).toBe(true);
  });

  it('FP4 blocks pack the same way', () => {
    const x = new Float32Array(64);
    x.set([-12, 6, 3, -0.25]); // absmax 12 → scaled -1, 0.5, 0.25, -0.0208
    const q = quantize4bit(x, [64], 'fp4');
    // -1 → 0b1011, 0.5 → 0b0101 (6/12); 0.25 → 0b0111 (3/12); -0.0208 → sign 8 | magnitude 0.0052 (0b001)
    // since 0.0208 is under the 0.0859 midpoint of 0.0052 and 2/12.
    expect(Array.from(q.packed.subarray(0, 3))).toEqual([0xb5, 0x79, 0x00]);
    expect(Array.from(dequantize4bit(q).subarray(0, 4))).toEqual([-12, 6, 3, Math.fround(FP4_CODE[9] * 12)]);
  });

  it('decodes to f16 as the float32 product rounded to nearest even', () => {
    const x = normals(256, 5);
    const q = quantize4bit(x, [4, 64]);
    const f32 = dequantize4bit(q);
    const f16 = dequantize4bitF16(q);
    for (let i = 0; i < x.length; i++) expect(f16[i]).toBe(f32ToF16Bits(f32[i]));
    expect(Math.abs(f16BitsToF32(f16[0]) - f32[0])).toBeLessThan(1e-2);
  });
});

describe('streaming', () => {
  it('gives the same bytes for any split of the values', () => {
    const x = normals(1000, 9); // 15 full blocks and a partial one
    const whole = quantize4bit(x, [1000]);
    const s = new Quantizer4(1000);
    let at = 0;
    for (const len of [1, 63, 64, 65, 7, 300, 499, 1]) {
      s.push(x.subarray(at, at + len));
      at += len;
    }
    const parts = s.finish();
    expect(parts.packed).toEqual(whole.packed);
    expect(parts.absmax).toEqual(whole.absmax);
    expect(() => s.push([1])).toThrow(RangeError);
    expect(() => new Quantizer4(10).finish()).toThrow(/after 0/);
  });
});

describe('quantization error on random normal weights', () => {
  const n = 64 * 1024;
  const x = normals(n, 1);
  const q = quantize4bit(x, [n]);
  const back = dequantize4bit(q);
  let se = 0;
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.abs(back[i] - x[i]);
    se += e * e;
    // Nearest-level rounding: an error never exceeds half the widest gap between NF4 levels, which is
    // the one between -1 and -0.6962 (0.1519), times the block's absmax.
    worst = Math.max(worst, e / q.absmax![Math.floor(i / 64)]);
  }
  const rmse = Math.sqrt(se / n);

  it('stays within half the widest level gap per value, and near 0.1σ RMS', () => {
    expect(worst).toBeLessThanOrEqual((1 - 0.6961928009986877) / 2 + 1e-6);
    // For N(0, 1) data the absmax of 64 values is about 2.4σ, and the NF4 levels are about 0.1–0.3 apart
    // on the [-1, 1] scale: a uniform rounding error of width ≈ 0.4σ has RMS ≈ 0.4/√12 ≈ 0.11σ. Measured
    // ≈ 0.092; the bounds leave room on both sides (a broken coder is far outside them).
    expect(rmse).toBeGreaterThan(0.07);
    expect(rmse).toBeLessThan(0.11);
  });

  it('FP4 is worse than NF4 on normal data (the reason NF4 exists)', () => {
    const q4 = quantize4bit(x, [n], 'fp4');
    const b4 = dequantize4bit(q4);
    let se4 = 0;
    for (let i = 0; i < n; i++) se4 += (b4[i] - x[i]) ** 2;
    expect(Math.sqrt(se4 / n)).toBeGreaterThan(rmse * 1.05);
  });

  it('double quantization adds only a small error', () => {
    const dq = withCompressedStatistics(q);
    expect(dq.absmax).toBeNull();
    const exact = q.absmax!;
    const approx = blockScales(dq);
    const nested = dq.nested!;
    for (let b = 0; b < exact.length; b++) {
      // In the dynamic map's top decade the codes are 0.9/64 apart: half of that, times the group's
      // absmax2, bounds the error of each reconstructed absmax (plus float32 rounding).
      const bound = (0.9 / 64 / 2) * nested.absmax2[Math.floor(b / 256)] + 1e-6;
      expect(Math.abs(approx[b] - exact[b])).toBeLessThanOrEqual(bound);
    }
    const backDq = dequantize4bit(dq);
    let seDq = 0;
    for (let i = 0; i < n; i++) seDq += (backDq[i] - x[i]) ** 2;
    const rmseDq = Math.sqrt(seDq / n);
    expect(rmseDq).toBeGreaterThanOrEqual(rmse * 0.999);
    expect(rmseDq).toBeLessThan(rmse * 1.01);
  });
});
