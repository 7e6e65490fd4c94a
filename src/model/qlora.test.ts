// QLoRA and the f16 base on Dawn, against the f32 engine (itself checked against the CPU reference and
// PyTorch): an NF4 base gives the f32 engine's logits and LoRA gradients on dequant(quant(W)) within
// 1e-4 and logits clearly different from the original W's (the quantized weights are really used), and
// so does KV-cache decoding; an f16 base gives the f32 engine's logits on f16-rounded W; merging over an
// NF4 base is dequant(W) + s·B·A; an f16 base without shader-f16 is a typed error, never a fallback.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebGPUUnavailable } from '../errors.ts';
import { roundToF16 } from '../gpu/f16.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { dequantize4bit, quantize4bit, withCompressedStatistics } from '../quant/blockwise4.ts';
import { compareClose, randomArray } from '../reference/compare.ts';
import { testGpu } from '../test/gpu.ts';
import { expectedTensorNames, parseModelConfig } from './config.ts';
import { LlamaDecoder } from './llama-decode.ts';
import { LlamaGpu, type ModelOptions, type TokenBatch } from './llama-gpu.ts';
import { resolveLoraTargets, type LoraConfig } from './lora.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

// Odd-ish sizes: in = 72 and 88 are not multiples of 64 (NF4 blocks straddle rows).
const spec = parseModelConfig({
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 96,
  hidden_size: 72,
  intermediate_size: 88,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  tie_word_embeddings: false,
});
const lora: LoraConfig = {
  r: 4,
  alpha: 8,
  dropout: 0,
  targetModules: 'all-linear',
  useRslora: false,
  bias: 'none',
};
const isBase = (name: string) => /_proj\.weight$/.test(name);

const weights: Record<string, Float32Array> = {};
for (const [i, t] of expectedTensorNames(spec).entries()) {
  const n = t.shape.reduce((a, b) => a * b, 1);
  weights[t.name] = t.name.endsWith('norm.weight')
    ? randomArray(n, 100 + i).map((x) => 1 + 0.1 * x)
    : randomArray(n, 100 + i).map((x) => x * 0.25);
}
/** Non-zero B, so the adapters change the logits and every gradient path is used. */
const adapters = Object.fromEntries(
  resolveLoraTargets(spec, lora).map((t, i) => [
    t.path,
    { a: randomArray(lora.r * t.in, 500 + i).map((x) => 0.2 * x), b: randomArray(t.out * lora.r, 700 + i) },
  ]),
);
const withBase = (f: (w: Float32Array, shape: number[]) => Float32Array) =>
  Object.fromEntries(
    expectedTensorNames(spec).map((t) => [t.name, isBase(t.name) ? f(weights[t.name], t.shape) : weights[t.name]]),
  );
const dequantized = withBase((w, shape) => dequantize4bit(withCompressedStatistics(quantize4bit(w, shape, 'nf4'))));

const SEQ = 12;
const ids = Array.from({ length: 2 * SEQ }, (_, i) => (i * 37 + 5) % spec.vocabSize);
const batch: TokenBatch = {
  batch: 2,
  seq: SEQ,
  ids,
  labels: ids.map((_, i) => ids[(i + 1) % ids.length]),
  positions: ids.map((_, i) => i % SEQ),
  segments: ids.map(() => 0),
};

function create(w: Record<string, Float32Array>, base: ModelOptions['base']): LlamaGpu {
  return LlamaGpu.create(gpu, spec, w, { mode: 'lora', lora, seed: 3, base }, adapters);
}

/** The logits, and every LoRA gradient of one backward. */
async function run(model: LlamaGpu): Promise<{ logits: Float32Array; grads: Float32Array[] }> {
  const logits = await model.logits(batch);
  const loss = gpu.empty([1], 'f32', 'loss');
  const step = gpu.step('grads');
  model.zeroGrads(step);
  const invCount = 1 / batch.labels.length;
  const o = { invCount, loss, accumulateLoss: false, backward: true, train: true, microStep: 0 };
  await model.microStep(step, batch, o);
  await step.submit();
  const grads = [];
  for (const p of model.trainable) grads.push(await gpu.readF32(p.grad!));
  gpu.release(loss);
  return { logits, grads };
}

const maxErr = (a: ArrayLike<number>, b: ArrayLike<number>) => compareClose(a, b, 0, 0).maxAbsErr;

describe('QLoRA: LoRA over an NF4 base through the fused kernels', () => {
  it('equals the f32 engine on dequant(quant(W)) and differs from the f32 engine on W', async () => {
    const q = create(weights, 'nf4');
    const ref = create(dequantized, 'f32');
    const orig = create(weights, 'f32');
    const [rq, rr, ro] = [await run(q), await run(ref), await run(orig)];
    // The NF4 base holds about a seventh of the f32 base's bytes.
    const baseBytes = (m: LlamaGpu) => m.linears().reduce((s, l) => s + l.weight.value.buffer.size, 0);
    expect(baseBytes(q)).toBeLessThan(baseBytes(orig) / 7);
    for (const m of [q, ref, orig]) m.dispose();
    const errRef = maxErr(rq.logits, rr.logits);
    const errOrig = maxErr(rq.logits, ro.logits);
    console.info(`[qlora] logits vs dequantized f32 ${errRef.toExponential(2)}, vs original ${errOrig.toFixed(3)}`);
    expect(errRef).toBeLessThanOrEqual(1e-4);
    expect(errOrig).toBeGreaterThan(0.05);
    expect(rq.grads.length).toBe(2 * 7 * spec.numLayers);
    rq.grads.forEach((g, i) => {
      const c = compareClose(g, rr.grads[i], 1e-5, 1e-3);
      if (!c.ok) throw new Error(`LoRA gradient ${i}: ${c.first.join('; ')}`);
    });
  });

  it('decodes with the KV cache over the NF4 base (one-token steps) as the f32 engine on dequant(quant(W))', async () => {
    const q = create(weights, 'nf4');
    const ref = create(dequantized, 'f32');
    const [dq, dr] = [new LlamaDecoder(q, 8), new LlamaDecoder(ref, 8)];
    try {
      for (const chunk of [[3, 9, 27], [4], [50]]) {
        expect(maxErr(await dq.append(chunk), await dr.append(chunk))).toBeLessThanOrEqual(1e-4);
      }
    } finally {
      dq.dispose();
      dr.dispose();
      q.dispose();
      ref.dispose();
    }
  });

  it('merges as PEFT does over a 4-bit base: dequant(W) + s·B·A, by Hugging Face name', async () => {
    const q = create(weights, 'nf4');
    const merged = await q.mergedWeights();
    q.dispose();
    const path = 'model.layers.1.mlp.down_proj';
    const { a, b } = adapters[path];
    const [out, inF] = [spec.hiddenSize, spec.intermediateSize];
    const expected = Float32Array.from(dequantized[`${path}.weight`]);
    for (let o = 0; o < out; o++) {
      for (let i = 0; i < inF; i++) {
        let s = 0;
        for (let r = 0; r < lora.r; r++) s += b[o * lora.r + r] * a[r * inF + i];
        expected[o * inF + i] += (lora.alpha / lora.r) * s;
      }
    }
    expect(maxErr(merged[`${path}.weight`], expected)).toBeLessThan(1e-5);
    expect(Array.from(merged['model.norm.weight'])).toEqual(Array.from(weights['model.norm.weight']));
  });
});

describe('an f16 base', () => {
  it('equals the f32 engine on f16-rounded W (shader-f16 present)', async () => {
    expect(gpu.caps.shaderF16).toBe(true);
    const h = create(weights, 'f16');
    const ref = create(
      withBase((w) => roundToF16(w)),
      'f32',
    );
    const [lh, lr] = [await h.logits(batch), await ref.logits(batch)];
    h.dispose();
    ref.dispose();
    expect(maxErr(lh, lr)).toBeLessThanOrEqual(1e-4);
  });

  it('is a typed error without shader-f16, and a frozen base refuses full training', () => {
    const noF16 = { ...gpu, caps: { ...gpu.caps, shaderF16: false } } as Gpu;
    expect(() => LlamaGpu.create(noF16, spec, weights, { mode: 'lora', lora, seed: 1, base: 'f16' })).toThrow(
      WebGPUUnavailable,
    );
    expect(() => LlamaGpu.create(gpu, spec, weights, { mode: 'full', seed: 1, base: 'nf4' })).toThrow(/mode 'lora'/);
  });
});
