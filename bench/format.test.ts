import { describe, expect, it } from 'vitest';
import { benchLine, exitStatus, failedRecord, failures, OURS, withRatios, type BenchRecord } from './format.ts';

const FIELDS = ['name', 'where', 'peer', 'shape', 'adapter', 'reps', 'median_ms', 'gflops', 'verified', 'maxAbsErr'];

function record(over: Partial<BenchRecord>): BenchRecord {
  return {
    name: 'matmul_nt_f32',
    where: 'node-dawn',
    peer: OURS,
    shape: '512x576x1536',
    adapter: 'test adapter',
    reps: 5,
    median_ms: 100,
    gflops: 9.06,
    verified: true,
    maxAbsErr: 1e-5,
    ...over,
  };
}

describe('bench JSON lines', () => {
  it('prints the ten fields in order, then the extras', () => {
    const line = benchLine({ ...record({}), ratio: 2.5, gpu_median_ms: 99.5 });
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual([...FIELDS, 'ratio', 'gpu_median_ms']);
    expect(line.includes('\n')).toBe(false);
  });

  it('rounds times and rates, and writes non-finite numbers as null', () => {
    const parsed = JSON.parse(
      benchLine(record({ median_ms: 1.23456789, gflops: 7.0004999, maxAbsErr: Infinity })),
    ) as Record<string, unknown>;
    expect(parsed.median_ms).toBe(1.235);
    expect(parsed.gflops).toBe(7);
    expect(parsed.maxAbsErr).toBeNull();
  });

  it('puts ours/peer on every peer line, comparing CPU references with the GPU kernel on the same host', () => {
    const out = withRatios([
      record({ gflops: 8 }),
      record({ peer: 'naive', gflops: 2 }),
      record({ peer: 'jax-js', gflops: 4 }),
      record({ peer: 'onnxruntime-node', where: 'node-cpu', gflops: 160 }),
      record({ peer: 'jax-js', shape: '1x1x1', gflops: 1 }),
      record({ peer: OURS, where: 'chromium-swiftshader', gflops: 1 }),
      record({ peer: 'onnxruntime-web', where: 'chromium-wasm', gflops: 50 }),
      record({ peer: 'naive', name: 'matmul_nn_f32', gflops: 1 }),
    ]);
    expect(out.map((r) => r.ratio)).toEqual([undefined, 4, 2, 0.05, undefined, undefined, 0.02, undefined]);
  });

  it('fails the run when anything failed verification or could not run', () => {
    const good = [record({}), record({ peer: 'naive' })];
    expect(exitStatus(good)).toBe(0);
    expect(failures(good)).toEqual([]);
    const wrong = [...good, record({ peer: 'jax-js', verified: false, maxAbsErr: 3.5 })];
    expect(exitStatus(wrong)).toBe(1);
    expect(failures(wrong).map((r) => r.peer)).toEqual(['jax-js']);
    const crashed = failedRecord(
      { name: 'matmul_nt_f32', where: 'chromium-swiftshader', peer: 'onnxruntime-web', shape: '1x2x3', adapter: '' },
      new Error('no adapter'),
    );
    expect(crashed).toMatchObject({ verified: false, reps: 0, error: 'no adapter' });
    expect(exitStatus([...good, crashed])).toBe(1);
    expect(JSON.parse(benchLine(crashed))).toMatchObject({ gflops: null, verified: false, error: 'no adapter' });
    expect(exitStatus([])).toBe(1);
  });
});
