// Timing and verification shared by every peer, in Node and in the page: wall-clock reps after a
// warm-up (each rep ends when the peer's GPU or CPU work is done), the median, and the comparison
// with the CPU reference under the same tolerance as lorabook's own benchmark.

import { matmulTolerance, median } from '../src/engine/bench-matmul.ts';
import type { MatmulBenchResult } from '../src/engine/protocol.ts';
import { compareClose } from '../src/reference/compare.ts';
import { flops, shapeKey, type BenchShape } from './shapes.ts';
import type { BenchRecord, Where } from './format.ts';

export interface Timing {
  timesMs: number[];
  median_ms: number;
}

/** Runs `rep` warmup + reps times; `rep` resolves when its work has finished. */
export async function timeReps(rep: () => Promise<void>, reps: number, warmup = 1): Promise<Timing> {
  const timesMs: number[] = [];
  for (let i = 0; i < warmup + reps; i++) {
    const t0 = performance.now();
    await rep();
    const dt = performance.now() - t0;
    if (i >= warmup) timesMs.push(dt);
  }
  return { timesMs, median_ms: median(timesMs) };
}

export function verifyMatmul(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  k: number,
): { verified: boolean; maxAbsErr: number } {
  const { atol, rtol } = matmulTolerance(k);
  const c = compareClose(got, ref, atol, rtol);
  return { verified: c.ok, maxAbsErr: c.maxAbsErr };
}

export function matmulName(s: BenchShape, dtype: 'f32' | 'f16' = 'f32'): string {
  return `matmul_${s.product}_${dtype}`;
}

/** A peer's figure as a record. */
export function peerRecord(
  s: BenchShape,
  where: Where,
  peer: string,
  adapter: string,
  t: Timing,
  check: { verified: boolean; maxAbsErr: number },
  dtype: 'f32' | 'f16' = 'f32',
): BenchRecord {
  return {
    name: matmulName(s, dtype),
    where,
    peer,
    shape: shapeKey(s),
    adapter,
    reps: t.timesMs.length,
    median_ms: t.median_ms,
    gflops: flops(s) / (t.median_ms * 1e6),
    verified: check.verified,
    maxAbsErr: check.maxAbsErr,
  };
}

/** lorabook's own benchmark result (benchmarkMatmulOn, shared with the notebook) as a record. */
export function engineRecord(
  s: BenchShape,
  where: Where,
  peer: string,
  r: MatmulBenchResult,
  dtype: 'f32' | 'f16' = 'f32',
): BenchRecord {
  return {
    name: matmulName(s, dtype),
    where,
    peer,
    shape: r.shape,
    adapter: r.adapter,
    reps: r.reps,
    median_ms: r.median_ms,
    gflops: r.gflops,
    verified: r.verified,
    maxAbsErr: r.maxAbsErr,
    ...(r.gpuMedianMs !== null ? { gpu_median_ms: Math.round(r.gpuMedianMs * 1000) / 1000 } : {}),
  };
}
