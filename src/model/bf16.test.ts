// bfloat16 conversion: exact bit patterns, ties to even, overflow, subnormals, NaN, and every bf16 value
// surviving a round trip through f32.

import { describe, expect, it } from 'vitest';
import { bf16BitsToF32, f32ToBf16Bits, fromBf16Array, roundToBf16, toBf16Array } from './bf16.ts';

describe('bf16', () => {
  it('encodes exact values', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(-2)).toBe(0xc000);
    expect(f32ToBf16Bits(0.5)).toBe(0x3f00);
    expect(f32ToBf16Bits(0)).toBe(0x0000);
    expect(f32ToBf16Bits(-0)).toBe(0x8000);
    expect(f32ToBf16Bits(Infinity)).toBe(0x7f80);
    expect(f32ToBf16Bits(-Infinity)).toBe(0xff80);
    expect(bf16BitsToF32(0x3f80)).toBe(1);
    expect(bf16BitsToF32(0xc049)).toBe(-3.140625); // -(1 + 73/128) · 2
    expect(Object.is(bf16BitsToF32(0x8000), -0)).toBe(true);
  });

  it('rounds to nearest, ties to even', () => {
    // bf16 keeps 7 mantissa bits: neighbours of 1 are 1 (0x3f80) and 1 + 2^-7 (0x3f81).
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // exact tie → even (0x3f80)
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie between 0x3f81 and 0x3f82 → even
    expect(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81); // just above the tie
    expect(f32ToBf16Bits(1 + 2 ** -8 - 2 ** -20)).toBe(0x3f80); // just below
    expect(f32ToBf16Bits(-(1 + 3 * 2 ** -8))).toBe(0xbf82);
    expect(f32ToBf16Bits(2 - 2 ** -9)).toBe(0x4000); // carries into the exponent
  });

  it('overflows to infinity and keeps subnormals', () => {
    expect(f32ToBf16Bits(3.4028234663852886e38)).toBe(0x7f80); // f32 max rounds up past bf16 max
    expect(f32ToBf16Bits(3.3895313892515355e38)).toBe(0x7f7f); // bf16 max stays
    expect(f32ToBf16Bits(2 ** -133)).toBe(0x0001); // smallest bf16 subnormal
    expect(f32ToBf16Bits(2 ** -149)).toBe(0x0000); // far below it: rounds to zero
    expect(bf16BitsToF32(0x0001)).toBe(2 ** -133);
  });

  it('keeps NaN a NaN', () => {
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN)))).toBe(true);
    // A NaN whose payload sits only in the low 16 bits must not become infinity.
    const f = new Float32Array(new Uint32Array([0x7f800001]).buffer)[0];
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(f)))).toBe(true);
  });

  it('round-trips every non-NaN bf16 bit pattern', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const wide = fromBf16Array(all);
    const changed: number[] = [];
    for (let i = 0; i < 65536; i++) {
      const nan = Number.isNaN(wide[i]);
      if (nan !== ((i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0)) changed.push(i);
      else if (!nan && (wide[i] !== bf16BitsToF32(i) || f32ToBf16Bits(wide[i]) !== i)) changed.push(i);
    }
    expect(changed).toEqual([]);
    expect(Array.from(roundToBf16([1.0009765625, 3]))).toEqual([1, 3]);
    expect(Array.from(toBf16Array([1, -2]))).toEqual([0x3f80, 0xc000]);
  });
});
