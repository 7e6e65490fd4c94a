// Double quantization of the 4-bit absmax constants, as bitsandbytes' quantize_4bit(compress_statistics=
// True): offset = mean(absmax); (absmax − offset) is quantized blockwise to 8 bits with the dynamic map
// in blocks of 256 (each block keeps its own float32 absmax2); decoding is code[q] · absmax2 + offset.
// Why: float32 absmax costs 32 bits per 64 weights (0.5 bit/weight); this costs 8 bits + 32/256, about
// 0.127 bit/weight, for an error well under the 4-bit codes' own.
// The 8-bit blockwise coder is general (bitsandbytes' quantize_blockwise/dequantize_blockwise): scaled
// value x · (1/absmax) in float32, clamped to [−1, 1], nearest code (ties to the lower index).

import { nearestIndex, sharedDynamicMap } from './codes.ts';

export const NESTED_BLOCKSIZE = 256;

export interface NestedAbsmax {
  /** One 8-bit code per 4-bit block. */
  q: Uint8Array;
  /** float32 absmax of each group of `blocksize` codes. */
  absmax2: Float32Array;
  /** The mean of the original absmax (float32), added back on decode. */
  offset: number;
  blocksize: number;
  /** The 256-entry code the values were quantized with (bitsandbytes' nested_quant_map). */
  code: Float32Array;
}

/** 8-bit blockwise quantization of values with a sorted 256-entry code. */
export function quantizeBlockwise8(
  values: Float32Array,
  code: Float32Array = sharedDynamicMap(),
  blocksize = NESTED_BLOCKSIZE,
): { q: Uint8Array; absmax: Float32Array } {
  const n = values.length;
  const q = new Uint8Array(n);
  const absmax = new Float32Array(Math.ceil(n / blocksize));
  for (let b = 0; b < absmax.length; b++) {
    const i0 = b * blocksize;
    const i1 = Math.min(n, i0 + blocksize);
    let amax = 0;
    for (let i = i0; i < i1; i++) amax = Math.max(amax, Math.abs(values[i]));
    absmax[b] = amax;
    const inv = Math.fround(1 / amax);
    for (let i = i0; i < i1; i++) {
      const x = Math.min(1, Math.max(-1, Math.fround(values[i] * inv)));
      q[i] = nearestIndex(code, x);
    }
  }
  return { q, absmax };
}

/** code[q] · absmax per block, in float32. */
export function dequantizeBlockwise8(
  q: Uint8Array,
  absmax: Float32Array,
  code: Float32Array,
  blocksize = NESTED_BLOCKSIZE,
  out = new Float32Array(q.length),
): Float32Array {
  for (let i = 0; i < q.length; i++) out[i] = code[q[i]] * absmax[Math.floor(i / blocksize)];
  return out;
}

/**
 * bitsandbytes' compress_statistics over a tensor's 4-bit absmax. The mean is summed in float64 and rounded
 * once to float32 (torch reduces in float32: the offsets may differ in the last bits; the offset is stored).
 */
export function compressStatistics(absmax: Float32Array, code: Float32Array = sharedDynamicMap()): NestedAbsmax {
  let sum = 0;
  for (let i = 0; i < absmax.length; i++) sum += absmax[i];
  const offset = Math.fround(absmax.length > 0 ? sum / absmax.length : 0);
  const centered = new Float32Array(absmax.length);
  for (let i = 0; i < absmax.length; i++) centered[i] = absmax[i] - offset;
  const { q, absmax: absmax2 } = quantizeBlockwise8(centered, code, NESTED_BLOCKSIZE);
  return { q, absmax2, offset, blocksize: NESTED_BLOCKSIZE, code };
}

/** The absmax values back from their nested form: code[q] · absmax2 + offset, in float32. */
export function expandStatistics(nested: NestedAbsmax): Float32Array {
  const out = dequantizeBlockwise8(nested.q, nested.absmax2, nested.code, nested.blocksize);
  for (let i = 0; i < out.length; i++) out[i] = out[i] + nested.offset;
  return out;
}
