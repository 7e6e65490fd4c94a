// Planner and CPU quantization figures, one JSON line each: the memory planner's estimate for Qwen2.5-0.5B
// QLoRA (r 16 on every linear layer, sequence 512, batch 4, checkpointing; the goal is under 1.5 GB) and
// for SmolLM2-135M LoRA (f32 weights, what the engine uploads today), NF4 quantization throughput on the
// CPU (MB/s of f32 input, one 4096×4096 tensor of normal values, median of reps), the streaming
// bf16-safetensors → NF4 conversion the loader runs, dequantization throughput, and the quantization error.
// No GPU is needed: `node --import tsx bench/plan-quant.ts`.

import { SafetensorsStreamConverter } from '../src/hub/convert.ts';
import { parseModelConfig } from '../src/model/config.ts';
import qwen05 from '../src/model/fixtures/qwen2.5-0.5b.json' with { type: 'json' };
import smollm from '../src/model/fixtures/smollm2-135m.json' with { type: 'json' };
import { writeSafetensors } from '../src/model/safetensors.ts';
import { planMemory, type PlanRequest } from '../src/plan/memory.ts';
import { dequantize4bit, quantize4bit, withCompressedStatistics } from '../src/quant/blockwise4.ts';

const GB = 1e9;

function planRecord(name: string, req: PlanRequest, goalBytes: number | null) {
  const p = planMemory(req);
  return {
    name,
    model: req.spec.architecture,
    storage: req.storage,
    lora_r: req.lora?.r ?? null,
    lora_targets: req.lora?.targetModules ?? null,
    batch: req.batch,
    seq: req.seq,
    checkpointing: req.checkpointing,
    estimate_bytes: p.totalBytes,
    estimate_gb: Number((p.totalBytes / GB).toFixed(3)),
    goal_bytes: goalBytes,
    within_goal: goalBytes === null ? null : p.totalBytes < goalBytes,
    trainable_parameters: p.trainableParameters,
    breakdown: p.breakdown,
  };
}

/** Seeded standard normal values (xorshift + Box–Muller). */
function normals(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 0.5) / 2 ** 32;
  };
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timeMs(fn: () => void, reps: number): number[] {
  fn(); // warm-up (JIT)
  const out: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

export async function planQuantRecords(reps = 5): Promise<object[]> {
  const qwen = parseModelConfig(qwen05);
  const smol = parseModelConfig(smollm);
  const records: object[] = [
    planRecord(
      'plan qwen2.5-0.5b qlora nf4 r16 all-linear seq512 batch4 checkpointing',
      {
        spec: qwen,
        storage: 'nf4',
        lora: { r: 16, targetModules: 'all-linear', dropout: 0 },
        batch: 4,
        seq: 512,
        checkpointing: true,
      },
      1.5 * GB,
    ),
    planRecord(
      'plan smollm2-135m lora f32 r16 all-linear seq512 batch4 checkpointing',
      {
        spec: smol,
        storage: 'f32',
        lora: { r: 16, targetModules: 'all-linear', dropout: 0 },
        batch: 4,
        seq: 512,
        checkpointing: true,
      },
      null,
    ),
  ];

  const rows = 4096;
  const cols = 4096;
  const n = rows * cols;
  const x = normals(n, 1);
  const mb = (4 * n) / 1e6;
  let q = quantize4bit(x, [rows, cols]);
  const quantMs = timeMs(() => void (q = quantize4bit(x, [rows, cols])), reps);
  let dq = withCompressedStatistics(q);
  const dqMs = timeMs(() => void (dq = withCompressedStatistics(q)), reps);
  let back = dequantize4bit(dq);
  const dequantMs = timeMs(() => void (back = dequantize4bit(dq)), reps);
  let se = 0;
  let sePlain = 0;
  const plain = dequantize4bit(q);
  for (let i = 0; i < n; i++) {
    se += (back[i] - x[i]) ** 2;
    sePlain += (plain[i] - x[i]) ** 2;
  }
  records.push({
    name: 'nf4 quantize cpu 4096x4096 f32',
    mb_per_s: Number((mb / (median(quantMs) / 1000)).toFixed(1)),
    median_ms: Number(median(quantMs).toFixed(1)),
    reps,
    double_quant_ms: Number(median(dqMs).toFixed(2)),
    dequantize_mb_per_s: Number((mb / (median(dequantMs) / 1000)).toFixed(1)),
    rmse_over_sigma: Number(Math.sqrt(sePlain / n).toFixed(5)),
    rmse_over_sigma_double_quant: Number(Math.sqrt(se / n).toFixed(5)),
    bytes_per_weight_double_quant: Number(
      ((dq.packed.length + dq.nested!.q.length + 4 * dq.nested!.absmax2.length + 1028) / n).toFixed(4),
    ),
  });

  // The loader's path: bf16 safetensors bytes → NF4 (double-quantized) as they stream in 1 MiB chunks.
  const file = writeSafetensors([
    { name: 'model.layers.0.mlp.up_proj.weight', dtype: 'BF16', shape: [rows, cols], data: x },
  ]);
  const streamMs = [];
  for (let r = 0; r < reps + 1; r++) {
    const t0 = performance.now();
    const conv = new SafetensorsStreamConverter('bench.safetensors', file.length, { storage: 'nf4' }, () => {});
    for (let at = 0; at < file.length; at += 1 << 20) await conv.push(file.subarray(at, at + (1 << 20)));
    await conv.end();
    if (r > 0) streamMs.push(performance.now() - t0);
  }
  records.push({
    name: 'nf4 stream-convert bf16 safetensors cpu 4096x4096',
    mb_per_s_of_bf16_input: Number((file.length / 1e6 / (median(streamMs) / 1000)).toFixed(1)),
    params_per_s_millions: Number((n / 1e6 / (median(streamMs) / 1000)).toFixed(1)),
    median_ms: Number(median(streamMs).toFixed(1)),
    reps,
  });
  return records;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const rec of await planQuantRecords()) console.log(JSON.stringify(rec));
}
