// One JSON line per benchmark figure, with a fixed field order, plus the ratios ours/peer and the exit
// status (a failed verification of anything fails the run). Pure functions: the Node runner and the
// unit test use them; the page only builds records.

export type Where = 'node-dawn' | 'node-cpu' | 'chromium-swiftshader' | 'chromium-wasm';

/** The peer that is lorabook's own kernel; every ratio is ours/peer against it. */
export const OURS = 'lorabook';

/** What a figure is of: the product, where it ran, which peer, the shape and the adapter. */
export interface RecordBase {
  /** matmul_<product>_<dtype>, the same for every peer that computes that product. */
  name: string;
  where: Where;
  peer: string;
  /** MxKxN. */
  shape: string;
  adapter: string;
}

export interface BenchRecord extends RecordBase {
  reps: number;
  median_ms: number;
  gflops: number;
  verified: boolean;
  maxAbsErr: number;
  /** Extras: ratio (ours/peer), gpu_median_ms, error, ... */
  [extra: string]: unknown;
}

const FIELDS = ['name', 'where', 'peer', 'shape', 'adapter', 'reps', 'median_ms', 'gflops', 'verified', 'maxAbsErr'];

/** The JSON line: the ten fields in order, then the extras; non-finite numbers become null. */
export function benchLine(r: BenchRecord): string {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) out[f] = r[f];
  for (const [key, value] of Object.entries(r)) if (!FIELDS.includes(key)) out[key] = value;
  out.median_ms = round(r.median_ms, 3);
  out.gflops = round(r.gflops, 3);
  return JSON.stringify(out, (_key, value: unknown) =>
    typeof value === 'number' && !Number.isFinite(value) ? null : value,
  );
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Number.isFinite(x) ? Math.round(x * f) / f : x;
}

/** The GPU host whose lorabook figure a peer is compared with (CPU references compare with the same host). */
function gpuHost(where: Where): Where {
  if (where === 'node-cpu') return 'node-dawn';
  if (where === 'chromium-wasm') return 'chromium-swiftshader';
  return where;
}

/**
 * Adds `ratio` (our GFLOP/s over the peer's, same product, dtype, shape and host) to every peer
 * record that has a lorabook counterpart, and returns the records in the same order.
 */
export function withRatios(records: readonly BenchRecord[]): BenchRecord[] {
  const ours = new Map<string, BenchRecord>();
  for (const r of records) if (r.peer === OURS) ours.set(`${r.where}|${r.name}|${r.shape}`, r);
  return records.map((r) => {
    if (r.peer === OURS) return r;
    const mine = ours.get(`${gpuHost(r.where)}|${r.name}|${r.shape}`);
    if (!mine || !(r.gflops > 0)) return r;
    return { ...r, ratio: round(mine.gflops / r.gflops, 3) };
  });
}

/** Records whose result did not match the CPU reference (or that never produced one). */
export function failures(records: readonly BenchRecord[]): BenchRecord[] {
  return records.filter((r) => r.verified !== true);
}

/** Process exit status for a run: non-zero when anything failed verification or nothing ran. */
export function exitStatus(records: readonly BenchRecord[]): number {
  return records.length === 0 || failures(records).length > 0 ? 1 : 0;
}

/** A record for a peer that could not run at all: it counts as a failed verification. */
export function failedRecord(base: RecordBase, error: unknown): BenchRecord {
  return {
    ...base,
    reps: 0,
    median_ms: NaN,
    gflops: NaN,
    verified: false,
    maxAbsErr: NaN,
    error: error instanceof Error ? error.message : String(error),
  };
}
