// A Hub model loaded for QLoRA (local Hub-layout test server, fake-indexeddb; no network): the loader
// quantizes to NF4 while streaming, the cache keeps the NF4 bytes, and a second load with the server gone
// comes from the cache straight into the fused kernels: the codes on the GPU are the cached bytes (no
// f32 copy, no requantization) and the logits equal the f32 engine's on the cache's dequantized weights.

import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { LlamaGpu, type TokenBatch } from '../model/llama-gpu.ts';
import { compareClose } from '../reference/compare.ts';
import { WeightCache } from '../store/weight-cache.ts';
import { testGpu } from '../test/gpu.ts';
import { loadFromHub } from './loader.ts';
import { HubTestServer } from './test-server.ts';
import { tinyModel, tinyRepo } from './test-fixtures.ts';
import { engineWeights } from './weights.ts';

const model = tinyModel(5);
const server = new HubTestServer([tinyRepo('test-org/tiny-qlora', model)]);
let endpoint = '';
let gpu: Gpu;

beforeAll(async () => {
  endpoint = await server.start();
  gpu = await testGpu();
});
afterAll(async () => {
  await server.stop();
  gpu?.destroy();
});

const ids = [1, 5, 9, 13, 17, 21, 25, 29];
const batch: TokenBatch = {
  batch: 1,
  seq: ids.length,
  ids,
  labels: ids,
  positions: ids.map((_, i) => i),
  segments: ids.map(() => 0),
};
const lora = {
  r: 4,
  alpha: 8,
  dropout: 0,
  targetModules: ['q_proj', 'v_proj'],
  useRslora: false,
  bias: 'none' as const,
};

describe('QLoRA from the Hub through the NF4 weight cache', () => {
  it('loads cached NF4 codes straight into the fused kernels', async () => {
    const cache = await WeightCache.open('lorabook-qlora-load');
    const o = { endpoint, storage: 'nf4' as const, cache, storageManager: null, retries: 1, backoffMs: 1 };
    const first = await loadFromHub('test-org/tiny-qlora', o);
    expect(first.fromCache).toBe(false);
    await server.stop(); // from here on, any network access fails
    const cached = await loadFromHub('test-org/tiny-qlora', o);
    expect(cached.fromCache).toBe(true);
    const q = cached.tensors.get('model.layers.1.mlp.down_proj.weight')!;
    expect(q.storage).toBe('nf4');
    expect(q.nf4?.nested).not.toBeNull(); // double-quantized absmax, as stored

    const qlora = LlamaGpu.create(gpu, cached.spec, Object.fromEntries(cached.tensors), {
      mode: 'lora',
      lora,
      seed: 1,
      base: 'nf4',
    });
    const f32 = LlamaGpu.create(gpu, cached.spec, engineWeights(cached.tensors), { mode: 'lora', lora, seed: 1 });
    try {
      for (const lin of qlora.linears()) {
        expect(lin.baseFormat).toBe('nf4');
        const stored = cached.tensors.get(lin.weight.name)!.data;
        const onGpu = new Uint8Array(await gpu.readBytes(lin.frozen!.data.buffer, stored.length));
        expect(compareClose(onGpu, stored, 0, 0).ok).toBe(true);
      }
      const [a, b] = [await qlora.logits(batch), await f32.logits(batch)];
      const c = compareClose(a, b, 1e-4, 0);
      if (!c.ok) throw new Error(c.first.join('\n'));
    } finally {
      qlora.dispose();
      f32.dispose();
    }
  });
});
