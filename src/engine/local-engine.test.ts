// The in-process engine on Dawn: the same object the trainer worker exposes, called directly.

import { afterAll, describe, expect, it } from 'vitest';
import { acquireDawn } from '../../companion/dawn.ts';
import { DatasetError, WebGPUUnavailable } from '../errors.ts';
import { acquireGpu } from '../gpu/acquire.ts';
import { randomArray } from '../reference/compare.ts';
import { matmulRef } from '../reference/matmul.ts';
import { expectClose } from '../test/gpu.ts';
import { LocalEngine } from './local-engine.ts';

const engine = new LocalEngine((options) => acquireDawn(options));
afterAll(() => engine.dispose());

describe('LocalEngine on Dawn', () => {
  it('reports capabilities of a real adapter', async () => {
    const caps = await engine.init();
    console.info(`[gpu] ${caps.adapter.vendor} / ${caps.adapter.description}`);
    expect(caps.host).toBe('node');
    expect(await engine.capabilities()).toEqual(caps);
  });

  it('runs a matmul that matches the reference and frees its buffers', async () => {
    const before = (await engine.memory()).liveBytes;
    const [m, n, k] = [19, 23, 29];
    const a = randomArray(m * k, 1);
    const b = randomArray(n * k, 2);
    const got = await engine.matmul({ product: 'nt', m, n, k, a, b, dtype: 'f32' });
    expectClose(got, matmulRef({ product: 'nt', m, n, k }, a, b), 1e-5, 1e-4);
    expect((await engine.memory()).liveBytes).toBe(before);
  });

  it('benchmarks with progress events and verification', async () => {
    const progress: string[] = [];
    const r = await engine.benchmarkMatmul(
      { product: 'tn', m: 70, n: 40, k: 50, dtype: 'f32', kernel: 'tiled', reps: 2, warmup: 1 },
      (e) => {
        if (e.type === 'progress') progress.push(`${e.done}/${e.total}`);
      },
    );
    expect(progress).toEqual(['1/3', '2/3', '3/3']);
    expect(r.verified).toBe(true);
    expect(r.reps).toBe(2);
    expect(r.shape).toBe('70x50x40');
  });

  it('throws a typed DatasetError for a malformed JSONL row', async () => {
    await expect(engine.inspectDataset({ name: 'd.jsonl', text: '{"a":1}\n{oops}\n' })).rejects.toBeInstanceOf(
      DatasetError,
    );
    const ok = await engine.inspectDataset({ name: 'd.jsonl', text: '{"a":1}\n{"b":2,"a":3}\n' });
    expect(ok).toEqual({ file: 'd.jsonl', rows: 2, fields: ['a', 'b'], format: 'jsonl', shape: 'unknown' });
  });

  it('without WebGPU, init fails with advice, and can be retried', async () => {
    const e = new LocalEngine((o) => acquireGpu(undefined, 'browser', o));
    const err = await e.init().catch((x: unknown) => x);
    expect(err).toBeInstanceOf(WebGPUUnavailable);
    expect((err as WebGPUUnavailable).advice).toMatch(/enable-unsafe-webgpu/);
    await expect(e.init()).rejects.toBeInstanceOf(WebGPUUnavailable);
  });
});
