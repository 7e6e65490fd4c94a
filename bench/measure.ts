// Timing and verification shared by every peer, in Node and in the page. The peers of one shape are
// measured round-robin: a warm-up rep of each, then rep 1 of each, rep 2 of each, ... so a change in
// the machine's load (it is shared) lands on all of them alike and the ratios ours/peer stay fair.
// Each rep is wall clock until the peer's GPU or CPU work is done; the figure is the median. Results
// are compared with the CPU reference under the tolerance lorabook's own benchmark uses.

import { matmulTolerance, median } from '../src/engine/bench-matmul.ts';
import { compareClose } from '../src/reference/compare.ts';
import { failedRecord, type BenchRecord, type RecordBase } from './format.ts';
import { flops, shapeKey, type BenchShape } from './shapes.ts';

export interface Check {
  verified: boolean;
  maxAbsErr: number;
  /** Extra fields for the record (gpu_median_ms, ...). */
  extras?: Record<string, unknown>;
}

/** A peer set up for one shape, with its inputs already where it computes. */
export interface PeerRun {
  /** One rep; resolves with its wall-clock milliseconds once the work is done. */
  rep(): Promise<number>;
  /** Checks the result against the reference and frees what the run holds. */
  finish(): Promise<Check>;
}

export interface Peer {
  base: RecordBase;
  /** Timed reps for this peer (at most the run's reps). */
  reps: number;
  prepare(): Promise<PeerRun>;
}

/** Times with a performance.now() pair around `work`. */
export async function timed(work: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await work();
  return performance.now() - t0;
}

export function verifyMatmul(ref: ArrayLike<number>, k: number, got: ArrayLike<number>): Check {
  const { atol, rtol } = matmulTolerance(k);
  const c = compareClose(got, ref, atol, rtol);
  return { verified: c.ok, maxAbsErr: c.maxAbsErr };
}

export function matmulName(s: BenchShape, dtype: 'f32' | 'f16' = 'f32'): string {
  return `matmul_${s.product}_${dtype}`;
}

export function recordBase(
  s: BenchShape,
  where: RecordBase['where'],
  peer: string,
  adapter: string,
  dtype: 'f32' | 'f16' = 'f32',
): RecordBase {
  return { name: matmulName(s, dtype), where, peer, shape: shapeKey(s), adapter };
}

/** Measures the peers of one shape round-robin and returns one record per peer, in the peers' order. */
export async function interleave(
  s: BenchShape,
  peers: readonly Peer[],
  log: (message: string) => void,
): Promise<BenchRecord[]> {
  const runs: (PeerRun | null)[] = [];
  const errors: unknown[] = peers.map(() => undefined);
  const times: number[][] = peers.map(() => []);
  for (let i = 0; i < peers.length; i++) {
    try {
      runs.push(await peers[i].prepare());
    } catch (e) {
      runs.push(null);
      errors[i] = e;
    }
  }
  const rounds = 1 + Math.max(0, ...peers.map((p) => p.reps));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < peers.length; i++) {
      const run = runs[i];
      if (!run || errors[i] !== undefined || round > peers[i].reps) continue;
      try {
        const ms = await run.rep();
        if (round > 0) times[i].push(ms);
      } catch (e) {
        errors[i] = e;
      }
    }
  }
  const records: BenchRecord[] = [];
  for (let i = 0; i < peers.length; i++) {
    const { base } = peers[i];
    let check: Check | null = null;
    try {
      // finish() also frees the run, so it is called even after a failed rep.
      const c = await runs[i]?.finish();
      if (c) check = c;
    } catch (e) {
      errors[i] ??= e;
    }
    const med = median(times[i]);
    const record: BenchRecord =
      check && errors[i] === undefined
        ? {
            ...base,
            reps: times[i].length,
            median_ms: med,
            gflops: flops(s) / (med * 1e6),
            verified: check.verified,
            maxAbsErr: check.maxAbsErr,
            ...check.extras,
          }
        : failedRecord(base, errors[i] ?? new Error('no result'));
    records.push(record);
    log(
      `${record.where} ${record.peer} ${record.name} ${record.shape}: ${record.gflops.toFixed(2)} GFLOP/s ` +
        `${record.verified ? 'verified' : 'FAILED'}${record.error ? ` (${String(record.error)})` : ''}`,
    );
  }
  return records;
}
