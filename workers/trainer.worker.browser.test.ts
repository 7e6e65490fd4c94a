// The trainer worker in real Chromium: the engine runs WGSL on the worker's own WebGPU adapter, its
// results are checked here on the main thread against the CPU reference, and typed errors cross the
// comlink boundary with their class and fields.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorkerEngine, type WorkerEngine } from '../src/engine/worker-engine.ts';
import { DatasetError } from '../src/errors.ts';
import type { CapabilityReport } from '../src/gpu/capabilities.ts';
import { compareClose, randomArray } from '../src/reference/compare.ts';
import { matmulRef } from '../src/reference/matmul.ts';
import { goldenTrainRequest, readGolden } from '../src/test/golden.ts';
import goldenUrl from '../src/model/fixtures/golden/llama.safetensors?url';

let engine: WorkerEngine;
let caps: CapabilityReport;

beforeAll(async () => {
  engine = startWorkerEngine();
  caps = await engine.init();
});
afterAll(async () => engine?.dispose());

describe('trainer worker', () => {
  it('runs on a real WebGPU adapter in the worker', () => {
    console.info(`[gpu] ${caps.adapter.vendor} / ${caps.adapter.architecture} (browser worker)`);
    expect(caps.host).toBe('browser');
    expect(caps.adapter.vendor.length + caps.adapter.architecture.length).toBeGreaterThan(0);
    expect(caps.limits.maxStorageBufferBindingSize).toBeGreaterThan(128 * 1024 * 1024);
  });

  for (const product of ['nn', 'nt', 'tn'] as const) {
    it(`matmul ${product} matches the CPU reference`, async () => {
      const m = 45;
      const n = 70;
      const k = 33;
      const a = randomArray(m * k, 5);
      const b = randomArray(k * n, 6);
      const got = await engine.matmul({ product, m, n, k, a, b, dtype: 'f32' });
      const c = compareClose(got, matmulRef({ product, m, n, k }, a, b), 1e-5, 1e-4);
      expect(c.first).toEqual([]);
      expect(got.length).toBe(m * n);
    });
  }

  it('benchmarks a verified matmul with progress events', async () => {
    const events: number[] = [];
    const r = await engine.benchmarkMatmul(
      { product: 'nt', m: 64, n: 96, k: 80, dtype: 'f32', kernel: 'tiled', reps: 3 },
      (e) => {
        if (e.type === 'progress') events.push(e.done);
      },
    );
    expect(r.verified).toBe(true);
    expect(r.reps).toBe(3);
    expect(r.gflops).toBeGreaterThan(0);
    expect(events).toEqual([1, 2, 3, 4]);
  });

  it('a DatasetError thrown in the worker arrives typed, with its row', async () => {
    const text = '{"text": "ok"}\n{"text": "fine"}\n{"text": broken}\n';
    const err = await engine.inspectDataset({ name: 'train.jsonl', text }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetError);
    const d = err as DatasetError;
    expect(d.row).toBe(3);
    expect(d.file).toBe('train.jsonl');
    expect(d.message).toContain('line 3');
  });
});

describe('training in the worker', () => {
  it('10 LoRA steps of a tiny Llama give the losses Node and PyTorch give', async () => {
    const res = await fetch(goldenUrl);
    const f = readGolden(new Uint8Array(await res.arrayBuffer()), 'llama');
    const seen: number[] = [];
    const out = await engine.trainSteps(goldenTrainRequest(f, 'lora'), (e) => {
      if (e.type === 'step') seen.push(e.step);
    });
    // The Node engine on Dawn matches these same PyTorch losses within 1e-4 (src/model/golden.test.ts).
    expect(compareClose(out.losses, f.lossesLora, 1e-4, 0).first).toEqual([]);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(out.losses[9]).toBeLessThan(out.losses[0]);
  });
});
