// Times one matmul product on a Gpu and verifies it against the CPU reference. Shared by the engine
// (the notebook's benchmark cell, in the worker) and by bench/ in Node, so both measure the same way:
// wall clock from submit to onSubmittedWorkDone per rep (inputs and outputs stay on the GPU), plus GPU
// timestamps where the device has them.

import { adapterName } from '../gpu/capabilities.ts';
import { roundToF16 } from '../gpu/f16.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { matmul } from '../kernels/matmul.ts';
import { naiveMatmul } from '../kernels/matmul-naive.ts';
import { compareClose, randomArray } from '../reference/compare.ts';
import { matmulRef } from '../reference/matmul.ts';
import type { EventSink, MatmulBenchRequest, MatmulBenchResult } from './protocol.ts';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** Tolerance for a K-long f32 dot product of values in [-1, 1] (the benchmark's inputs). */
export function matmulTolerance(k: number): { atol: number; rtol: number } {
  return { atol: 1e-5 * Math.sqrt(k) + 1e-5, rtol: 1e-4 };
}

export async function benchmarkMatmulOn(
  gpu: Gpu,
  req: MatmulBenchRequest,
  onEvent?: EventSink,
): Promise<MatmulBenchResult> {
  const { product, m, n, k, dtype, kernel } = req;
  if (kernel === 'naive' && dtype !== 'f32') throw new TypeError('the naive matmul is f32 only');
  const a = randomArray(m * k, 11);
  const b = randomArray(k * n, 12);
  const ta = gpu.upload(a, product === 'tn' ? [k, m] : [m, k], dtype, 'bench A');
  const tb = gpu.upload(b, product === 'nt' ? [n, k] : [k, n], dtype, 'bench B');
  const tc = gpu.empty([m, n], 'f32', 'bench C');
  const record = async (timed: boolean) => {
    const step = gpu.step(`bench ${product}`, { timed });
    if (kernel === 'naive') await naiveMatmul(step, { a: ta, b: tb, c: tc, m, n, k }, product);
    else await matmul(step, { a: ta, b: tb, c: tc, m, n, k }, product);
    return step;
  };
  try {
    const warmup = req.warmup ?? 1;
    const total = warmup + req.reps;
    const times: number[] = [];
    const gpuTimes: number[] = [];
    for (let i = 0; i < total; i++) {
      const step = await record(gpu.caps.timestampQuery);
      const t0 = performance.now();
      const timing = await step.submit();
      await gpu.sync();
      const dt = performance.now() - t0;
      if (i >= warmup) {
        times.push(dt);
        if (timing && timing.length > 0) gpuTimes.push(timing.reduce((s, t) => s + t.ms, 0));
      }
      onEvent?.({ type: 'progress', task: `matmul ${product}`, done: i + 1, total, unit: 'reps' });
    }
    let verified = true;
    let maxAbsErr = 0;
    if (req.verify ?? true) {
      const got = await gpu.readF32(tc);
      const ref =
        dtype === 'f16'
          ? matmulRef({ product, m, n, k }, roundToF16(a), roundToF16(b))
          : matmulRef({ product, m, n, k }, a, b);
      const { atol, rtol } = matmulTolerance(k);
      const c = compareClose(got, ref, atol, rtol);
      verified = c.ok;
      maxAbsErr = c.maxAbsErr;
    }
    const med = median(times);
    return {
      name: `matmul_${product}_${dtype}_${kernel}`,
      shape: `${m}x${k}x${n}`,
      adapter: adapterName(gpu.caps),
      reps: times.length,
      timesMs: times,
      median_ms: med,
      gflops: (2 * m * n * k) / (med * 1e6),
      gpuMedianMs: gpuTimes.length > 0 ? median(gpuTimes) : null,
      verified,
      maxAbsErr,
    };
  } finally {
    gpu.release(ta, tb, tc);
  }
}
