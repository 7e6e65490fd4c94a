// Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC'11): a counter-based
// RNG, so the random number for element i of a dropout mask is a pure function of (key, counter) and the
// GPU, the CPU and a resumed run all draw the same numbers. This CPU version is the oracle for the WGSL
// one and serves the host's own needs (shuffling, LoRA init).

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** [hi, lo] of the 64-bit product of two u32. */
export function mulhilo(a: number, b: number): [number, number] {
  const lo = Math.imul(a, b) >>> 0;
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const ll = aLo * bLo;
  const lh = aLo * bHi;
  const hl = aHi * bLo;
  const hh = aHi * bHi;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  const hi = (hh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0;
  return [hi, lo];
}

export function philox4x32(counter: readonly number[], key: readonly number[], rounds = 10): Uint32Array {
  let [c0, c1, c2, c3] = counter.map((x) => x >>> 0);
  let [k0, k1] = key.map((x) => x >>> 0);
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const [hi0, lo0] = mulhilo(M0, c0);
    const [hi1, lo1] = mulhilo(M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return Uint32Array.of(c0, c1, c2, c3);
}

/** A uniform float in [0, 1) from the top 24 bits of a u32 (exact in f32). */
export function uniform01(word: number): number {
  return (word >>> 8) / 16777216;
}

/** A dropout stream: two u32 that make a use unique (e.g. layer·module and micro-step). */
export type Stream = readonly [number, number];

/** The dropout keep mask of the WGSL kernel: element i uses word i%4 of philox((i/4, s0, s1, 0), key). */
export function dropoutMaskRef(n: number, p: number, key: readonly [number, number], stream: Stream): Uint8Array {
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const words = philox4x32([i / 4, stream[0], stream[1], 0], key);
    for (let j = 0; j < 4 && i + j < n; j++) mask[i + j] = uniform01(words[j]) >= p ? 1 : 0;
  }
  return mask;
}
