import { describe, expect, it } from 'vitest';
import { tinySpec } from '../test/tiny-models.ts';
import { DEFAULT_LORA, initLoraA, loraScaling, peftKey, resolveLoraTargets, resolveModulesToSave } from './lora.ts';

const spec = tinySpec('llama'); // 2 layers

describe('LoRA targets (PEFT semantics)', () => {
  it('names match module suffixes', () => {
    const t = resolveLoraTargets(spec, { ...DEFAULT_LORA, targetModules: ['q_proj', 'v_proj'] });
    expect(t.map((x) => x.path)).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.0.self_attn.v_proj',
      'model.layers.1.self_attn.q_proj',
      'model.layers.1.self_attn.v_proj',
    ]);
  });
  it('a string is a regex over the whole name', () => {
    const t = resolveLoraTargets(spec, { ...DEFAULT_LORA, targetModules: '.*\\.1\\.mlp\\.(up|down)_proj' });
    expect(t.map((x) => x.path)).toEqual(['model.layers.1.mlp.up_proj', 'model.layers.1.mlp.down_proj']);
    // Not a search: a partial match does not count.
    expect(() => resolveLoraTargets(spec, { ...DEFAULT_LORA, targetModules: 'up_proj' })).toThrow(/match no module/);
  });
  it('all-linear takes every decoder linear, not lm_head', () => {
    const t = resolveLoraTargets(spec, { ...DEFAULT_LORA, targetModules: 'all-linear' });
    expect(t.length).toBe(14);
    expect(t.some((x) => x.path.includes('lm_head'))).toBe(false);
  });
  it('scaling is alpha/r, or alpha/√r with rsLoRA', () => {
    expect(loraScaling({ r: 8, alpha: 16, useRslora: false })).toBe(2);
    expect(loraScaling({ r: 16, alpha: 16, useRslora: true })).toBe(4);
  });
  it('A is kaiming-uniform(a=√5): inside ±1/√in, spread over it, reproducible', () => {
    const [target] = resolveLoraTargets(spec, { ...DEFAULT_LORA, targetModules: ['down_proj'] });
    const a = initLoraA(target, 0, 8, 42);
    const bound = 1 / Math.sqrt(target.in);
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.8 * bound);
    expect(Array.from(initLoraA(target, 0, 8, 42))).toEqual(Array.from(a));
    expect(Array.from(initLoraA(target, 1, 8, 42))).not.toEqual(Array.from(a));
  });
  it("modules_to_save picks norm modules by path suffix, as PEFT's endswith does; anything else is refused", () => {
    const norms = ['model.layers.0.input_layernorm', 'model.layers.0.post_attention_layernorm', 'model.norm'];
    expect([...resolveModulesToSave({ modulesToSave: ['model.norm'] }, norms)]).toEqual(['model.norm']);
    expect([...resolveModulesToSave({ modulesToSave: ['norm'] }, norms)]).toEqual(norms);
    expect([...resolveModulesToSave({ modulesToSave: ['input_layernorm', 'model.norm'] }, norms)]).toEqual([
      'model.layers.0.input_layernorm',
      'model.norm',
    ]);
    expect(resolveModulesToSave({}, norms).size).toBe(0);
    expect(() => resolveModulesToSave({ modulesToSave: ['lm_head'] }, norms)).toThrow(/"lm_head" matches no norm/);
  });

  it('PEFT keys', () => {
    expect(peftKey('model.layers.0.self_attn.q_proj', 'A')).toBe(
      'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
    );
  });
});
