// lorabook's kernel (and the naive floor) as interleavable peers. Every rep is one call of
// benchmarkMatmulOn, the function the notebook's benchmark cell runs, so both measure alike; the
// last call verifies against the reference.

import { benchmarkMatmulOn, median } from '../src/engine/bench-matmul.ts';
import { adapterName } from '../src/gpu/capabilities.ts';
import type { Gpu } from '../src/gpu/gpu.ts';
import { OURS, type Where } from './format.ts';
import { recordBase, type Peer } from './measure.ts';
import type { BenchShape } from './shapes.ts';

export const NAIVE_PEER = 'naive';

export function enginePeer(
  gpu: Gpu,
  s: BenchShape,
  where: Where,
  kernel: 'tiled' | 'naive',
  dtype: 'f32' | 'f16',
  reps: number,
  reference?: Float32Array,
): Peer {
  const peer = kernel === 'tiled' ? OURS : NAIVE_PEER;
  const req = { product: s.product, m: s.m, n: s.n, k: s.k, dtype, kernel, reps: 1, warmup: 0 } as const;
  return {
    base: recordBase(s, where, peer, adapterName(gpu.caps), dtype),
    reps,
    prepare: async () => {
      const gpuTimes: number[] = [];
      return {
        rep: async () => {
          const r = await benchmarkMatmulOn(gpu, { ...req, verify: false });
          if (r.gpuMedianMs !== null) gpuTimes.push(r.gpuMedianMs);
          return r.timesMs[0];
        },
        finish: async () => {
          const r = await benchmarkMatmulOn(gpu, { ...req, verify: true }, undefined, { reference });
          // The first rep was the warm-up.
          const timed = gpuTimes.slice(1);
          return {
            verified: r.verified,
            maxAbsErr: r.maxAbsErr,
            extras: timed.length > 0 ? { gpu_median_ms: Math.round(median(timed) * 1000) / 1000 } : {},
          };
        },
      };
    },
  };
}
