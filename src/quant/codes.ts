// The code tables of bitsandbytes' 4-bit and 8-bit blockwise quantization, and the nearest-level search
// over them. Why these exact numbers: a QLoRA adapter trained on lorabook's NF4 base must see the same
// base weights that bitsandbytes (and so PEFT's QLoRA in Python) would give it.
//   NF4: the 16 published NormalFloat levels (QLoRA, Dettmers et al. 2023), float32 values; index = code.
//   FP4: bitsandbytes' e2m1 type with bias 3: code bit 3 is the sign, bits 0..2 the magnitude
//        {0, 0.0625, 8, 12, 4, 6, 2, 3} / 12 for magnitude codes 0..7.
//   Dynamic map: bitsandbytes' create_dynamic_map(signed=True): 8-bit dynamic-exponent code for the
//        double quantization of the absmax constants (256 sorted values, 0 and 1.0 included).
// Rounding follows bitsandbytes' CUDA kernels: a value goes to level k+1 when it is strictly greater than
// the float32 midpoint between levels k and k+1 (a value on a midpoint goes to the lower level).

/** NF4 levels by code (bitsandbytes' nf4 table, float32 values written in full). */
export const NF4_CODE: Float32Array = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);

/** FP4 magnitudes by the low three bits, before the division by 12. */
const FP4_MAGNITUDE = [0, 0.0625, 8, 12, 4, 6, 2, 3];

/** FP4 levels by code: sign bit 3, magnitude / 12 (so the largest level is 1). */
export const FP4_CODE: Float32Array = Float32Array.from({ length: 16 }, (_, c) => {
  const m = FP4_MAGNITUDE[c & 7] / 12;
  return c & 8 ? -m : m;
});

export type FourBitType = 'nf4' | 'fp4';

export const FOUR_BIT_CODE: Readonly<Record<FourBitType, Float32Array>> = { nf4: NF4_CODE, fp4: FP4_CODE };

/** Float32 midpoints between consecutive sorted levels (the decision thresholds of the CUDA trees). */
export function midpoints(sortedLevels: ArrayLike<number>): Float32Array {
  const out = new Float32Array(sortedLevels.length - 1);
  for (let i = 0; i < out.length; i++) out[i] = (sortedLevels[i] + sortedLevels[i + 1]) / 2;
  return out;
}

/** The 15 NF4 thresholds: code = number of thresholds strictly below x. */
export const NF4_PIVOTS: Float32Array = midpoints(NF4_CODE);

/** FP4 magnitude levels sorted ascending, the magnitude code of each, and their 7 thresholds. */
export const FP4_SORTED_CODES: readonly number[] = [0, 1, 6, 7, 4, 5, 2, 3];
export const FP4_PIVOTS: Float32Array = midpoints(FP4_SORTED_CODES.map((c) => FP4_MAGNITUDE[c] / 12));

/** Number of thresholds strictly below x (thresholds ascending; NaN counts none). */
function countBelow(t: Float32Array, x: number): number {
  let k = 0;
  while (k < t.length && x > t[k]) k++;
  return k;
}

/** NF4 code of a value already scaled into [-1, 1] (float32). NaN gives code 0, as the CUDA tree does. */
export function nf4Code(x: number): number {
  return countBelow(NF4_PIVOTS, x);
}

/** FP4 code of a value already scaled into [-1, 1]: sign bit for x < 0, then the nearest magnitude. */
export function fp4Code(x: number): number {
  return (x < 0 ? 8 : 0) | FP4_SORTED_CODES[countBelow(FP4_PIVOTS, Math.abs(x))];
}

export const FOUR_BIT_ENCODE: Readonly<Record<FourBitType, (x: number) => number>> = { nf4: nf4Code, fp4: fp4Code };

/**
 * A bucketed form of countBelow for the hot loop: [lo, hi] is cut into equal buckets, each narrower than
 * the smallest gap between thresholds, so a bucket holds at most one threshold. `base[b]` counts the
 * thresholds below the bucket's low edge and `next[b]` is the first threshold at or above it:
 *   count(x) = base[b] + (x > next[b]),  b = floor((x − lo) · scale)
 * Bucket edges are exact in float64 (lo + b/scale with a power-of-two scale), so this equals countBelow
 * for every float32 x, ties included. Values outside [lo, hi] and NaN land in the end buckets.
 */
export interface BucketedThresholds {
  lo: number;
  scale: number;
  last: number;
  base: Uint8Array;
  next: Float32Array;
}

export function bucketThresholds(t: Float32Array, lo: number, hi: number, buckets = 4096): BucketedThresholds {
  const scale = buckets / (hi - lo);
  if (!Number.isInteger(Math.log2(scale))) throw new RangeError('bucket scale must be a power of two');
  for (let i = 1; i < t.length; i++) {
    if (t[i] - t[i - 1] <= 1 / scale) throw new RangeError('thresholds closer than one bucket');
  }
  const base = new Uint8Array(buckets + 1);
  const next = new Float32Array(buckets + 1);
  for (let b = 0; b <= buckets; b++) {
    const edge = lo + b / scale;
    let k = 0;
    while (k < t.length && t[k] < edge) k++;
    base[b] = k;
    next[b] = k < t.length ? t[k] : Infinity;
  }
  return { lo, scale, last: buckets, base, next };
}

/** countBelow through the buckets (the hot loops inline this). */
export function bucketCount(t: BucketedThresholds, x: number): number {
  const f = (x - t.lo) * t.scale;
  const b = f >= t.last ? t.last : f > 0 ? f | 0 : 0;
  return t.base[b] + (x > t.next[b] ? 1 : 0);
}

/** NF4 thresholds over [-1, 1]; FP4 magnitude thresholds over [0, 1]. */
export const NF4_BUCKETS: BucketedThresholds = bucketThresholds(NF4_PIVOTS, -1, 1);
export const FP4_BUCKETS: BucketedThresholds = bucketThresholds(FP4_PIVOTS, 0, 1);

/**
 * bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for each exponent
 * i = 0..6, 2^i fractions (the means of neighbouring points of linspace(0.1, 1, 2^i + 1)) times
 * 10^(i−6), with both signs; then 0 and 1.0; sorted. 127 negative values, 0, 128 positive values.
 * Computed in float64 and rounded once to float32: within one float32 ulp of the Python original
 * (whose float32 linspace rounds differently with the CPU's vector width). Quantized tensors keep the
 * map they were made with, as bitsandbytes' nested_quant_map does, so this never changes a decode.
 */
export function dynamicMap(): Float32Array {
  const values: number[] = [];
  for (let i = 0; i < 7; i++) {
    const points = 2 ** i + 1;
    const scale = 10 ** (i - 6);
    for (let k = 0; k < points - 1; k++) {
      const lo = 0.1 + (0.9 * k) / (points - 1);
      const hi = 0.1 + (0.9 * (k + 1)) / (points - 1);
      const mean = (lo + hi) / 2;
      values.push(scale * mean, -scale * mean);
    }
  }
  values.push(0, 1);
  return Float32Array.from(values).sort();
}

let dynamic: Float32Array | null = null;
/** The shared dynamic map (do not modify it). */
export function sharedDynamicMap(): Float32Array {
  return (dynamic ??= dynamicMap());
}

/**
 * Index of the level nearest to x in an ascending code (ties to the lower index, as torch.argmin in
 * bitsandbytes' reference backend). x is expected in [code[0], code[last]]; outside it clamps.
 */
export function nearestIndex(sortedCode: Float32Array, x: number): number {
  let lo = 0;
  let hi = sortedCode.length - 1;
  if (!(x > sortedCode[lo])) return lo; // also NaN
  if (x >= sortedCode[hi]) return hi;
  // Invariant: code[lo] < x <= code[hi].
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (sortedCode[mid] < x) lo = mid;
    else hi = mid;
  }
  return x - sortedCode[lo] <= sortedCode[hi] - x ? lo : hi;
}
