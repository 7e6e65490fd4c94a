// A LoRA adapter as a PEFT adapter folder, and back. Export writes what PEFT's save_pretrained writes:
// adapter_config.json (LoraConfig's fields, sorted, with PEFT's defaults for what lorabook does not use)
// and adapter_model.safetensors with PEFT's keys and shapes:
//   base_model.model.<module path>.lora_A.weight  [r, in]
//   base_model.model.<module path>.lora_B.weight  [out, r]
// GPT-2's Conv1D modules keep the same shapes (PEFT reads in/out from the Conv1D's [in, out] weight) and
// set fan_in_fan_out, which only changes how PEFT writes a merge. 'all-linear' is written as the module
// names it resolved to, as PEFT does before saving.
// LoRA's modules_to_save (norm layers trained whole) go in as PEFT writes them after stripping its
// wrapper's "modules_to_save.default.": base_model.model.<module path>.weight, with the module names in
// adapter_config.json's modules_to_save.
// Import reads such a folder, ours or one PEFT trained, into a LoraConfig and adapters by module path
// (what LlamaGpu/Gpt2Gpu take as initial adapters). It accepts keys with or without PEFT's adapter name
// (".default") and only safetensors; anything it cannot place exactly is an AdapterImportError naming
// the file and key. Pure data in, bytes out: the same in the browser worker and in Node.

import { AdapterImportError } from '../errors.ts';
import type { ModelSpec } from '../model/config.ts';
import type { Gpt2Spec } from '../model/gpt2-config.ts';
import { resolveGpt2Targets } from '../model/gpt2-gpu.ts';
import { normModules } from '../model/llama-gpu.ts';
import { peftKey, resolveLoraTargets, resolveModulesToSave, type LoraConfig, type LoraTarget } from '../model/lora.ts';
import { SafetensorsReader, writeSafetensors, type TensorToWrite } from '../model/safetensors.ts';
import { jsonFile, type ExportFile } from './hub-model.ts';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

export type AdapterTensors = Record<string, { a: ArrayLike<number>; b: ArrayLike<number> }>;

export interface PeftExportInput {
  spec: ModelSpec | Gpt2Spec;
  lora: LoraConfig;
  /** The base model's Hub id (or local name): PEFT loads it before the adapter. */
  baseModel: string;
  /** The base model's revision (commit sha or branch); null when unknown. */
  revision: string | null;
  /** A [r·in] and B [out·r] by module path ('model.layers.0.self_attn.q_proj'), for every target. */
  adapters: AdapterTensors;
  /** modules_to_save's trained tensors by Hub name ('model.norm.weight'), when the config names some. */
  saved?: Record<string, Float32Array>;
  dtype?: 'F32' | 'F16' | 'BF16';
}

export interface ImportedAdapter {
  lora: LoraConfig;
  adapters: Record<string, { a: Float32Array; b: Float32Array }>;
  /** modules_to_save's tensors by Hub name, replacing the base model's. */
  saved: Record<string, Float32Array>;
  baseModel: string | null;
  revision: string | null;
}

const isGpt2 = (s: ModelSpec | Gpt2Spec): s is Gpt2Spec => s.modelType === 'gpt2';

/** The modules a LoRA config adapts on this model, in layer order (throws when none match). */
export function adapterTargets(spec: ModelSpec | Gpt2Spec, lora: LoraConfig): LoraTarget[] {
  return isGpt2(spec) ? resolveGpt2Targets(spec, lora) : resolveLoraTargets(spec, lora);
}

/** target_modules as PEFT saves it: 'all-linear' resolved to the distinct module names, sorted. */
function savedTargetModules(targets: LoraTarget[], given: LoraConfig['targetModules']): string[] | string {
  if (given !== 'all-linear') return typeof given === 'string' ? given : [...given];
  return [...new Set(targets.map((t) => t.path.slice(t.path.lastIndexOf('.') + 1)))].sort();
}

/** adapter_config.json's object, keys sorted as PEFT writes them (json.dumps(sort_keys=True)). */
export function peftAdapterConfig(
  spec: ModelSpec | Gpt2Spec,
  lora: LoraConfig,
  baseModel: string,
  revision: string | null,
): Record<string, unknown> {
  const targets = adapterTargets(spec, lora);
  const config: Record<string, unknown> = {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: lora.bias,
    fan_in_fan_out: isGpt2(spec),
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: lora.alpha,
    lora_dropout: lora.dropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: lora.modulesToSave && lora.modulesToSave.length > 0 ? [...lora.modulesToSave] : null,
    peft_type: 'LORA',
    r: lora.r,
    rank_pattern: {},
    revision,
    target_modules: savedTargetModules(targets, lora.targetModules),
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: lora.useRslora,
  };
  return Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The module paths modules_to_save selects on this model (none for GPT-2, which refuses them). */
function savedModulePaths(spec: ModelSpec | Gpt2Spec, lora: LoraConfig): Set<string> {
  if (isGpt2(spec)) {
    if ((lora.modulesToSave ?? []).length > 0) throw new RangeError('modules_to_save is not supported for GPT-2');
    return new Set();
  }
  return resolveModulesToSave(lora, normModules(spec));
}

/** The adapter folder: adapter_config.json and adapter_model.safetensors. */
export function exportPeftAdapter(input: PeftExportInput): ExportFile[] {
  const { spec, lora, adapters } = input;
  const targets = adapterTargets(spec, lora);
  const known = new Set(targets.map((t) => t.path));
  for (const path of Object.keys(adapters)) {
    if (!known.has(path)) throw new RangeError(`adapter for ${path}, which target_modules does not select`);
  }
  const dtype = input.dtype ?? 'F32';
  const tensors: TensorToWrite[] = targets.flatMap((t) => {
    const ab = adapters[t.path];
    if (!ab) throw new RangeError(`no adapter for ${t.path}`);
    const sizes = [
      [ab.a.length, lora.r * t.in, `A [${lora.r}, ${t.in}]`],
      [ab.b.length, t.out * lora.r, `B [${t.out}, ${lora.r}]`],
    ] as const;
    for (const [got, want, what] of sizes) {
      if (got !== want) throw new RangeError(`${t.path}: ${got} values for ${what}`);
    }
    return [
      { name: peftKey(t.path, 'A'), dtype, shape: [lora.r, t.in], data: Float32Array.from(ab.a) },
      { name: peftKey(t.path, 'B'), dtype, shape: [t.out, lora.r], data: Float32Array.from(ab.b) },
    ];
  });
  const saved = Object.entries(input.saved ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const savedModules = savedModulePaths(spec, lora);
  const missing = [...savedModules].find((m) => !saved.some(([name]) => name === `${m}.weight`));
  if (missing) throw new RangeError(`modules_to_save selects ${missing}, but its trained weight was not given`);
  for (const [name, data] of saved) {
    if (!savedModules.has(name.replace(/\.weight$/, ''))) {
      throw new RangeError(`trained tensor ${name} belongs to no module that modules_to_save selects`);
    }
    tensors.push({ name: `base_model.model.${name}`, dtype, shape: [data.length], data });
  }
  return [
    jsonFile(ADAPTER_CONFIG, peftAdapterConfig(spec, lora, input.baseModel, input.revision)),
    { path: ADAPTER_WEIGHTS, bytes: writeSafetensors(tensors, { format: 'pt' }) },
  ];
}

// ---- import ----

type Json = Record<string, unknown>;

const configError = (key: string, why: string) =>
  new AdapterImportError(`${ADAPTER_CONFIG}: ${key} ${why}`, ADAPTER_CONFIG, 'bad-config', key);

/** Fields lorabook cannot honour: importing them would give another model than the one PEFT builds. */
function refuseUnsupported(c: Json): void {
  const empty = (v: unknown) =>
    v === undefined || v === null || v === false || (typeof v === 'object' && Object.keys(v).length === 0);
  const unsupported: [string, string][] = [
    ['use_dora', 'DoRA'],
    ['rank_pattern', 'per-module ranks'],
    ['alpha_pattern', 'per-module alphas'],
    ['layers_to_transform', 'a subset of layers'],
    ['layer_replication', 'layer replication'],
    ['lora_bias', 'trained LoRA biases'],
    ['trainable_token_indices', 'trained token embeddings'],
  ];
  for (const [key, what] of unsupported) {
    if (!empty(c[key])) throw configError(key, `asks for ${what}, which lorabook does not support`);
  }
}

function parseConfig(bytes: Uint8Array): { lora: LoraConfig; baseModel: string | null; revision: string | null } {
  let c: unknown;
  try {
    c = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new AdapterImportError(
      `${ADAPTER_CONFIG} is not JSON: ${(e as Error).message}`,
      ADAPTER_CONFIG,
      'bad-config',
    );
  }
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw configError('(root)', 'is not an object');
  const j = c as Json;
  if (j.peft_type !== 'LORA') throw configError('peft_type', `is ${JSON.stringify(j.peft_type)}, not "LORA"`);
  if (j.task_type !== undefined && j.task_type !== null && j.task_type !== 'CAUSAL_LM') {
    throw configError('task_type', `is ${JSON.stringify(j.task_type)}; lorabook adapts causal LMs (CAUSAL_LM)`);
  }
  refuseUnsupported(j);
  const r = j.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) throw configError('r', 'must be a positive integer');
  const alpha = j.lora_alpha ?? 8;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw configError('lora_alpha', 'must be a number');
  const dropout = j.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
    throw configError('lora_dropout', 'must be a number in [0, 1)');
  }
  const rslora = j.use_rslora ?? false;
  if (typeof rslora !== 'boolean') throw configError('use_rslora', 'must be true or false');
  const bias = j.bias ?? 'none';
  if (bias !== 'none') throw configError('bias', `is ${JSON.stringify(bias)}; lorabook trains no biases ("none")`);
  const tm = j.target_modules;
  const list = Array.isArray(tm) && tm.length > 0 && tm.every((t) => typeof t === 'string');
  if (!list && typeof tm !== 'string') throw configError('target_modules', 'must be a list of names or a string');
  const str = (k: string) => (typeof j[k] === 'string' ? (j[k] as string) : null);
  const mts = j.modules_to_save ?? null;
  if (mts !== null && !(Array.isArray(mts) && mts.every((m) => typeof m === 'string'))) {
    throw configError('modules_to_save', 'must be a list of module names or null');
  }
  return {
    lora: {
      r,
      alpha,
      dropout,
      targetModules: list ? (tm as string[]) : (tm as string),
      useRslora: rslora,
      bias: 'none',
      ...(mts && mts.length > 0 ? { modulesToSave: mts as string[] } : {}),
    },
    baseModel: str('base_model_name_or_path'),
    revision: str('revision'),
  };
}

/** The keys PEFT may have written for one matrix: with or without the adapter name, GPT-2 with or without "transformer.". */
function keyVariants(path: string, which: 'A' | 'B'): string[] {
  const paths = path.startsWith('transformer.') ? [path, path.slice('transformer.'.length)] : [path];
  return paths.flatMap((p) => [peftKey(p, which), `base_model.model.${p}.lora_${which}.default.weight`]);
}

function readMatrix(st: SafetensorsReader, path: string, which: 'A' | 'B', shape: [number, number]): Float32Array {
  const key = keyVariants(path, which).find((k) => st.has(k));
  const main = peftKey(path, which);
  if (!key) throw new AdapterImportError(`${ADAPTER_WEIGHTS} has no ${main}`, ADAPTER_WEIGHTS, 'missing-key', main);
  const e = st.info(key);
  if (e.shape.length !== 2 || e.shape[0] !== shape[0] || e.shape[1] !== shape[1]) {
    throw new AdapterImportError(
      `${ADAPTER_WEIGHTS}: ${key} is [${e.shape.join(', ')}], the model needs [${shape.join(', ')}]`,
      ADAPTER_WEIGHTS,
      'shape',
      key,
    );
  }
  if (e.dtype !== 'F32' && e.dtype !== 'F16' && e.dtype !== 'BF16') {
    throw new AdapterImportError(
      `${ADAPTER_WEIGHTS}: ${key} is ${e.dtype}, not a float`,
      ADAPTER_WEIGHTS,
      'dtype',
      key,
    );
  }
  return st.tensorF32(key);
}

/**
 * Reads a PEFT adapter folder (file name → bytes; a leading folder is ignored) for this model. Every
 * module the config targets must have both matrices with the model's shapes, and every tensor in the
 * file must be one of them.
 */
export function importPeftAdapter(
  spec: ModelSpec | Gpt2Spec,
  files: Record<string, Uint8Array> | Map<string, Uint8Array>,
): ImportedAdapter {
  const byName = new Map<string, Uint8Array>();
  for (const [path, bytes] of files instanceof Map ? files : Object.entries(files)) {
    byName.set(path.slice(path.lastIndexOf('/') + 1), bytes);
  }
  const configBytes = byName.get(ADAPTER_CONFIG);
  if (!configBytes) {
    throw new AdapterImportError(`the adapter folder has no ${ADAPTER_CONFIG}`, ADAPTER_CONFIG, 'missing-file');
  }
  const weights = byName.get(ADAPTER_WEIGHTS);
  if (!weights) {
    const bin = byName.has('adapter_model.bin') ? ' (adapter_model.bin is a pickle, which lorabook does not read)' : '';
    throw new AdapterImportError(`the adapter folder has no ${ADAPTER_WEIGHTS}${bin}`, ADAPTER_WEIGHTS, 'missing-file');
  }
  const parsed = parseConfig(configBytes);
  let targets: LoraTarget[];
  try {
    targets = adapterTargets(spec, parsed.lora);
  } catch (e) {
    throw configError('target_modules', `does not fit this model: ${(e as Error).message}`);
  }
  const st = new SafetensorsReader(weights, ADAPTER_WEIGHTS);
  const used = new Set<string>();
  const adapters: ImportedAdapter['adapters'] = {};
  const r = parsed.lora.r;
  for (const t of targets) {
    const a = readMatrix(st, t.path, 'A', [r, t.in]);
    const b = readMatrix(st, t.path, 'B', [t.out, r]);
    for (const which of ['A', 'B'] as const) for (const k of keyVariants(t.path, which)) if (st.has(k)) used.add(k);
    adapters[t.path] = { a, b };
  }
  const saved: Record<string, Float32Array> = {};
  let savedModules: Set<string>;
  try {
    savedModules = savedModulePaths(spec, parsed.lora);
  } catch (e) {
    throw configError('modules_to_save', `does not fit this model: ${(e as Error).message}`);
  }
  for (const m of savedModules) {
    const key = [`base_model.model.${m}.weight`, `base_model.model.${m}.modules_to_save.default.weight`].find((k) =>
      st.has(k),
    );
    const main = `base_model.model.${m}.weight`;
    if (!key) throw new AdapterImportError(`${ADAPTER_WEIGHTS} has no ${main}`, ADAPTER_WEIGHTS, 'missing-key', main);
    used.add(key);
    saved[`${m}.weight`] = st.tensorF32(key);
  }
  const extra = st.names().find((n) => !used.has(n));
  if (extra) {
    throw new AdapterImportError(
      `${ADAPTER_WEIGHTS}: ${extra} belongs to no module that target_modules selects on this model`,
      ADAPTER_WEIGHTS,
      'unexpected-key',
      extra,
    );
  }
  return { lora: parsed.lora, adapters, saved, baseModel: parsed.baseModel, revision: parsed.revision };
}
