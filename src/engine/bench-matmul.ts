// Times one matmul product on a Gpu and verifies it against the CPU reference. Shared by the engine
// (the notebook's benchmark cell, in the worker) and by bench/ in Node, so both measure the same way:
// wall clock from submit to onSubmittedWorkDone per rep (inputs and outputs stay on the GPU), plus GPU
// timestamps where the device has them. C starts as NaN, so a kernel that writes nothing (or leaves
// part of C alone) fails verification even on a pooled buffer that held a right answer before.

import { adapterName } from '../gpu/capabilities.ts';
import { roundToF16 } from '../gpu/f16.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { matmul } from '../kernels/matmul.ts';
import { naiveMatmul } from '../kernels/matmul-naive.ts';
import { compareClose, randomArray } from '../reference/compare.ts';
import type { MatmulProduct } from '../reference/matmul.ts';
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

/** The benchmark's inputs for a shape, as stored: A [M,K] ([K,M] for 'tn'), B [K,N] ([N,K] for 'nt'). */
export function matmulBenchInputs(m: number, n: number, k: number): { a: Float32Array; b: Float32Array } {
  return { a: randomArray(m * k, 11), b: randomArray(k * n, 12) };
}

/**
 * C [M,N] = op(A)·op(B) for one (unbatched) product, accumulated in float64: the same result as
 * reference/matmul.ts, with operands first copied into rows of K contiguous values so that the
 * benchmark's larger shapes (a 512×576×8192 LM-head chunk) take seconds, not minutes.
 */
export function matmulReference(
  product: MatmulProduct,
  m: number,
  n: number,
  k: number,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): Float32Array {
  const rowsA = product === 'tn' ? transpose(a, k, m) : Float64Array.from(a);
  const rowsB = product === 'nt' ? Float64Array.from(b) : transpose(b, k, n);
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    const ai = i * k;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const b0 = j * k;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let p = 0; p < k; p++) {
        const av = rowsA[ai + p];
        s0 += av * rowsB[b0 + p];
        s1 += av * rowsB[b0 + k + p];
        s2 += av * rowsB[b0 + 2 * k + p];
        s3 += av * rowsB[b0 + 3 * k + p];
      }
      c[i * n + j] = s0;
      c[i * n + j + 1] = s1;
      c[i * n + j + 2] = s2;
      c[i * n + j + 3] = s3;
    }
    for (; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += rowsA[ai + p] * rowsB[j * k + p];
      c[i * n + j] = s;
    }
  }
  return c;
}

/** [rows, cols] row-major → [cols, rows] row-major, widened to float64. */
function transpose(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

export interface MatmulBenchOptions {
  /** The CPU reference for these inputs (rounded through f16 for dtype 'f16'); computed when absent. */
  reference?: Float32Array;
}

export async function benchmarkMatmulOn(
  gpu: Gpu,
  req: MatmulBenchRequest,
  onEvent?: EventSink,
  options: MatmulBenchOptions = {},
): Promise<MatmulBenchResult> {
  const { product, m, n, k, dtype, kernel } = req;
  if (kernel === 'naive' && dtype !== 'f32') throw new TypeError('the naive matmul is f32 only');
  const { a, b } = matmulBenchInputs(m, n, k);
  const ta = gpu.upload(a, product === 'tn' ? [k, m] : [m, k], dtype, 'bench A');
  const tb = gpu.upload(b, product === 'nt' ? [n, k] : [k, n], dtype, 'bench B');
  const tc = gpu.empty([m, n], 'f32', 'bench C');
  gpu.write(tc, new Float32Array(m * n).fill(NaN));
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
        options.reference ??
        (dtype === 'f16'
          ? matmulReference(product, m, n, k, roundToF16(a), roundToF16(b))
          : matmulReference(product, m, n, k, a, b));
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
