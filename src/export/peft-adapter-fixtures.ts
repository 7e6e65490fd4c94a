// Test helpers for PEFT adapter export and import: random adapters (B non-zero, so an adapter that is
// dropped or misplaced changes the logits) for every module a LoRA config selects.

import type { ModelSpec } from '../model/config.ts';
import type { Gpt2Spec } from '../model/gpt2-config.ts';
import type { LoraConfig } from '../model/lora.ts';
import { randomArray } from '../reference/compare.ts';
import { adapterTargets } from './peft-adapter.ts';

/** Random A and B (B non-zero) for every target of the config. */
export function randomAdapters(
  spec: ModelSpec | Gpt2Spec,
  lora: LoraConfig,
  seed: number,
): Record<string, { a: Float32Array; b: Float32Array }> {
  const out: Record<string, { a: Float32Array; b: Float32Array }> = {};
  let s = seed;
  for (const t of adapterTargets(spec, lora)) {
    out[t.path] = {
      a: randomArray(lora.r * t.in, s++).map((x) => 0.3 * x),
      b: randomArray(t.out * lora.r, s++).map((x) => 0.3 * x),
    };
  }
  return out;
}
