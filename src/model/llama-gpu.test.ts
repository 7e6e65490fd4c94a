// The GPU engine against the CPU reference model on tiny Llama (GQA, tied and untied), Qwen2 (biases)
// and Qwen3 (q/k norms): the loss, per-token losses and every trainable gradient, in LoRA mode (B
// non-zero) and in full mode; gradient checkpointing gives the same bits; micro-batches accumulate
// like one batch.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { randomArray } from '../reference/compare.ts';
import { referenceModel, type ReferenceLora } from '../reference/llama.ts';
import { inverseTokenCount } from '../reference/loss.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { linearShape, randomWeights, TINY_CONFIGS, tinySpec } from '../test/tiny-models.ts';
import { parseModelConfig, type ModelSpec } from './config.ts';
import { LlamaGpu, type TokenBatch } from './llama-gpu.ts';
import { DEFAULT_LORA, loraScaling, type LoraConfig } from './lora.ts';
import { AdamWOptimizer } from '../train/optimizer.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

// Two rows; the first packs two examples (positions restart, segments change), one label ignored.
const batch: TokenBatch = {
  batch: 2,
  seq: 7,
  ids: [1, 5, 9, 2, 7, 3, 12, 4, 4, 8, 0, 11, 6, 2],
  labels: [5, 9, 2, -100, 3, 12, 4, 4, 8, 0, 11, 6, 2, 10],
  positions: [0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3, 4, 5, 6],
  segments: [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
};

const loraCfg: LoraConfig = { ...DEFAULT_LORA, r: 2, alpha: 4, dropout: 0, targetModules: 'all-linear' };

function randomAdapters(spec: ModelSpec) {
  const mods: Record<string, { a: Float64Array; b: Float64Array }> = {};
  let seed = 900;
  for (let l = 0; l < spec.numLayers; l++) {
    for (const m of [
      'self_attn.q_proj',
      'self_attn.k_proj',
      'self_attn.v_proj',
      'self_attn.o_proj',
      'mlp.gate_proj',
      'mlp.up_proj',
      'mlp.down_proj',
    ]) {
      const [outF, inF] = linearShape(spec, m);
      mods[`model.layers.${l}.${m}`] = {
        a: Float64Array.from(randomArray(loraCfg.r * inF, seed++), (x) => 0.4 * x),
        b: Float64Array.from(randomArray(outF * loraCfg.r, seed++), (x) => 0.4 * x),
      };
    }
  }
  return mods;
}

async function runGpu(model: LlamaGpu, batches: TokenBatch[]) {
  const invCount = inverseTokenCount(batches.map((b) => b.labels));
  const loss = gpu.empty([1], 'f32', 'loss');
  const rowLoss = gpu.empty([batches[0].batch * batches[0].seq], 'f32', 'row loss');
  const z = gpu.step('zero');
  model.zeroGrads(z);
  await z.submit();
  for (let i = 0; i < batches.length; i++) {
    const step = gpu.step('micro');
    await model.microStep(step, batches[i], {
      invCount,
      loss,
      accumulateLoss: i > 0,
      backward: true,
      train: true,
      microStep: i,
      rowLoss: i === 0 ? rowLoss : undefined,
    });
    await step.submit();
  }
  const grads = new Map<string, Float32Array>();
  for (const p of model.trainable) grads.set(p.name, await gpu.readF32(p.grad!));
  const out = { loss: (await gpu.readF32(loss))[0], rowLoss: await gpu.readF32(rowLoss), grads };
  gpu.release(loss, rowLoss);
  return out;
}

describe('Llama-family engine vs the CPU reference model on Dawn', () => {
  for (const name of ['llama', 'llama-tied', 'qwen2', 'qwen3']) {
    it(`${name}: full fine-tuning loss and every gradient`, async () => {
      const spec = tinySpec(name);
      const weights = randomWeights(spec, 1);
      const model = LlamaGpu.create(gpu, spec, weights, { mode: 'full', seed: 1 });
      const got = await runGpu(model, [batch]);
      const ref = referenceModel(spec, weights, batch, 'full');
      expectClose([got.loss], [ref.loss], 1e-5, 1e-5, 'loss');
      expectClose(got.rowLoss, ref.rowLoss, 1e-5, 1e-5, 'row loss');
      expect(got.grads.size).toBe(ref.grads.size);
      for (const [k, g] of ref.grads) expectClose(got.grads.get(k)!, g, 1e-5, 1e-3, k);
      model.dispose();
    });

    it(`${name}: LoRA on all linears, B non-zero`, async () => {
      const spec = tinySpec(name);
      const weights = randomWeights(spec, 2);
      const adapters = randomAdapters(spec);
      const model = LlamaGpu.create(gpu, spec, weights, { mode: 'lora', lora: loraCfg, seed: 1 }, adapters);
      const live = gpu.pool.liveBytes;
      const got = await runGpu(model, [batch]);
      const refLora: ReferenceLora = {
        scaling: loraScaling(loraCfg),
        modules: Object.fromEntries(Object.entries(adapters).map(([k, v]) => [k, { ...v, r: loraCfg.r }])),
      };
      const ref = referenceModel(spec, weights, batch, 'lora', refLora);
      expectClose([got.loss], [ref.loss], 1e-5, 1e-5, 'loss');
      expect(got.grads.size).toBe(ref.grads.size);
      for (const [k, g] of ref.grads) expectClose(got.grads.get(k)!, g, 1e-5, 1e-3, k);
      // Frozen base weights have no gradient buffers.
      expect(model.trainable.every((p) => p.name.includes('lora_'))).toBe(true);
      expect(gpu.pool.liveBytes).toBe(live); // every activation went back to the pool
      model.dispose();
    });
  }

  it('labels on a few positions (classification rows): the head runs on those rows; losses and gradients', async () => {
    const spec = tinySpec('llama-tied');
    const weights = randomWeights(spec, 3);
    const adapters = randomAdapters(spec);
    const sparse: TokenBatch = {
      ...batch,
      labels: Array.from(batch.labels, (l, i) => (i === 5 || i === 12 ? l : -100)),
    };
    const refLora: ReferenceLora = {
      scaling: loraScaling(loraCfg),
      modules: Object.fromEntries(Object.entries(adapters).map(([k, v]) => [k, { ...v, r: loraCfg.r }])),
    };
    for (const mode of ['lora', 'full'] as const) {
      const model =
        mode === 'lora'
          ? LlamaGpu.create(gpu, spec, weights, { mode, lora: loraCfg, seed: 1 }, adapters)
          : LlamaGpu.create(gpu, spec, weights, { mode, seed: 1 });
      const got = await runGpu(model, [sparse]);
      const ref = referenceModel(spec, weights, sparse, mode, mode === 'lora' ? refLora : null);
      expectClose([got.loss], [ref.loss], 1e-5, 1e-5, `${mode} loss`);
      expectClose(got.rowLoss, ref.rowLoss, 1e-5, 1e-5, `${mode} row loss`);
      expect(Array.from(got.rowLoss).filter((x) => x !== 0).length).toBe(2);
      for (const [k, g] of ref.grads) expectClose(got.grads.get(k)!, g, 1e-5, 1e-3, `${mode} ${k}`);
      model.dispose();
    }
  });

  it("a real tokenizer's vocabulary (SmolLM2's 49,152) in vocabulary chunks, full mode", async () => {
    const spec = parseModelConfig({ ...TINY_CONFIGS.llama, vocab_size: 49152, num_hidden_layers: 1 });
    const weights = randomWeights(spec, 8);
    const big: TokenBatch = { ...batch, ids: Array.from(batch.ids, (x, i) => (x * 3779 + i * 101) % 49152) };
    big.labels = Array.from(batch.labels, (x, i) => (x === -100 ? -100 : (big.ids[(i + 1) % 14] + 7) % 49152));
    const model = LlamaGpu.create(gpu, spec, weights, { mode: 'full', seed: 1, vocabChunk: 8192 });
    const got = await runGpu(model, [big]);
    const ref = referenceModel(spec, weights, big, 'full');
    expectClose([got.loss], [ref.loss], 1e-5, 1e-5, 'loss');
    for (const [k, g] of ref.grads) expectClose(got.grads.get(k)!, g, 1e-6, 1e-3, k);
    model.dispose();
  });

  it('gradient checkpointing gives bitwise the same gradients', async () => {
    const spec = tinySpec('qwen3');
    const weights = randomWeights(spec, 3);
    const opts = { mode: 'lora' as const, lora: { ...loraCfg, dropout: 0.1 }, seed: 7 };
    const a = LlamaGpu.create(gpu, spec, weights, opts, randomAdapters(spec));
    const b = LlamaGpu.create(gpu, spec, weights, { ...opts, checkpointing: true }, randomAdapters(spec));
    const ga = await runGpu(a, [batch]);
    const gb = await runGpu(b, [batch]);
    expect(gb.loss).toBe(ga.loss);
    for (const [k, g] of ga.grads) expect(Array.from(gb.grads.get(k)!), k).toEqual(Array.from(g));
    a.dispose();
    b.dispose();
  });

  it('the same seed and data give bitwise-identical losses and weights (dropout on)', async () => {
    const spec = tinySpec('qwen3');
    const weights = randomWeights(spec, 6);
    const run = async () => {
      const model = LlamaGpu.create(gpu, spec, weights, { mode: 'lora', lora: { ...loraCfg, dropout: 0.2 }, seed: 42 });
      const opt = new AdamWOptimizer(gpu, model.trainable);
      const loss = gpu.empty([1], 'f32', 'loss');
      const losses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const step = gpu.step('train');
        model.zeroGrads(step);
        const o = { invCount: 1 / 13, loss, accumulateLoss: false, backward: true, train: true, microStep: i };
        await model.microStep(step, batch, o);
        await opt.record(step, { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 }, 1);
        await step.submit();
        losses.push((await gpu.readF32(loss))[0]);
      }
      const params = await Promise.all(model.trainable.map((p) => gpu.readF32(p.value)));
      gpu.release(loss);
      opt.dispose();
      model.dispose();
      return { losses, params };
    };
    const a = await run();
    const b = await run();
    expect(b.losses).toEqual(a.losses);
    a.params.forEach((p, i) => expect(Array.from(b.params[i])).toEqual(Array.from(p)));
    expect(new Set(a.losses).size).toBe(4); // it trained
  });

  it('two micro-batches of one row equal one batch of two', async () => {
    const spec = tinySpec('llama');
    const weights = randomWeights(spec, 4);
    const model = LlamaGpu.create(gpu, spec, weights, { mode: 'full', seed: 1 });
    const whole = await runGpu(model, [batch]);
    const rows = [0, 1].map((r) => {
      const sl = <T extends ArrayLike<number>>(x: T) => Array.from(x).slice(r * 7, (r + 1) * 7);
      return {
        batch: 1,
        seq: 7,
        ids: sl(batch.ids),
        labels: sl(batch.labels),
        positions: sl(batch.positions),
        segments: sl(batch.segments),
      };
    });
    const micro = await runGpu(model, rows);
    expectClose([micro.loss], [whole.loss], 1e-6, 1e-5, 'loss');
    for (const [k, g] of whole.grads) expectClose(micro.grads.get(k)!, g, 1e-6, 1e-4, k);
    model.dispose();
  });
});
