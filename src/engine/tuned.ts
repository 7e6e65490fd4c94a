// What a finished run leaves behind, read off the GPU into plain arrays: the trained LoRA adapters by
// module path (or, after full fine-tuning, the trained weights by Hub name). Generation, comparison and
// every export start from this, so they never depend on a live training model.

import type { Gpu } from '../gpu/gpu.ts';
import type { CausalLmModel } from '../model/causal-lm.ts';
import type { LoraConfig } from '../model/lora.ts';

export interface TunedModel {
  mode: 'lora' | 'full';
  /** LoRA: A [r, in] and B [out, r] by module path, with the config they were trained with. */
  lora: { config: LoraConfig; adapters: Record<string, { a: Float32Array; b: Float32Array }> } | null;
  /**
   * The trained tensors by Hub name that replace the base model's: every weight after full fine-tuning,
   * LoRA's modules_to_save (norms) otherwise.
   */
  weights: Record<string, Float32Array>;
}

export async function readTuned(
  gpu: Gpu,
  model: CausalLmModel,
  mode: 'lora' | 'full',
  lora?: LoraConfig,
): Promise<TunedModel> {
  if (mode === 'lora') {
    if (!lora) throw new Error('a LoRA run needs its LoRA config');
    const adapters: Record<string, { a: Float32Array; b: Float32Array }> = {};
    const adapterParams = new Set<string>();
    for (const lin of model.linears()) {
      if (!lin.lora) continue;
      adapters[lin.path] = { a: await gpu.readF32(lin.lora.a.value), b: await gpu.readF32(lin.lora.b.value) };
      adapterParams.add(lin.lora.a.name).add(lin.lora.b.name);
    }
    const saved: Record<string, Float32Array> = {};
    for (const p of model.trainable) if (!adapterParams.has(p.name)) saved[p.name] = await gpu.readF32(p.value);
    return { mode, lora: { config: lora, adapters }, weights: saved };
  }
  const weights: Record<string, Float32Array> = {};
  for (const p of model.trainable) weights[p.name] = await gpu.readF32(p.value);
  return { mode, lora: null, weights };
}

/** The base weights with the run's trained tensors in place (read lazily from the base). */
export function withTunedWeights(base: Record<string, Float32Array>, tuned: TunedModel): Record<string, Float32Array> {
  if (Object.keys(tuned.weights).length === 0) return base;
  return new Proxy(base, {
    get: (target, name) =>
      typeof name === 'string' && name in tuned.weights ? tuned.weights[name] : target[name as string],
  });
}
