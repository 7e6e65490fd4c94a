// The GPT-2 engine against the PyTorch golden fixture (scripts/make-gpt2-fixtures.py: HF's GPT-2 forward
// in plain torch, PEFT LoRA on c_attn/c_proj/c_fc with fan_in_fan_out, B non-zero): logits within 1e-4,
// the loss, and every LoRA gradient within 1e-3 relative.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { inverseTokenCount } from '../reference/loss.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { parseGpt2Config } from './gpt2-config.ts';
import { Gpt2Gpu } from './gpt2-gpu.ts';
import type { TokenBatch } from './llama-gpu.ts';
import { DEFAULT_LORA } from './lora.ts';
import { SafetensorsReader } from './safetensors.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

describe('GPT-2 engine vs PyTorch', () => {
  it('logits, loss and every LoRA gradient', async () => {
    const r = new SafetensorsReader(
      new Uint8Array(readFileSync(new URL('./fixtures/golden/gpt2.safetensors', import.meta.url))),
    );
    const meta = r.metadata!;
    const spec = parseGpt2Config(JSON.parse(meta.config));
    const cfg = JSON.parse(meta.lora) as { r: number; lora_alpha: number; target_modules: string[] };
    const weights: Record<string, Float32Array> = {};
    const lora: Record<string, { a: Float32Array; b: Float32Array }> = {};
    const grads: Record<string, Float32Array> = {};
    for (const key of r.names()) {
      const m = /^(grad\.)?base_model\.model\.(.+)\.lora_([AB])\.weight$/.exec(key);
      if (m && m[1]) grads[`${m[2]}.lora_${m[3]}.weight`] = r.tensorF32(key);
      else if (m)
        (lora[m[2]] ??= { a: new Float32Array(), b: new Float32Array() })[m[3] === 'A' ? 'a' : 'b'] = r.tensorF32(key);
      else if (key.startsWith('transformer.')) weights[key] = r.tensorF32(key);
    }
    const [B, T] = r.info('input_ids').shape;
    const batch: TokenBatch = {
      batch: B,
      seq: T,
      ids: Array.from(r.array('input_ids') as Int32Array),
      labels: Array.from(r.array('labels') as Int32Array),
      positions: Array.from({ length: B * T }, (_, i) => i % T),
      segments: new Array<number>(B * T).fill(0),
    };
    const loraCfg = { ...DEFAULT_LORA, r: cfg.r, alpha: cfg.lora_alpha, dropout: 0, targetModules: cfg.target_modules };
    const model = Gpt2Gpu.create(gpu, spec, weights, { mode: 'lora', lora: loraCfg, seed: 1 }, lora);
    expectClose(await model.logits(batch), r.tensorF32('logits'), 1e-4, 1e-4, 'logits');
    const loss = gpu.empty([1], 'f32', 'loss');
    const step = gpu.step('grads');
    model.zeroGrads(step);
    await model.microStep(step, batch, {
      invCount: inverseTokenCount([batch.labels]),
      loss,
      accumulateLoss: false,
      backward: true,
      train: true,
      microStep: 0,
    });
    await step.submit();
    expectClose(await gpu.readF32(loss), [Number(meta.loss)], 1e-4, 1e-5, 'loss');
    const got = await model.gradients();
    expect([...got.keys()].sort()).toEqual(Object.keys(grads).sort());
    for (const [k, g] of Object.entries(grads)) expectClose(got.get(k)!, g, 1e-5, 1e-3, k);
    gpu.release(loss);
    model.dispose();
  });
});
