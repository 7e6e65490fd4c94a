// `npm run bench -- --lora`: LoRA's rank-r products, the tiled matmul against the skinny one
// (src/kernels/matmul-skinny.ts), on the six products of one LoRA'd 128 → 128 linear at r 8 over 512
// tokens, then one whole LoRA training step of the built-in model (8 rows × 64 tokens, all 28 linears,
// r 8) with matmul() routing skinny shapes or not. Runs on Dawn in Node and, through bench/page, in
// Chromium (SwiftShader without a GPU); the same code measures both. Kernels are timed round-robin in
// one run: GPU timestamps where the adapter has them (median of the per-dispatch sums), wall clock from
// submit to done otherwise. Every product is verified against the float64 CPU reference.

import { matmulReference, median } from '../src/engine/bench-matmul.ts';
import { MODEL_CONFIG, initialWeights } from '../src/builtin/recipe.ts';
import { adapterName } from '../src/gpu/capabilities.ts';
import type { Gpu } from '../src/gpu/gpu.ts';
import type { Step } from '../src/gpu/step.ts';
import { matmul, matmulRouting, matmulTile, type MatmulArgs } from '../src/kernels/matmul.ts';
import { skinnyMatmul, type SkinnyPlan } from '../src/kernels/matmul-skinny.ts';
import { parseModelConfig } from '../src/model/config.ts';
import { LlamaGpu } from '../src/model/llama-gpu.ts';
import { compareClose, randomArray } from '../src/reference/compare.ts';
import { matmulRef, type MatmulProduct } from '../src/reference/matmul.ts';
import { AdamWOptimizer } from '../src/train/optimizer.ts';
import { randomTokenBatch, recordTrainStep } from './random-batch.ts';

export interface LoraShape {
  what: string;
  product: MatmulProduct;
  m: number;
  n: number;
  k: number;
  alpha?: number;
  accumulate?: boolean;
}

/** The products of a LoRA'd 128 → 128 linear at r 8 over 512 tokens, as src/model/linear.ts records them. */
export const LORA_SHAPES: readonly LoraShape[] = [
  { what: 'x·Aᵀ', product: 'nt', m: 512, n: 8, k: 128 },
  { what: 'xa·Bᵀ into y', product: 'nt', m: 512, n: 128, k: 8, alpha: 2, accumulate: true },
  { what: 'dy·B', product: 'nn', m: 512, n: 8, k: 128, alpha: 2 },
  { what: 'dxa·A into dx', product: 'nn', m: 512, n: 128, k: 8, accumulate: true },
  { what: 'dA', product: 'tn', m: 8, n: 128, k: 512, accumulate: true },
  { what: 'dB', product: 'tn', m: 128, n: 8, k: 512, alpha: 2, accumulate: true },
];

/** A kernel to time: the tiled matmul, matmul()'s choice, or the skinny kernel with a given plan. */
export type Variant = 'tiled' | 'skinny' | SkinnyPlan;

const variantName = (v: Variant) => (typeof v === 'string' ? v : `skinny ${v.tr}x${v.tc} wg${v.wg}`);

async function record(step: Step, args: MatmulArgs, product: MatmulProduct, v: Variant): Promise<void> {
  const tile = matmulTile(
    product,
    step.gpu.caps.limits.maxComputeWorkgroupStorageSize,
    step.gpu.caps.adapter.isFallbackAdapter,
  );
  if (v === 'tiled') return matmul(step, args, product, tile);
  if (v === 'skinny') return matmul(step, args, product);
  const { m, n, k } = args;
  return skinnyMatmul(step, args, product, m * k, k * n, v);
}

/** Submits `fill` as one step; GPU ms (sum over dispatches, null without timestamps) and wall ms. */
async function timeStep(gpu: Gpu, fill: (step: Step) => Promise<void>): Promise<{ gpu: number | null; wall: number }> {
  const step = gpu.step('lora bench', { timed: gpu.caps.timestampQuery });
  await fill(step);
  const t0 = performance.now();
  const timing = await step.submit();
  await gpu.sync();
  const wall = performance.now() - t0;
  return { gpu: timing && timing.length > 0 ? timing.reduce((s, t) => s + t.ms, 0) : null, wall };
}

/** One record per variant of one shape, timed round-robin after a first (compiling) run each. */
export async function loraShapeRecords(
  gpu: Gpu,
  s: LoraShape,
  where: string,
  reps: number,
  variants: readonly Variant[] = ['tiled', 'skinny'],
): Promise<object[]> {
  const { product, m, n, k } = s;
  const a = randomArray(m * k, 21);
  const b = randomArray(k * n, 22);
  const init = randomArray(m * n, 23);
  const ta = gpu.upload(a, product === 'tn' ? [k, m] : [m, k], 'f32', 'A');
  const tb = gpu.upload(b, product === 'nt' ? [n, k] : [k, n], 'f32', 'B');
  const tc = gpu.upload(init, [m, n], 'f32', 'C');
  const args: MatmulArgs = { a: ta, b: tb, c: tc, m, n, k, alpha: s.alpha, accumulate: s.accumulate };
  const ref =
    s.accumulate || s.alpha !== undefined
      ? matmulRef({ product, m, n, k }, a, b, { alpha: s.alpha, accumulate: s.accumulate ? init : undefined })
      : matmulReference(product, m, n, k, a, b);
  const times = variants.map(() => ({ gpu: [] as number[], wall: [] as number[], first: 0 }));
  try {
    for (let r = 0; r <= reps; r++) {
      for (let i = 0; i < variants.length; i++) {
        const t0 = performance.now();
        const t = await timeStep(gpu, (step) => record(step, args, product, variants[i]));
        if (r === 0) times[i].first = performance.now() - t0;
        else {
          times[i].wall.push(t.wall);
          if (t.gpu !== null) times[i].gpu.push(t.gpu);
        }
      }
    }
    const out: object[] = [];
    const medians: number[] = [];
    for (let i = 0; i < variants.length; i++) {
      gpu.write(tc, init);
      const step = gpu.step('lora bench verify');
      await record(step, args, product, variants[i]);
      await step.submit();
      const check = compareClose(await gpu.readF32(tc), ref, 2e-6 * Math.sqrt(k) + 1e-6, 1e-5);
      const t = times[i];
      const med = t.gpu.length > 0 ? median(t.gpu) : median(t.wall);
      medians.push(med);
      out.push({
        name: `lora_matmul_${product}`,
        where,
        peer: 'lorabook',
        kernel: variantName(variants[i]),
        what: s.what,
        shape: `m${m} n${n} k${k}${s.alpha !== undefined ? ` alpha ${s.alpha}` : ''}${s.accumulate ? ' accumulate' : ''}`,
        adapter: adapterName(gpu.caps),
        reps,
        median_ms: Number(med.toFixed(3)),
        timer: t.gpu.length > 0 ? 'gpu-timestamps' : 'wall',
        wall_median_ms: Number(median(t.wall).toFixed(3)),
        first_run_ms: Number(t.first.toFixed(1)),
        verified: check.ok,
        maxAbsErr: check.maxAbsErr,
      });
    }
    // Speed-up over the tiled kernel, from the same run.
    const base = variants.indexOf('tiled');
    if (base >= 0)
      out.forEach((o, i) => Object.assign(o, { speedup_vs_tiled: Number((medians[base] / medians[i]).toFixed(2)) }));
    return out;
  } finally {
    gpu.release(ta, tb, tc);
  }
}

const STEP = { batch: 8, seq: 64, reps: 3 };

/**
 * One LoRA training step of the built-in model (forward, backward, AdamW), the tiled kernel for every
 * product against matmul()'s routing, alternating. Both must give the same loss bits (the skinny kernel
 * sums in the tiled kernel's order): `verified` says they did, on every rep.
 */
export async function loraStepRecords(gpu: Gpu, where: string, reps = STEP.reps): Promise<object[]> {
  const spec = parseModelConfig(MODEL_CONFIG);
  const lora = {
    r: 8,
    alpha: 16,
    dropout: 0.05,
    targetModules: 'all-linear' as const,
    useRslora: false,
    bias: 'none' as const,
  };
  const runs = [false, true].map((skinny) => {
    const model = LlamaGpu.create(gpu, spec, initialWeights(), { mode: 'lora', lora, seed: 1 });
    return {
      skinny,
      model,
      opt: new AdamWOptimizer(gpu, model.trainable),
      gpu: [] as number[],
      wall: [] as number[],
      losses: [] as number[],
    };
  });
  const loss = gpu.empty([1], 'f32', 'loss');
  try {
    for (let s = 0; s <= reps; s++) {
      const b = randomTokenBatch(spec.vocabSize, STEP.batch, STEP.seq, s + 1);
      for (const run of runs) {
        matmulRouting.skinny = run.skinny;
        const t = await timeStep(gpu, (step) => recordTrainStep(step, run.model, run.opt, b, loss, s, 1e-3));
        run.losses.push((await gpu.readF32(loss))[0]);
        if (s > 0) {
          run.wall.push(t.wall);
          if (t.gpu !== null) run.gpu.push(t.gpu);
        }
      }
    }
  } finally {
    matmulRouting.skinny = true;
    gpu.release(loss);
  }
  const same = runs[0].losses.every((l, i) => Object.is(l, runs[1].losses[i]));
  const med = runs.map((r) => (r.gpu.length > 0 ? median(r.gpu) : median(r.wall)));
  const out = runs.map((r, i) => ({
    name: 'lora_train_step',
    where,
    peer: 'lorabook',
    kernel: r.skinny ? 'skinny' : 'tiled',
    shape: `lorabook-tiny, lora all-linear r8, batch ${STEP.batch}×${STEP.seq}`,
    adapter: adapterName(gpu.caps),
    reps,
    median_ms: Number(med[i].toFixed(1)),
    timer: r.gpu.length > 0 ? 'gpu-timestamps' : 'wall',
    wall_median_ms: Number(median(r.wall).toFixed(1)),
    losses: r.losses,
    verified: same,
    maxAbsErr: 0,
    speedup_vs_tiled: Number((med[0] / med[i]).toFixed(2)),
  }));
  for (const r of runs) {
    r.opt.dispose();
    r.model.dispose();
  }
  return out;
}

/** Every LoRA figure on one Gpu. */
export async function loraRecords(gpu: Gpu, where: string, reps: number, log: (m: string) => void): Promise<object[]> {
  const out: object[] = [];
  for (const s of LORA_SHAPES) {
    log(`lora bench: ${s.what} (${where})`);
    out.push(...(await loraShapeRecords(gpu, s, where, reps)));
  }
  log(`lora bench: training step (${where})`);
  out.push(...(await loraStepRecords(gpu, where)));
  return out;
}
