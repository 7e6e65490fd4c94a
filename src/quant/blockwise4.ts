// 4-bit blockwise quantization (NF4, FP4) on the CPU, as bitsandbytes' quantize_4bit/dequantize_4bit:
//   the tensor is flattened row-major and cut into blocks of `blocksize` (64) values; each block keeps its
//   absmax (float32) and each value becomes the code of the level nearest to value · (1/absmax) (float32
//   arithmetic); two codes share a byte, the even-indexed value in the HIGH nibble (packed = q[0::2] << 4
//   | q[1::2]). An odd count is padded with one zero value; the last block may be partial.
//   Dequantization: level[code] · absmax in float32 (then rounded to f16 when asked), as the CUDA kernel.
// Why a streaming encoder: weights arrive from the network in pieces and must never be held whole as
// f32; `Quantizer4` takes any split of the values and keeps at most one block of them.
// An all-zero block has absmax 0 and 0 · (1/0) = NaN, which the CUDA trees send to code 0: the same here
// (bit for bit), and it dequantizes to 0.

import { f32ToF16Bits } from '../gpu/f16.ts';
import { FOUR_BIT_CODE, FP4_BUCKETS, FP4_SORTED_CODES, NF4_BUCKETS, type FourBitType } from './codes.ts';
import { compressStatistics, expandStatistics, type NestedAbsmax } from './double-quant.ts';

export const DEFAULT_BLOCKSIZE = 64;

/** A 4-bit quantized tensor: its codes, and its absmax either as float32 or double-quantized. */
export interface Quant4 {
  type: FourBitType;
  shape: number[];
  /** Number of values (the product of shape). */
  n: number;
  blocksize: number;
  /** ceil(n / 2) bytes, first value of each pair in the high nibble. */
  packed: Uint8Array;
  /** ceil(n / blocksize) float32 absmax values, or null when `nested` holds them. */
  absmax: Float32Array | null;
  /** The double-quantized absmax (bitsandbytes' compress_statistics), or null. */
  nested: NestedAbsmax | null;
}

export const numelOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
export const blockCount = (n: number, blocksize: number): number => Math.ceil(n / blocksize);

/**
 * Encodes values in pieces. Construct with the tensor's element count, `push` the values in order in
 * any split, then `finish`. Memory: the outputs (n/2 bytes + 4 bytes per block) and one block of input.
 */
export class Quantizer4 {
  readonly packed: Uint8Array;
  readonly absmax: Float32Array;
  private readonly carry: Float32Array;
  private carried = 0;
  /** Values consumed so far. */
  private done = 0;
  private readonly scaled: Float32Array;
  private readonly codes: Uint8Array;

  constructor(
    readonly n: number,
    readonly type: FourBitType = 'nf4',
    readonly blocksize = DEFAULT_BLOCKSIZE,
  ) {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`bad element count ${n}`);
    if (!Number.isInteger(blocksize) || blocksize < 2 || blocksize % 2 !== 0) {
      throw new RangeError(`blocksize must be an even integer ≥ 2, got ${blocksize}`);
    }
    this.packed = new Uint8Array(Math.ceil(n / 2));
    this.absmax = new Float32Array(blockCount(n, blocksize));
    this.carry = new Float32Array(blocksize);
    this.scaled = new Float32Array(blocksize + 1);
    this.codes = new Uint8Array(blocksize + 1);
  }

  /** Values consumed so far. */
  get consumed(): number {
    return this.done + this.carried;
  }

  push(values: ArrayLike<number>): void {
    if (this.consumed + values.length > this.n) {
      throw new RangeError(`${this.consumed + values.length} values pushed into a tensor of ${this.n}`);
    }
    const bs = this.blocksize;
    let i = 0;
    if (this.carried > 0) {
      const take = Math.min(bs - this.carried, values.length);
      for (let k = 0; k < take; k++) this.carry[this.carried + k] = values[k];
      this.carried += take;
      i = take;
      if (this.carried === bs) {
        this.block(this.carry, 0, bs);
        this.carried = 0;
      }
    }
    for (; i + bs <= values.length; i += bs) this.block(values, i, bs);
    for (; i < values.length; i++) this.carry[this.carried++] = values[i];
  }

  /** Encodes the last, partial block and returns the codes and absmax. */
  finish(): { packed: Uint8Array; absmax: Float32Array } {
    if (this.carried > 0) {
      this.block(this.carry, 0, this.carried);
      this.carried = 0;
    }
    if (this.done !== this.n) throw new RangeError(`tensor of ${this.n} values finished after ${this.done}`);
    return { packed: this.packed, absmax: this.absmax };
  }

  /** One block of `len` values from src[s0...]: its absmax and its codes, packed two per byte. */
  private block(src: ArrayLike<number>, s0: number, len: number): void {
    let amax = 0;
    for (let k = 0; k < len; k++) {
      const a = Math.abs(src[s0 + k]);
      if (a > amax) amax = a;
    }
    this.absmax[this.done / this.blocksize] = amax; // the store rounds to float32 (inputs are float32)
    const inv = Math.fround(1 / this.absmax[this.done / this.blocksize]);
    // Scaled values in float32, as the CUDA kernel computes them; an odd tail gets a zero pad value.
    const x = this.scaled;
    for (let k = 0; k < len; k++) x[k] = src[s0 + k] * inv;
    const even = len + (len & 1);
    if (len & 1) x[len] = 0 * inv;
    const codes = this.codes;
    if (this.type === 'nf4') {
      const { lo, scale, last, base, next } = NF4_BUCKETS;
      for (let k = 0; k < even; k++) {
        const v = x[k];
        const f = (v - lo) * scale;
        const b = f >= last ? last : f > 0 ? f | 0 : 0;
        codes[k] = base[b] + (v > next[b] ? 1 : 0);
      }
    } else {
      const { scale, last, base, next } = FP4_BUCKETS;
      for (let k = 0; k < even; k++) {
        const v = x[k];
        const a = Math.abs(v);
        const f = a * scale;
        const b = f >= last ? last : f > 0 ? f | 0 : 0;
        codes[k] = (v < 0 ? 8 : 0) | FP4_SORTED_CODES[base[b] + (a > next[b] ? 1 : 0)];
      }
    }
    let byte = this.done >>> 1;
    for (let k = 0; k < even; k += 2) this.packed[byte++] = (codes[k] << 4) | codes[k + 1];
    this.done += len;
  }
}

/** Quantizes a whole tensor (float32 absmax; see compressStatistics for the double quantization). */
export function quantize4bit(
  values: ArrayLike<number>,
  shape: readonly number[],
  type: FourBitType = 'nf4',
  blocksize = DEFAULT_BLOCKSIZE,
): Quant4 {
  const n = numelOf(shape);
  if (values.length !== n) throw new RangeError(`${values.length} values for shape [${shape.join(', ')}]`);
  const q = new Quantizer4(n, type, blocksize);
  q.push(values);
  const { packed, absmax } = q.finish();
  return { type, shape: [...shape], n, blocksize, packed, absmax, nested: null };
}

/** The per-block scales of a quantized tensor: its absmax, or the double-quantized absmax expanded. */
export function blockScales(q: Pick<Quant4, 'absmax' | 'nested'>): Float32Array {
  if (q.absmax) return q.absmax;
  if (!q.nested) throw new Error('quantized tensor has neither absmax nor nested absmax');
  return expandStatistics(q.nested);
}

/** The same tensor with its absmax double-quantized (bitsandbytes' compress_statistics=True). */
export function withCompressedStatistics(q: Quant4): Quant4 {
  if (!q.absmax) return q;
  return { ...q, absmax: null, nested: compressStatistics(q.absmax) };
}

/**
 * Decodes values [start, start + count) (start a multiple of the blocksize, or 0) into `out` as float32.
 * `absmax` holds the per-block scales (expanded already when the tensor is double-quantized).
 */
export function dequantizeRangeF32(
  q: Pick<Quant4, 'type' | 'n' | 'blocksize' | 'packed'>,
  absmax: Float32Array,
  out: Float32Array,
  start = 0,
  count = q.n - start,
): Float32Array {
  const code = FOUR_BIT_CODE[q.type];
  const lut = new Float32Array(16);
  const bs = q.blocksize;
  if (start % bs !== 0) throw new RangeError(`start ${start} is not at a block boundary`);
  const end = Math.min(q.n, start + count);
  for (let b0 = start; b0 < end; b0 += bs) {
    const s = absmax[b0 / bs];
    for (let c = 0; c < 16; c++) lut[c] = code[c] * s; // rounded to float32 by the store
    const b1 = Math.min(end, b0 + bs);
    for (let i = b0; i < b1; i++) {
      const byte = q.packed[i >>> 1];
      out[i - start] = lut[i & 1 ? byte & 15 : byte >>> 4];
    }
  }
  return out;
}

/** Decodes values [start, start + count) into f16 bits (level · absmax in float32, then rounded). */
export function dequantizeRangeF16(
  q: Pick<Quant4, 'type' | 'n' | 'blocksize' | 'packed'>,
  absmax: Float32Array,
  out: Uint16Array,
  start = 0,
  count = q.n - start,
): Uint16Array {
  const code = FOUR_BIT_CODE[q.type];
  const f32 = new Float32Array(16);
  const lut = new Uint16Array(16);
  const bs = q.blocksize;
  if (start % bs !== 0) throw new RangeError(`start ${start} is not at a block boundary`);
  const end = Math.min(q.n, start + count);
  for (let b0 = start; b0 < end; b0 += bs) {
    const s = absmax[b0 / bs];
    for (let c = 0; c < 16; c++) {
      f32[c] = code[c] * s;
      lut[c] = f32ToF16Bits(f32[c]);
    }
    const b1 = Math.min(end, b0 + bs);
    for (let i = b0; i < b1; i++) {
      const byte = q.packed[i >>> 1];
      out[i - start] = lut[i & 1 ? byte & 15 : byte >>> 4];
    }
  }
  return out;
}

/** The whole tensor as float32. */
export function dequantize4bit(q: Quant4): Float32Array {
  return dequantizeRangeF32(q, blockScales(q), new Float32Array(q.n));
}

/** The whole tensor as f16 bits. */
export function dequantize4bitF16(q: Quant4): Uint16Array {
  return dequantizeRangeF16(q, blockScales(q), new Uint16Array(q.n));
}
