import { describe, expect, it } from 'vitest';
import type { EngineEvent, MatmulBenchRequest, MatmulBenchResult } from '../engine/protocol.ts';
import { GpuValidationError } from '../errors.ts';
import type { EngineSession } from './engine-session.svelte.ts';
import { CUSTOM, MatmulBenchmark } from './matmul-benchmark.svelte.ts';

function fakeSession(
  bench: (req: MatmulBenchRequest, onEvent: (e: EngineEvent) => void) => Promise<MatmulBenchResult>,
) {
  const requests: MatmulBenchRequest[] = [];
  let memoryReads = 0;
  const session = {
    engine: {
      benchmarkMatmul: (req: MatmulBenchRequest, onEvent: (e: EngineEvent) => void) => {
        requests.push(req);
        return bench(req, onEvent);
      },
    },
    refreshMemory: async () => {
      memoryReads++;
    },
  } as unknown as EngineSession;
  return { session, requests, memoryReads: () => memoryReads };
}

const result = (gflops: number): MatmulBenchResult => ({
  name: 'matmul',
  shape: '',
  adapter: 'fake',
  reps: 5,
  timesMs: [],
  median_ms: 1,
  gflops,
  gpuMedianMs: null,
  verified: true,
  maxAbsErr: 0,
});

describe('MatmulBenchmark', () => {
  it('sends the chosen product and shape as a tiled f32 benchmark and keeps the newest run first', async () => {
    const b = new MatmulBenchmark();
    const phases: string[] = [];
    const fake = fakeSession(async (_req, onEvent) => {
      phases.push(b.phase);
      onEvent({ type: 'progress', task: 'matmul', done: 1, total: 6, unit: 'reps' });
      phases.push(b.phase);
      onEvent({ type: 'progress', task: 'matmul', done: 6, total: 6, unit: 'reps' });
      phases.push(b.phase);
      return result(fake.requests.length);
    });
    b.product = 'nt';
    await b.run(fake.session);
    b.presetId = 'smollm2-mlp';
    await b.run(fake.session);
    expect(fake.requests.map(({ product, m, k, n, kernel, dtype }) => [product, m, k, n, kernel, dtype])).toEqual([
      ['nt', 256, 256, 256, 'tiled', 'f32'],
      ['nt', 512, 576, 1536, 'tiled', 'f32'],
    ]);
    expect(phases.slice(0, 3)).toEqual(['starting', 'timing', 'verifying']);
    expect(b.runs.map((r) => r.result.gflops)).toEqual([2, 1]);
    expect(b.running).toBe(false);
    expect(b.phase).toBe('idle');
    expect(fake.memoryReads()).toBe(2);
  });

  it('rejects a custom shape out of range without calling the engine', async () => {
    const b = new MatmulBenchmark();
    const fake = fakeSession(async () => result(1));
    b.presetId = CUSTOM;
    b.custom = { m: 8, k: 0, n: 8 };
    expect(b.shapeError).toMatch(/^K must be/);
    await b.run(fake.session);
    expect(fake.requests).toEqual([]);
    b.custom = { m: 8, k: 3, n: 8 };
    expect(b.shapeError).toBeNull();
    expect(b.flops).toBe(2 * 8 * 8 * 3);
  });

  it('shows a typed engine error with its fields and no stack', async () => {
    const b = new MatmulBenchmark();
    const fake = fakeSession(async () => {
      throw new GpuValidationError('pipeline rejected', 'matmul_nn');
    });
    await b.run(fake.session);
    expect(b.problem).toEqual({
      name: 'GpuValidationError',
      message: 'pipeline rejected',
      advice: null,
      details: [['label', 'matmul_nn']],
    });
    expect(b.running).toBe(false);
    expect(b.runs).toEqual([]);
  });
});
