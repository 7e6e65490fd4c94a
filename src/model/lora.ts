// LoRA configuration with PEFT's semantics (LoraConfig): which modules get adapters, their scaling and
// their initialization.
//   target_modules: a list of names (a module matches when its name equals one or ends with ".<name>"),
//   a string (a regex that must match the whole module name, as re.fullmatch), or "all-linear" (every
//   linear layer of the decoder; lm_head excluded).
//   scaling = lora_alpha / r, or lora_alpha / √r with use_rslora.
//   A [r, in] ~ kaiming_uniform(a = √5) = U(−1/√in, 1/√in);  B [out, r] = 0.
//   modules_to_save: modules trained whole beside the adapters and saved with them. Here: the RMSNorm
//   layers, matched as PEFT matches them: a module is selected when its path ends with the name (no dot
//   needed, so 'norm' selects every norm and 'model.norm' only the final one). Why: a small model's label tokens can have small output embeddings, and with the final norm's
//   gain frozen the logits cannot grow enough to make them likely; 128 trained numbers lift that ceiling.
// A's random numbers come from Philox (seed, module index), so an adapter is reproducible anywhere.

import { philox4x32, uniform01 } from '../reference/random.ts';
import type { ModelSpec } from './config.ts';

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: readonly string[] | string;
  useRslora: boolean;
  bias: 'none';
  /** PEFT's modules_to_save: norm modules trained whole beside the adapters, by path suffix (absent = none). */
  modulesToSave?: readonly string[];
}

export const DEFAULT_LORA: LoraConfig = {
  r: 8,
  alpha: 16,
  dropout: 0.05,
  targetModules: ['q_proj', 'v_proj'],
  useRslora: false,
  bias: 'none',
};

/** The linear modules of one decoder layer, in PEFT's naming, with their [out, in] shapes. */
export function layerLinears(spec: ModelSpec): { name: string; out: number; in: number }[] {
  const q = spec.numHeads * spec.headDim;
  const kv = spec.numKvHeads * spec.headDim;
  const d = spec.hiddenSize;
  const m = spec.intermediateSize;
  return [
    { name: 'self_attn.q_proj', out: q, in: d },
    { name: 'self_attn.k_proj', out: kv, in: d },
    { name: 'self_attn.v_proj', out: kv, in: d },
    { name: 'self_attn.o_proj', out: d, in: q },
    { name: 'mlp.gate_proj', out: m, in: d },
    { name: 'mlp.up_proj', out: m, in: d },
    { name: 'mlp.down_proj', out: d, in: m },
  ];
}

export interface LoraTarget {
  /** Full module path, e.g. 'model.layers.3.self_attn.q_proj'. */
  path: string;
  layer: number;
  /** Index of the module within its layer (0..6), for RNG streams. */
  slot: number;
  out: number;
  in: number;
}

export function loraScaling(cfg: Pick<LoraConfig, 'r' | 'alpha' | 'useRslora'>): number {
  return cfg.useRslora ? cfg.alpha / Math.sqrt(cfg.r) : cfg.alpha / cfg.r;
}

function matches(path: string, target: LoraConfig['targetModules']): boolean {
  if (target === 'all-linear') return true;
  if (typeof target === 'string') return new RegExp(`^(?:${target})$`).test(path);
  return target.some((t) => path === t || path.endsWith(`.${t}`));
}

/** Every module that gets an adapter, in layer order. Throws when nothing matches (a silent no-op). */
export function resolveLoraTargets(spec: ModelSpec, cfg: LoraConfig): LoraTarget[] {
  if (!Number.isInteger(cfg.r) || cfg.r < 1) throw new RangeError(`LoRA r must be a positive integer, got ${cfg.r}`);
  if (!(cfg.dropout >= 0 && cfg.dropout < 1))
    throw new RangeError(`LoRA dropout must be in [0, 1), got ${cfg.dropout}`);
  const out: LoraTarget[] = [];
  for (let layer = 0; layer < spec.numLayers; layer++) {
    layerLinears(spec).forEach((m, slot) => {
      const path = `model.layers.${layer}.${m.name}`;
      if (matches(path, cfg.targetModules)) out.push({ path, layer, slot, out: m.out, in: m.in });
    });
  }
  if (out.length === 0) {
    throw new RangeError(`LoRA target_modules ${JSON.stringify(cfg.targetModules)} match no module of this model`);
  }
  return out;
}

/**
 * The norm modules (paths such as 'model.norm', 'model.layers.0.input_layernorm') that modules_to_save
 * selects among `norms`. Throws for a name that matches none of them (embeddings and lm_head cannot be
 * saved modules here).
 */
export function resolveModulesToSave(cfg: Pick<LoraConfig, 'modulesToSave'>, norms: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const name of cfg.modulesToSave ?? []) {
    const hit = norms.filter((path) => path.endsWith(name));
    if (hit.length === 0) {
      throw new RangeError(
        `LoRA modules_to_save "${name}" matches no norm module of this model (only norm layers can be trained beside the adapters, e.g. "model.norm" for the final norm)`,
      );
    }
    for (const path of hit) out.add(path);
  }
  return out;
}

/** A's initial values: U(−1/√in, 1/√in) from Philox((i/4, target index, 0x10a, 0), seed). */
export function initLoraA(target: LoraTarget, index: number, r: number, seed: number): Float32Array {
  const n = r * target.in;
  const bound = 1 / Math.sqrt(target.in);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 4) {
    const w = philox4x32([i / 4, index, 0x10a, 0], [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0]);
    for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (2 * uniform01(w[j]) - 1) * bound;
  }
  return out;
}

/** PEFT's key of an adapter tensor in adapter_model.safetensors. */
export function peftKey(path: string, which: 'A' | 'B'): string {
  return `base_model.model.${path}.lora_${which}.weight`;
}
