// QLoRA figures on Dawn, one JSON line each: the fused frozen-weight matmul (NF4 with double-quantized
// absmax, f32 and f16 compute, and a plain f16 weight) against lorabook's f32 matmul at the same shapes
// (GFLOP/s and ratio_to_f32, the f32 figure measured round-robin in the same run), each result verified
// against dequantize-on-the-CPU + the reference matmul; then training steps on the built-in model with
// LoRA over an f32, f16 and NF4 base: tokens/s, the base weights' GPU bytes and the pool's live / peak
// bytes. Measure on an idle machine; compare ratios from one run.

import { acquireDawn } from '../companion/dawn.ts';
import { pickedModelFolder } from '../src/builtin/builtin-files.ts';
import { BUILTIN_NAME } from '../src/builtin/recipe.ts';
import { matmulBenchInputs, matmulReference, median } from '../src/engine/bench-matmul.ts';
import { adapterName } from '../src/gpu/capabilities.ts';
import { fromF16Array, roundToF16 } from '../src/gpu/f16.ts';
import type { Gpu } from '../src/gpu/gpu.ts';
import { loadFromFiles } from '../src/hub/loader.ts';
import { matmul } from '../src/kernels/matmul.ts';
import { frozenBytes, frozenMatmul, releaseFrozen, uploadF16Weight, uploadQuant4 } from '../src/kernels/nf4-matmul.ts';
import type { BaseType } from '../src/model/base-weights.ts';
import { LlamaGpu } from '../src/model/llama-gpu.ts';
import { dequantize4bit, dequantize4bitF16, quantize4bit, withCompressedStatistics } from '../src/quant/blockwise4.ts';
import { randomArray } from '../src/reference/compare.ts';
import { AdamWOptimizer } from '../src/train/optimizer.ts';
import { verifyMatmul } from './measure.ts';
import { randomTokenBatch, recordTrainStep } from './random-batch.ts';

/** M×K×N of the SmolLM2-135M gate/up projection, forward (x·Wᵀ) and input gradient (dY·W). */
export const QLORA_SHAPES = [
  { product: 'nt', m: 512, k: 576, n: 1536, what: 'gate/up projection x·Wᵀ, W [1536, 576]' },
  { product: 'nn', m: 512, k: 1536, n: 576, what: 'gate/up input gradient dY·W, W [1536, 576]' },
] as const;

type Variant = 'f32' | 'nf4' | 'nf4-f16compute' | 'f16-weight';

/** Every variant of one shape, measured round-robin; one record per variant. */
async function matmulShapeRecords(gpu: Gpu, s: (typeof QLORA_SHAPES)[number], reps: number): Promise<object[]> {
  const { product, m, k, n } = s;
  const [out, inF] = product === 'nt' ? [n, k] : [k, n];
  const { a: x } = matmulBenchInputs(m, n, k);
  const w = randomArray(out * inF, 12);
  const q = withCompressedStatistics(quantize4bit(w, [out, inF], 'nf4'));
  const variants: Variant[] = ['f32', 'nf4'];
  if (gpu.caps.shaderF16) variants.push('nf4-f16compute', 'f16-weight');
  const tx = gpu.upload(x, [m, k], 'f32', 'x');
  const ty = gpu.empty([m, n], 'f32', 'y');
  const tw = gpu.upload(w, [out, inF], 'f32', 'w f32');
  const wq = uploadQuant4(gpu, q, 'w nf4');
  const wh = gpu.caps.shaderF16 ? uploadF16Weight(gpu, w, out, inF, 'w f16') : null;
  const record = async (v: Variant) => {
    const step = gpu.step(`qlora bench ${v}`);
    if (v === 'f32') await matmul(step, { a: tx, b: tw, c: ty, m, n, k }, product);
    else {
      const weight = v === 'f16-weight' ? wh! : wq;
      await frozenMatmul(
        step,
        { x: tx, w: weight, y: ty, m, compute: v === 'nf4-f16compute' ? 'f16' : 'f32' },
        product,
      );
    }
    await step.submit();
    await gpu.sync();
  };
  const times = new Map<Variant, number[]>(variants.map((v) => [v, []]));
  for (let r = 0; r <= reps; r++) {
    for (const v of variants) {
      const t0 = performance.now();
      await record(v);
      if (r > 0) times.get(v)!.push(performance.now() - t0);
    }
  }
  const refs = new Map<string, Float32Array>();
  const reference = (v: Variant) => {
    const key = v === 'f32' ? 'f32' : v === 'nf4' ? 'nf4' : v === 'f16-weight' ? 'f16w' : 'nf4h';
    if (!refs.has(key)) {
      const wRef =
        v === 'f32'
          ? w
          : v === 'nf4'
            ? dequantize4bit(q)
            : v === 'f16-weight'
              ? roundToF16(w)
              : fromF16Array(dequantize4bitF16(q));
      refs.set(key, matmulReference(product, m, n, k, v === 'nf4-f16compute' ? roundToF16(x) : x, wRef));
    }
    return refs.get(key)!;
  };
  const adapter = adapterName(gpu.caps);
  const out32 = median(times.get('f32')!);
  const records: object[] = [];
  for (const v of variants) {
    await record(v);
    const check = verifyMatmul(reference(v), k, await gpu.readF32(ty));
    const med = median(times.get(v)!);
    const gflops = (2 * m * n * k) / (med * 1e6);
    records.push({
      name: v === 'f32' ? `matmul_${product}_f32` : `frozen_matmul_${product}_${v}`,
      where: 'node-dawn',
      peer: 'lorabook',
      shape: `${m}x${k}x${n}`,
      adapter,
      reps: reps,
      median_ms: Number(med.toFixed(3)),
      gflops: Number(gflops.toFixed(3)),
      verified: check.verified,
      maxAbsErr: check.maxAbsErr,
      ratio_to_f32: Number((out32 / med).toFixed(3)),
      weight_bytes: v === 'f32' ? tw.buffer.size : v === 'f16-weight' ? frozenBytes(wh!) : frozenBytes(wq),
    });
  }
  gpu.release(tx, ty, tw);
  releaseFrozen(gpu, wq);
  if (wh) releaseFrozen(gpu, wh);
  return records;
}

const TRAIN = { batch: 4, seq: 128, steps: 5 };

/** LoRA training steps on the built-in model over each base type: tokens/s and GPU bytes. */
async function trainRecords(gpu: Gpu): Promise<object[]> {
  const loaded = await loadFromFiles(BUILTIN_NAME, pickedModelFolder(), { storage: 'f32', storageManager: null });
  const weights = Object.fromEntries(loaded.tensors);
  const lora = {
    r: 8,
    alpha: 16,
    dropout: 0,
    targetModules: 'all-linear' as const,
    useRslora: false,
    bias: 'none' as const,
  };
  const bases: BaseType[] = gpu.caps.shaderF16 ? ['f32', 'f16', 'nf4'] : ['f32', 'nf4'];
  const out: object[] = [];
  for (const base of bases) {
    const live0 = gpu.pool.liveBytes;
    const model = LlamaGpu.create(gpu, loaded.spec, weights, { mode: 'lora', lora, seed: 1, base });
    const modelBytes = gpu.pool.liveBytes - live0;
    const baseBytes = model
      .linears()
      .reduce((s, l) => s + (l.frozen ? frozenBytes(l.frozen) : l.weight.value.buffer.size), 0);
    const opt = new AdamWOptimizer(gpu, model.trainable);
    const loss = gpu.empty([1], 'f32', 'loss');
    gpu.pool.resetPeak();
    const times: number[] = [];
    for (let s = 0; s <= TRAIN.steps; s++) {
      const b = randomTokenBatch(loaded.spec.vocabSize, TRAIN.batch, TRAIN.seq, s + 1);
      const t0 = performance.now();
      const step = gpu.step('qlora bench train');
      await recordTrainStep(step, model, opt, b, loss, s, 1e-4);
      await step.submit();
      await gpu.readF32(loss);
      if (s > 0) times.push(performance.now() - t0);
    }
    const peak = gpu.pool.peakLiveBytes - live0;
    gpu.release(loss);
    opt.dispose();
    model.dispose();
    const med = median(times);
    out.push({
      name: `train_step_lora_${base}_base`,
      where: 'node-dawn',
      peer: 'lorabook',
      shape: `${BUILTIN_NAME}, lora all-linear r8, base ${base}, batch ${TRAIN.batch}×${TRAIN.seq}`,
      adapter: adapterName(gpu.caps),
      reps: times.length,
      median_ms: Number(med.toFixed(1)),
      tokens_per_s: Number(((TRAIN.batch * TRAIN.seq * 1000) / med).toFixed(1)),
      base_weight_bytes: baseBytes,
      model_live_bytes: modelBytes,
      train_peak_live_bytes: peak,
      verified: true,
      maxAbsErr: 0,
    });
  }
  return out;
}

/** Every QLoRA figure on a fresh Dawn device. */
export async function qloraRecords(reps = 7): Promise<object[]> {
  const gpu = await acquireDawn();
  try {
    const out: object[] = [];
    for (const s of QLORA_SHAPES) out.push(...(await matmulShapeRecords(gpu, s, reps)));
    out.push(...(await trainRecords(gpu)));
    return out;
  } finally {
    gpu.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const rec of await qloraRecords()) console.log(JSON.stringify(rec));
}
