// How a model's frozen base weights reach the GPU. A weight arrives either as float values (by Hugging
// Face name) or in a stored form (the Hub converter's and the weight cache's f32 / f16 / NF4 tensors),
// and the decoder's linear weights go up as the base type the caller chose:
//   'f32'  dense f32 (stored NF4 / f16 are decoded on the CPU first): plain LoRA, or full training;
//   'f16'  dense f16 (needs shader-f16; the model fails with WebGPUUnavailable otherwise, never falls back);
//   'nf4'  QLoRA: NF4 codes with double-quantized absmax (bitsandbytes' layout, blocksize 64) read by the
//          fused kernels; a stored NF4 tensor is uploaded as is (a cached model never exists in f32),
//          float values are quantized here, one tensor at a time.
// Every other tensor (embeddings, norms, biases, lm_head) is f32 on the GPU whatever the base type.

import { WebGPUUnavailable } from '../errors.ts';
import { f16BitsToF32 } from '../gpu/f16.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { uploadF16Weight, uploadQuant4, type FrozenWeight } from '../kernels/nf4-matmul.ts';
import { dequantizeRangeF32, quantize4bit, withCompressedStatistics } from '../quant/blockwise4.ts';
import { expandStatistics, type NestedAbsmax } from '../quant/double-quant.ts';

export type BaseType = 'f32' | 'f16' | 'nf4';

/** A tensor in a stored form (structurally the Hub converter's ConvertedTensor). */
export interface StoredWeight {
  storage: 'f32' | 'f16' | 'nf4';
  shape: readonly number[];
  /** f32 / f16: little-endian values; nf4: packed codes, first value of each pair in the high nibble. */
  data: Uint8Array;
  nf4: { blocksize: number; absmax: Float32Array | null; nested: NestedAbsmax | null } | null;
}

export type WeightSource = ArrayLike<number> | StoredWeight;

export function isStoredWeight(w: WeightSource): w is StoredWeight {
  return typeof w === 'object' && w !== null && 'storage' in w && 'data' in w && w.data instanceof Uint8Array;
}

const numelOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The values of a weight as f32 (stored forms decoded: f16 widened, NF4 dequantized). */
export function weightToF32(w: WeightSource): ArrayLike<number> {
  if (!isStoredWeight(w)) return w;
  const n = numelOf(w.shape);
  if (w.storage === 'f32') return new Float32Array(w.data.slice(0, 4 * n).buffer);
  if (w.storage === 'f16') {
    const h = new Uint16Array(w.data.slice(0, 2 * n).buffer);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = f16BitsToF32(h[i]);
    return out;
  }
  const q = w.nf4;
  if (!q) throw new Error('an NF4 tensor without its absmax');
  const absmax = q.absmax ?? expandStatistics(q.nested!);
  return dequantizeRangeF32({ type: 'nf4', n, blocksize: q.blocksize, packed: w.data }, absmax, new Float32Array(n));
}

/** Fails with a typed error when the device cannot hold this base type. */
export function checkBaseType(gpu: Gpu, base: BaseType): void {
  if (base === 'f16' && !gpu.caps.shaderF16) {
    throw new WebGPUUnavailable(
      "an f16 base needs WebGPU's shader-f16 feature, which this device does not have",
      "choose base 'f32' (same results as before) or 'nf4' (QLoRA)",
    );
  }
}

/** One decoder linear weight [out, in] as a frozen f16 or NF4 GPU weight. */
export function uploadFrozenBase(
  gpu: Gpu,
  name: string,
  w: WeightSource,
  shape: [number, number],
  base: 'f16' | 'nf4',
): FrozenWeight {
  const [rows, cols] = shape;
  if (isStoredWeight(w) && w.shape.join(',') !== shape.join(',')) {
    throw new RangeError(`${name}: stored shape [${w.shape}] for [${shape}]`);
  }
  if (base === 'f16') {
    if (isStoredWeight(w) && w.storage === 'f16') {
      return uploadF16Weight(
        gpu,
        { f16Bits: new Uint16Array(w.data.slice(0, 2 * rows * cols).buffer) },
        rows,
        cols,
        name,
      );
    }
    return uploadF16Weight(gpu, weightToF32(w), rows, cols, name);
  }
  if (isStoredWeight(w) && w.storage === 'nf4') {
    const q = w.nf4;
    if (!q) throw new Error(`${name}: an NF4 tensor without its absmax`);
    return uploadQuant4(
      gpu,
      { type: 'nf4', shape, blocksize: q.blocksize, packed: w.data, absmax: q.absmax, nested: q.nested },
      name,
    );
  }
  return uploadQuant4(gpu, withCompressedStatistics(quantize4bit(weightToF32(w), shape, 'nf4')), name);
}
