import { describe, expect, it } from 'vitest';
import { dropoutMaskRef, mulhilo, philox4x32 } from './random.ts';

describe('Philox4x32-10', () => {
  // Known-answer vectors of the Random123 distribution (tests/kat_vectors, "philox4x32 10" lines):
  // counter[4], key[2] → result[4].
  const kat: [number[], number[], number[]][] = [
    [
      [0, 0, 0, 0],
      [0, 0],
      [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
    ],
    [
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
    ],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
    ],
  ];
  for (const [ctr, key, want] of kat) {
    it(`KAT ctr=${ctr[0].toString(16)}…`, () => {
      expect(Array.from(philox4x32(ctr, key))).toEqual(want);
    });
  }

  it('mulhilo equals the BigInt product', () => {
    for (const [a, b] of [
      [0xffffffff, 0xffffffff],
      [0xd2511f53, 0x12345678],
      [1, 0xffffffff],
      [0x10000, 0x10000],
    ]) {
      const p = BigInt(a) * BigInt(b);
      expect(mulhilo(a, b)).toEqual([Number(p >> 32n), Number(p & 0xffffffffn)]);
    }
  });

  it('dropout masks keep about 1 − p of the elements', () => {
    const m = dropoutMaskRef(100_000, 0.1, [7, 0], [3, 0]);
    const kept = m.reduce((s, x) => s + x, 0);
    expect(kept / m.length).toBeGreaterThan(0.895);
    expect(kept / m.length).toBeLessThan(0.905);
    // Another stream gives another mask.
    const other = dropoutMaskRef(1000, 0.1, [7, 0], [3, 1]);
    expect(Array.from(other)).not.toEqual(Array.from(m.slice(0, 1000)));
  });
});
