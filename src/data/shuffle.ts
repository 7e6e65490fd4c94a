// Seeded permutations from the project's counter-based RNG (Philox4x32-10), so a split or an epoch order is
// a pure function of (seed, purpose, n): the same on every machine and after a resume, with no RNG state
// to save. A Fisher–Yates shuffle draws its i-th number from counter (i, stream, epoch); 53 random bits
// per draw make the index choice exact in float64.

import { philox4x32 } from '../reference/random.ts';

/** What a permutation is for; different purposes never share random numbers. */
export const STREAM = { split: 0x5e11, epoch: 0xe90c, subset: 0x5b5e } as const;

/** The Philox key of a seed (any non-negative integer up to 2^53). */
export function seedKey(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  return [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0];
}

/** A uniform float64 in [0, 1) from two u32 words (53 bits). */
function uniform53(hi: number, lo: number): number {
  return ((hi >>> 5) * 67108864 + (lo >>> 6)) / 9007199254740992;
}

/** The permutation of 0..n-1 for (seed, stream, sub). */
export function permutation(n: number, seed: number, stream: number, sub = 0): Uint32Array {
  const key = seedKey(seed);
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const w = philox4x32([i, stream, sub, 0], key);
    const j = Math.floor(uniform53(w[0], w[1]) * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
