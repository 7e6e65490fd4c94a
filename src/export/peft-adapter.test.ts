// PEFT adapter export and import without a GPU: the exported keys, shapes and dtype against a golden list
// written from PEFT's documented naming (fixtures/peft-adapter-golden.json), read from the file's own
// header here, not through lorabook's safetensors reader; adapter_config.json's fields; import of the key
// variants PEFT writes; and the typed errors for folders that cannot be imported. The logits after a round
// trip are checked on the GPU in peft-adapter-gpu.test.ts.

import { describe, expect, it } from 'vitest';
import { AdapterImportError } from '../errors.ts';
import { readModelJson } from '../builtin/builtin-files.ts';
import { parseModelConfig, type ModelSpec } from '../model/config.ts';
import type { Gpt2Spec } from '../model/gpt2-config.ts';
import { DEFAULT_LORA, type LoraConfig } from '../model/lora.ts';
import { writeSafetensors } from '../model/safetensors.ts';
import { tinyGpt2Spec } from '../test/tiny-gpt2.ts';
import golden from './fixtures/peft-adapter-golden.json';
import { randomAdapters } from './peft-adapter-fixtures.ts';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, exportPeftAdapter, importPeftAdapter } from './peft-adapter.ts';

const tinySpec = (): ModelSpec => parseModelConfig(readModelJson('config.json'));
const specOf = (model: string): ModelSpec | Gpt2Spec => (model === 'tiny-gpt2' ? tinyGpt2Spec() : tinySpec());

/** The safetensors header, parsed here from the bytes (8-byte little-endian length, then JSON). */
function header(bytes: Uint8Array): Record<string, { dtype: string; shape: number[]; data_offsets: number[] }> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as ReturnType<typeof header>;
}

const fileOf = (files: { path: string; bytes: Uint8Array }[], path: string) =>
  files.find((f) => f.path === path)!.bytes;
const json = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) as Record<string, unknown>;

function exportCase(c: (typeof golden.cases)[number]) {
  const spec = specOf(c.model);
  const lora: LoraConfig = { ...DEFAULT_LORA, r: c.r, alpha: 16, targetModules: c.target_modules };
  const adapters = randomAdapters(spec, lora, 3);
  const files = exportPeftAdapter({ spec, lora, baseModel: 'lorabook/base', revision: 'abc123', adapters });
  return { spec, lora, adapters, files };
}

describe('PEFT adapter export', () => {
  for (const c of golden.cases) {
    it(`${c.name}: keys, shapes and dtype match the golden list; the config is PEFT's`, () => {
      const { files } = exportCase(c);
      expect(files.map((f) => f.path)).toEqual([ADAPTER_CONFIG, ADAPTER_WEIGHTS]);
      const h = header(fileOf(files, ADAPTER_WEIGHTS));
      expect(h.__metadata__).toEqual({ format: 'pt' });
      const shapes = Object.fromEntries(
        Object.entries(h)
          .filter(([k]) => k !== '__metadata__')
          .map(([k, v]) => [k, v.shape]),
      );
      expect(Object.keys(shapes).sort()).toEqual(Object.keys(c.tensors).sort());
      expect(shapes).toEqual(c.tensors);
      for (const [k, v] of Object.entries(h)) if (k !== '__metadata__') expect(v.dtype).toBe('F32');

      const text = new TextDecoder().decode(fileOf(files, ADAPTER_CONFIG));
      const config = JSON.parse(text) as Record<string, unknown>;
      expect(config).toMatchObject({ ...c.config, base_model_name_or_path: 'lorabook/base', revision: 'abc123' });
      expect(Object.keys(config)).toEqual(Object.keys(config).sort()); // PEFT writes sort_keys=True
      // Fields PEFT writes with its defaults, so PEFT's from_pretrained rebuilds the same LoraConfig.
      expect(config).toMatchObject({
        inference_mode: true,
        init_lora_weights: true,
        use_dora: false,
        layers_to_transform: null,
        modules_to_save: null,
        rank_pattern: {},
        alpha_pattern: {},
        lora_dropout: 0.05,
      });
    });
  }

  it('stores the values exactly (F32) in the tensor the key names', () => {
    const { files, adapters } = exportCase(golden.cases[0]);
    const bytes = fileOf(files, ADAPTER_WEIGHTS);
    const h = header(bytes);
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const e = h['base_model.model.model.layers.2.self_attn.v_proj.lora_B.weight'];
    const data = new Float32Array(bytes.slice(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]).buffer);
    expect(Array.from(data)).toEqual(Array.from(adapters['model.layers.2.self_attn.v_proj'].b));
  });

  it('refuses adapters of the wrong size or for modules the config does not select', () => {
    const { spec, lora, adapters } = exportCase(golden.cases[0]);
    const short = {
      ...adapters,
      'model.layers.0.self_attn.q_proj': { a: new Float32Array(3), b: new Float32Array(3) },
    };
    expect(() => exportPeftAdapter({ spec, lora, baseModel: 'x', revision: null, adapters: short })).toThrow(
      /model\.layers\.0\.self_attn\.q_proj: 3 values for A \[8, 128\]/,
    );
    const extra = { ...adapters, 'model.layers.0.mlp.up_proj': adapters['model.layers.0.self_attn.q_proj'] };
    expect(() => exportPeftAdapter({ spec, lora, baseModel: 'x', revision: null, adapters: extra })).toThrow(
      /mlp\.up_proj, which target_modules does not select/,
    );
  });
});

describe('PEFT adapter import', () => {
  const asFolder = (files: { path: string; bytes: Uint8Array }[]) =>
    Object.fromEntries(files.map((f) => [`my-adapter/${f.path}`, f.bytes]));

  for (const c of golden.cases) {
    it(`${c.name}: export then import gives the same config and values`, () => {
      const { spec, lora, adapters, files } = exportCase(c);
      const got = importPeftAdapter(spec, asFolder(files));
      expect(got.baseModel).toBe('lorabook/base');
      expect(got.revision).toBe('abc123');
      expect(got.lora).toMatchObject({ r: lora.r, alpha: 16, dropout: 0.05, useRslora: false, bias: 'none' });
      expect(Object.keys(got.adapters)).toEqual(Object.keys(adapters));
      for (const [path, ab] of Object.entries(adapters)) {
        expect(Array.from(got.adapters[path].a)).toEqual(Array.from(ab.a));
        expect(Array.from(got.adapters[path].b)).toEqual(Array.from(ab.b));
      }
    });
  }

  it("reads PEFT's variants: keys with the adapter name (.default), BF16 values, full module names", () => {
    const spec = tinySpec();
    const lora: LoraConfig = { ...DEFAULT_LORA, r: 2, targetModules: ['q_proj'] };
    const adapters = randomAdapters(spec, lora, 9);
    const tensors = Object.entries(adapters).flatMap(([path, ab]) => [
      { name: `base_model.model.${path}.lora_A.default.weight`, dtype: 'BF16' as const, shape: [2, 128], data: ab.a },
      { name: `base_model.model.${path}.lora_B.default.weight`, dtype: 'BF16' as const, shape: [128, 2], data: ab.b },
    ]);
    const config = {
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 2,
      lora_alpha: 4,
      target_modules: Object.keys(adapters), // full names, as older PEFT wrote for 'all-linear'
      lora_dropout: 0,
      bias: 'none',
      use_rslora: true,
      use_dora: false,
      rank_pattern: {},
    };
    const got = importPeftAdapter(spec, {
      [ADAPTER_CONFIG]: new TextEncoder().encode(JSON.stringify(config)),
      [ADAPTER_WEIGHTS]: writeSafetensors(tensors),
    });
    expect(got.lora).toMatchObject({ r: 2, alpha: 4, useRslora: true, dropout: 0 });
    expect(Object.keys(got.adapters)).toEqual(Object.keys(adapters));
    const a = got.adapters['model.layers.1.self_attn.q_proj'].a;
    const want = adapters['model.layers.1.self_attn.q_proj'].a;
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - want[i])).toBeLessThanOrEqual(Math.abs(want[i]) / 128);
  });

  describe('errors name the file and key', () => {
    const { spec, files } = exportCase(golden.cases[0]);
    const cfg = json(fileOf(files, ADAPTER_CONFIG));
    const weights = fileOf(files, ADAPTER_WEIGHTS);
    const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
    const fails = (folder: Record<string, Uint8Array>): AdapterImportError => {
      try {
        importPeftAdapter(spec, folder);
      } catch (e) {
        expect(e).toBeInstanceOf(AdapterImportError);
        return e as AdapterImportError;
      }
      throw new Error('the import did not fail');
    };
    const withWeights = (tensors: Parameters<typeof writeSafetensors>[0]) => ({
      [ADAPTER_CONFIG]: enc(cfg),
      [ADAPTER_WEIGHTS]: writeSafetensors(tensors),
    });
    const allTensors = () => {
      const { adapters } = exportCase(golden.cases[0]);
      return Object.entries(adapters).flatMap(([path, ab]) => [
        { name: `base_model.model.${path}.lora_A.weight`, dtype: 'F32' as const, shape: [8, 128], data: ab.a },
        {
          name: `base_model.model.${path}.lora_B.weight`,
          dtype: 'F32' as const,
          shape: [ab.b.length / 8, 8],
          data: ab.b,
        },
      ]);
    };

    it('missing files', () => {
      expect(fails({ [ADAPTER_WEIGHTS]: weights })).toMatchObject({ reason: 'missing-file', file: ADAPTER_CONFIG });
      const bin = fails({ [ADAPTER_CONFIG]: enc(cfg), 'adapter_model.bin': new Uint8Array(4) });
      expect(bin).toMatchObject({ reason: 'missing-file', file: ADAPTER_WEIGHTS });
      expect(bin.message).toMatch(/adapter_model\.bin is a pickle/);
    });

    it('a config lorabook cannot honour', () => {
      expect(fails({ [ADAPTER_CONFIG]: new TextEncoder().encode('{'), [ADAPTER_WEIGHTS]: weights }).reason).toBe(
        'bad-config',
      );
      for (const [key, value] of [
        ['peft_type', 'IA3'],
        ['use_dora', true],
        ['rank_pattern', { q_proj: 4 }],
        ['bias', 'all'],
        ['r', 0],
        ['target_modules', ['no_such_module']],
      ] as const) {
        expect(fails({ [ADAPTER_CONFIG]: enc({ ...cfg, [key]: value }), [ADAPTER_WEIGHTS]: weights })).toMatchObject({
          reason: 'bad-config',
          key,
        });
      }
    });

    it('a missing key, a wrong shape, a tensor no module takes', () => {
      const key = 'base_model.model.model.layers.3.self_attn.v_proj.lora_B.weight';
      const missing = fails(withWeights(allTensors().filter((t) => t.name !== key)));
      expect(missing).toMatchObject({ reason: 'missing-key', key, file: ADAPTER_WEIGHTS });

      const reshaped = allTensors().map((t) => (t.name === key ? { ...t, shape: [32, 16] } : t));
      const shape = fails(withWeights(reshaped));
      expect(shape).toMatchObject({ reason: 'shape', key });
      expect(shape.message).toMatch(/is \[32, 16\], the model needs \[64, 8\]/);

      const lm = { name: 'base_model.model.lm_head.weight', dtype: 'F32' as const, shape: [1], data: [0] };
      const extra = fails(withWeights([...allTensors(), lm]));
      expect(extra).toMatchObject({ reason: 'unexpected-key', key: lm.name });

      // An adapter trained for r = 8 read with a config that says r = 4: every shape is off.
      const r4 = fails({ [ADAPTER_CONFIG]: enc({ ...cfg, r: 4 }), [ADAPTER_WEIGHTS]: weights });
      expect(r4).toMatchObject({
        reason: 'shape',
        key: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
      });
    });
  });

  it("modules_to_save: the final norm round-trips under PEFT's key, and is required", () => {
    const spec = tinySpec();
    const lora: LoraConfig = { ...DEFAULT_LORA, r: 2, targetModules: ['q_proj'], modulesToSave: ['model.norm'] };
    const adapters = randomAdapters(spec, lora, 4);
    const norm = Float32Array.from({ length: spec.hiddenSize }, (_, i) => 1 + i / 1000);
    const files = exportPeftAdapter({
      spec,
      lora,
      baseModel: 'x',
      revision: null,
      adapters,
      saved: { 'model.norm.weight': norm },
    });
    expect(json(fileOf(files, ADAPTER_CONFIG)).modules_to_save).toEqual(['model.norm']);
    const got = importPeftAdapter(spec, Object.fromEntries(files.map((f) => [f.path, f.bytes])));
    expect(got.lora.modulesToSave).toEqual(['model.norm']);
    expect(Array.from(got.saved['model.norm.weight'])).toEqual(Array.from(norm));
    expect(() => exportPeftAdapter({ spec, lora, baseModel: 'x', revision: null, adapters })).toThrow(
      /modules_to_save selects model.norm, but its trained weight was not given/,
    );
    expect(() =>
      exportPeftAdapter({
        spec,
        lora: { ...lora, modulesToSave: ['lm_head'] },
        baseModel: 'x',
        revision: null,
        adapters,
      }),
    ).toThrow(/"lm_head" matches no norm module/);
  });
});
