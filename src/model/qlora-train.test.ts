// QLoRA learns: the built-in model (public/models/lorabook-tiny) loaded as NF4 through the Hub loader,
// LoRA on every linear over the frozen 4-bit base, a few AdamW steps on e-mails (public/datasets/spam-ham,
// a domain its pretraining corpus lacks) lower the loss on held-out e-mails. A broken input gradient
// through the fused kernels, or adapters that did nothing, would leave it where it was.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_DIR, pickedModelFolder } from '../builtin/builtin-files.ts';
import { meanLoss } from '../builtin/pretrainer.ts';
import { BUILTIN_NAME, MODEL_CONFIG, rowsToBatch } from '../builtin/recipe.ts';
import { loadTokenizerFromFiles } from '../data/tokenizer.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { loadFromFiles } from '../hub/loader.ts';
import { testGpu } from '../test/gpu.ts';
import { AdamWOptimizer } from '../train/optimizer.ts';
import { LlamaGpu } from './llama-gpu.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const SEQ = 48;
const STEPS = 8;

describe('QLoRA training on the built-in model', () => {
  it('lowers the held-out loss on a new domain', async () => {
    const loaded = await loadFromFiles(BUILTIN_NAME, pickedModelFolder(), { storage: 'nf4', storageManager: null });
    const file = (name: string) => loaded.files.get(name)!;
    const tok = await loadTokenizerFromFiles(
      { 'tokenizer.json': file('tokenizer.json'), 'tokenizer_config.json': file('tokenizer_config.json') },
      BUILTIN_NAME,
    );
    const jsonl = readFileSync(join(MODEL_DIR, '..', '..', 'datasets', 'spam-ham', 'spam-ham.jsonl'), 'utf8');
    const rows = jsonl
      .split('\n')
      .slice(0, 40)
      .map((l) => [MODEL_CONFIG.bos_token_id, ...tok.encode((JSON.parse(l) as { text: string }).text)])
      .map((ids) => ids.slice(0, SEQ + 1));
    const train = rows.slice(0, 32);
    const heldOut = rowsToBatch(rows.slice(32), SEQ);

    const model = LlamaGpu.create(gpu, loaded.spec, Object.fromEntries(loaded.tensors), {
      mode: 'lora',
      lora: { r: 8, alpha: 16, dropout: 0, targetModules: 'all-linear', useRslora: false, bias: 'none' },
      seed: 1,
      base: 'nf4',
    });
    const opt = new AdamWOptimizer(gpu, model.trainable);
    const loss = gpu.empty([1], 'f32', 'loss');
    try {
      expect(model.linears().every((l) => l.baseFormat === 'nf4')).toBe(true);
      const before = await meanLoss(gpu, model, heldOut);
      for (let s = 0; s < STEPS; s++) {
        const b = rowsToBatch(
          [0, 1, 2, 3].map((j) => train[(s * 4 + j) % train.length]),
          SEQ,
        );
        let count = 0;
        for (const l of b.labels) if (l >= 0) count++;
        const step = gpu.step(`qlora step ${s}`);
        model.zeroGrads(step);
        const o = { invCount: 1 / count, loss, accumulateLoss: false, backward: true, train: true, microStep: s };
        await model.microStep(step, b, o);
        await opt.record(step, { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 }, 1.0);
        await step.submit();
      }
      const after = await meanLoss(gpu, model, heldOut);
      console.info(`[qlora] held-out e-mail loss ${before.toFixed(3)} -> ${after.toFixed(3)} in ${STEPS} steps`);
      expect(after).toBeLessThan(before - 0.1);
    } finally {
      gpu.release(loss);
      opt.dispose();
      model.dispose();
    }
  });
});
