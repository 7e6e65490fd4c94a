// A loaded model's weights as the engine takes them today (float32 by Hugging Face name), materialized one
// tensor at a time when the engine reads it: f16 widened, NF4 dequantized (absmax expanded from its
// double-quantized form). Why lazily: the engine uploads each tensor and drops it, so the whole f32 model
// never exists on the CPU even when the GPU holds it in f32.

import { f16BitsToF32 } from '../gpu/f16.ts';
import { dequantizeRangeF32 } from '../quant/blockwise4.ts';
import { expandStatistics } from '../quant/double-quant.ts';
import type { ConvertedTensor } from './convert.ts';

/** One stored tensor as float32 values. */
export function tensorToF32(t: ConvertedTensor): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.storage === 'f32') return new Float32Array(t.data.slice().buffer, 0, n);
  if (t.storage === 'f16') {
    const h = new Uint16Array(t.data.slice().buffer, 0, n);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = f16BitsToF32(h[i]);
    return out;
  }
  const q = t.nf4!;
  const absmax = q.absmax ?? expandStatistics(q.nested!);
  return dequantizeRangeF32({ type: 'nf4', n, blocksize: q.blocksize, packed: t.data }, absmax, new Float32Array(n));
}

/** The weights by name, each converted to float32 only when read. */
export function engineWeights(tensors: ReadonlyMap<string, ConvertedTensor>): Record<string, Float32Array> {
  return new Proxy({} as Record<string, Float32Array>, {
    get: (_, name) => {
      const t = typeof name === 'string' ? tensors.get(name) : undefined;
      return t ? tensorToF32(t) : undefined;
    },
    has: (_, name) => typeof name === 'string' && tensors.has(name),
    ownKeys: () => [...tensors.keys()],
    getOwnPropertyDescriptor: (_, name) =>
      typeof name === 'string' && tensors.has(name) ? { enumerable: true, configurable: true } : undefined,
  });
}
