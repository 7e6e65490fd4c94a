// A loaded model's weights for consumers that take float32 by Hugging Face name (the GPT-2 engine, full
// training, exports), materialized one tensor at a time when read: f16 widened, NF4 dequantized (absmax
// expanded from its double-quantized form). Why lazily: the consumer uploads each tensor and drops it, so
// the whole f32 model never exists on the CPU.
// The Llama-family engine takes the stored tensors themselves (`Object.fromEntries(loaded.tensors)`):
// with `base: 'nf4'` the cached NF4 codes go to the GPU as they are, with no f32 copy on the way.

import { weightToF32 } from '../model/base-weights.ts';
import type { ConvertedTensor } from './convert.ts';

/** One stored tensor as float32 values. */
export function tensorToF32(t: ConvertedTensor): Float32Array {
  const v = weightToF32(t);
  return v instanceof Float32Array ? v : Float32Array.from(v);
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
