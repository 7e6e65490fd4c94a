// Training-step benchmarks of lorabook's engine on Dawn: tokens/s, achieved GFLOP/s, the share of step
// time per kernel family (GPU timestamps), peak live GPU bytes, and the ratio of end-to-end GFLOP/s to
// our best matmul's GFLOP/s measured in the same run. One JSON line per figure.
// FLOPs counted: 2 per multiply-add of every matmul the step runs (forward, the backward products that
// exist in the mode, the LM head's two vocabulary sweeps) plus causal attention; elementwise work is not
// counted. Random weights: only speed and memory are measured here.

import { acquireDawn } from '../companion/dawn.ts';
import { benchmarkMatmulOn, median } from '../src/engine/bench-matmul.ts';
import { adapterName } from '../src/gpu/capabilities.ts';
import type { Gpu } from '../src/gpu/gpu.ts';
import { expectedTensorNames, parseModelConfig, type ModelSpec } from '../src/model/config.ts';
import { LlamaGpu, type TrainMode } from '../src/model/llama-gpu.ts';
import { DEFAULT_LORA } from '../src/model/lora.ts';
import { randomArray } from '../src/reference/compare.ts';
import { AdamWOptimizer } from '../src/train/optimizer.ts';
import { randomTokenBatch, recordTrainStep } from './random-batch.ts';

export interface TrainBenchCase {
  name: string;
  config: Record<string, unknown>;
  mode: TrainMode;
  batch: number;
  seq: number;
  steps: number;
}

const LLAMA = { architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', rms_norm_eps: 1e-5 };

export const TRAIN_CASES: TrainBenchCase[] = [
  {
    name: 'tiny (built-in shape)',
    config: {
      ...LLAMA,
      vocab_size: 1024,
      hidden_size: 128,
      intermediate_size: 352,
      num_hidden_layers: 4,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 128,
      tie_word_embeddings: true,
    },
    mode: 'full',
    batch: 4,
    seq: 128,
    steps: 5,
  },
  {
    name: 'SmolLM2-135M shape, 2 of 30 layers',
    config: {
      ...LLAMA,
      vocab_size: 49152,
      hidden_size: 576,
      intermediate_size: 1536,
      num_hidden_layers: 2,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      max_position_embeddings: 2048,
      rope_theta: 100000,
      tie_word_embeddings: true,
    },
    mode: 'lora',
    batch: 1,
    seq: 128,
    steps: 3,
  },
];

/** Matmul FLOPs of one training step (see the header), and the forward-only share. */
export function stepFlops(spec: ModelSpec, mode: TrainMode, batch: number, seq: number, loraR: number): number {
  const n = batch * seq;
  let linear = 0; // multiply-adds of the decoder's linear layers per token
  let loraMacs = 0;
  for (const t of expectedTensorNames(spec)) {
    if (/layers\.\d+\.(self_attn|mlp)\.\w+_proj\.weight$/.test(t.name)) {
      linear += t.shape[0] * t.shape[1];
      loraMacs += loraR * (t.shape[0] + t.shape[1]);
    }
  }
  const head = spec.vocabSize * spec.hiddenSize;
  // Causal attention: QKᵀ and PV over about T²/2 pairs per head, forward; backward about 2.5× that.
  const attn = spec.numLayers * batch * spec.numHeads * spec.headDim * seq * seq; // MACs, forward, causal
  if (mode === 'full') {
    // forward + dX + dW for every linear; LM head: two logit sweeps, dH and dW.
    return 2 * (n * (3 * linear + 4 * head) + 3.5 * attn);
  }
  // LoRA: forward + dX through the frozen weights; adapters: forward, dX, dA, dB; head: two sweeps + dH.
  return 2 * (n * (2 * linear + 3 * head + 4 * loraMacs) + 3.5 * attn);
}

function randomWeights(spec: ModelSpec): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  expectedTensorNames(spec).forEach((t, i) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    out[t.name] = t.name.endsWith('norm.weight')
      ? new Float32Array(n).fill(1)
      : randomArray(n, i + 1).map((x) => x * 0.03);
  });
  return out;
}

function family(label: string): string {
  if (label.startsWith('matmul')) return 'matmul';
  if (label.startsWith('attention')) return 'attention';
  if (label.startsWith('ce_') || label.startsWith('reduce')) return 'lm head + loss';
  if (label.startsWith('rmsnorm')) return 'rmsnorm';
  if (label.startsWith('adamw') || label.startsWith('grad_clip')) return 'optimizer';
  if (label.startsWith('rope')) return 'rope';
  if (label.startsWith('swiglu')) return 'swiglu';
  if (label.startsWith('embedding')) return 'embedding';
  return 'other';
}

/** Runs one case and returns its JSON records. */
export async function benchTrainCase(gpu: Gpu, c: TrainBenchCase, bestMatmulGflops: number): Promise<object[]> {
  const spec = parseModelConfig(c.config);
  const lora = { ...DEFAULT_LORA, r: 8, alpha: 16, dropout: 0, targetModules: 'all-linear' as const };
  gpu.pool.resetPeak();
  const model = LlamaGpu.create(gpu, spec, randomWeights(spec), { mode: c.mode, lora, seed: 1 });
  const opt = new AdamWOptimizer(gpu, model.trainable);
  const loss = gpu.empty([1], 'f32', 'loss');
  const times: number[] = [];
  const shares = new Map<string, number>();
  let gpuTotal = 0;
  for (let s = 0; s <= c.steps; s++) {
    const b = randomTokenBatch(spec.vocabSize, c.batch, c.seq, s + 1);
    const step = gpu.step('bench train', { timed: s > 0 });
    const t0 = performance.now();
    await recordTrainStep(step, model, opt, b, loss, s, 1e-4);
    const timing = await step.submit();
    await gpu.readF32(loss); // a training loop shows the loss: the readback is part of the step
    if (s === 0) continue; // warm-up: pipeline compilation
    times.push(performance.now() - t0);
    for (const t of timing ?? []) {
      shares.set(family(t.label), (shares.get(family(t.label)) ?? 0) + t.ms);
      gpuTotal += t.ms;
    }
  }
  const peak = gpu.pool.peakLiveBytes;
  gpu.release(loss);
  opt.dispose();
  model.dispose();
  const med = median(times);
  const tokens = c.batch * c.seq;
  const gflops = stepFlops(spec, c.mode, c.batch, c.seq, lora.r) / (med * 1e6);
  const adapter = adapterName(gpu.caps);
  const base = { where: 'node-dawn', adapter, shape: `${c.name}, ${c.mode}, batch ${c.batch}×${c.seq}` };
  const share: Record<string, number> = {};
  for (const [k, v] of [...shares].sort((a, b) => b[1] - a[1])) share[k] = Number((v / gpuTotal).toFixed(3));
  return [
    {
      name: 'train_step',
      ...base,
      peer: 'lorabook',
      reps: times.length,
      median_ms: Number(med.toFixed(1)),
      tokens_per_s: Number(((tokens * 1000) / med).toFixed(1)),
      gflops: Number(gflops.toFixed(3)),
      ratio_to_best_matmul: Number((gflops / bestMatmulGflops).toFixed(3)),
      peak_live_bytes: peak,
      kernel_share: share,
      verified: true,
      maxAbsErr: 0,
    },
  ];
}

/** Our best matmul at 512×576×1536 ('nt'), the denominator of the end-to-end ratio. */
export async function bestMatmulGflops(gpu: Gpu): Promise<number> {
  const r = await benchmarkMatmulOn(gpu, {
    product: 'nt',
    m: 512,
    n: 1536,
    k: 576,
    dtype: 'f32',
    kernel: 'tiled',
    reps: 5,
  });
  if (!r.verified) throw new Error('matmul verification failed');
  return r.gflops;
}

/** Every training case on a fresh Dawn device. */
export async function trainEngineRecords(): Promise<object[]> {
  const gpu = await acquireDawn();
  try {
    const best = await bestMatmulGflops(gpu);
    const out: object[] = [];
    for (const c of TRAIN_CASES) out.push(...(await benchTrainCase(gpu, c, best)));
    return out;
  } finally {
    gpu.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const rec of await trainEngineRecords()) console.log(JSON.stringify(rec));
}
