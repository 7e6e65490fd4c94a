import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireDawn, dawnGpu } from '../../companion/dawn.ts';
import { DeviceLost, GpuValidationError, OutOfMemory } from '../errors.ts';
import { REQUESTED_LIMITS } from './capabilities.ts';
import type { Gpu } from './gpu.ts';
import { testGpu } from '../test/gpu.ts';
import { failingLabel } from './gpu.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const copyKernel = {
  label: 'test_copy',
  code: `
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < arrayLength(&Y)) { Y[g.x] = X[g.x] * 2.0; }
}`,
};

describe('capabilities', () => {
  it('requests the adapter limits explicitly, not the defaults', async () => {
    const adapter = await dawnGpu().requestAdapter();
    for (const name of REQUESTED_LIMITS) expect(gpu.caps.limits[name], name).toBe(adapter!.limits[name]);
    // The default device would get 128 MiB; lavapipe offers 128 MiB bindings but a 4 GiB buffer size.
    expect(gpu.caps.limits.maxBufferSize).toBeGreaterThan(256 * 1024 * 1024);
  });

  it('reports the optional features it enabled', () => {
    expect(gpu.caps.host).toBe('node');
    expect(gpu.caps.adapter.vendor.length).toBeGreaterThan(0);
    expect(gpu.caps.shaderF16).toBe(gpu.caps.deviceFeatures.includes('shader-f16'));
    expect(gpu.caps.subgroups).toBe(gpu.caps.deviceFeatures.includes('subgroups'));
    expect(gpu.caps.timestampQuery).toBe(gpu.caps.deviceFeatures.includes('timestamp-query'));
  });

  it('can leave an optional feature off', async () => {
    const g = await acquireDawn({ disableFeatures: ['shader-f16'] });
    try {
      expect(g.caps.shaderF16).toBe(false);
      expect(g.caps.adapterFeatures).toContain('shader-f16');
    } finally {
      g.destroy();
    }
  });
});

describe('buffer pool', () => {
  it('counts live bytes, reuses released buffers of the same size, and tracks the peak', () => {
    const base = gpu.pool.liveBytes;
    gpu.pool.resetPeak();
    const a = gpu.empty([1000], 'f32', 'a');
    const b = gpu.empty([10], 'f16', 'b'); // 20 bytes
    expect(gpu.pool.liveBytes - base).toBe(4000 + 20);
    const bufA = a.buffer;
    gpu.release(a);
    expect(gpu.pool.liveBytes - base).toBe(20);
    expect(gpu.pool.pooledBytes).toBeGreaterThanOrEqual(4000);
    const c = gpu.empty([1000], 'f32', 'c');
    expect(c.buffer).toBe(bufA);
    expect(c.buffer.label).toBe('c');
    expect(gpu.pool.peakLiveBytes - base).toBe(4020);
    gpu.release(b, c);
    expect(gpu.pool.liveBytes).toBe(base);
    gpu.pool.trim();
    expect(gpu.pool.pooledBytes).toBe(0);
  });

  it('refuses a double release', () => {
    const a = gpu.empty([4], 'f32', 'once');
    gpu.release(a);
    expect(() => gpu.release(a)).toThrow(/released twice/);
  });

  it('rejects a buffer over maxBufferSize with OutOfMemory', () => {
    const over = Math.floor(gpu.caps.limits.maxBufferSize / 4) + 1;
    expect(() => gpu.empty([over], 'f32', 'huge')).toThrow(OutOfMemory);
  });
});

describe('upload, steps and readback', () => {
  it('uploads, dispatches and reads back f32; f16 rounds on upload', async () => {
    const x = gpu.upload([1, 2, 3, 4.5], [4], 'f32', 'x');
    const y = gpu.empty([4], 'f32', 'y');
    const step = gpu.step('double');
    await step.dispatch({ kernel: copyKernel, buffers: [{ buffer: x.buffer }, { buffer: y.buffer }], workgroups: [1] });
    expect(step.dispatchCount).toBe(1);
    await step.submit();
    expect(Array.from(await gpu.readF32(y))).toEqual([2, 4, 6, 9]);
    const h = gpu.upload([0.1, 1 / 3, 65504], [3], 'f16', 'h');
    const back = await gpu.readF32(h);
    expect(back[0]).toBeCloseTo(0.0999755859375, 12);
    expect(back[2]).toBe(65504);
    gpu.release(x, y, h);
  });

  it('times each pass with timestamp queries where the device has them', async () => {
    if (!gpu.caps.timestampQuery) throw new Error('lavapipe offers timestamp-query; it should be enabled');
    const x = gpu.upload(new Float32Array(4096), [4096], 'f32', 'x');
    const y = gpu.empty([4096], 'f32', 'y');
    const step = gpu.step('timed', { timed: true });
    for (let i = 0; i < 3; i++) {
      await step.dispatch({
        kernel: copyKernel,
        buffers: [{ buffer: x.buffer }, { buffer: y.buffer }],
        workgroups: [64],
      });
    }
    const timing = await step.submit();
    expect(timing?.map((t) => t.label)).toEqual(['test_copy', 'test_copy', 'test_copy']);
    for (const t of timing!) expect(t.ms).toBeGreaterThanOrEqual(0);
    gpu.release(x, y);
  });

  it('a step cannot be submitted twice', async () => {
    const step = gpu.step('once');
    await step.submit();
    await expect(step.submit()).rejects.toThrow(/already submitted/);
  });
});

describe('typed errors', () => {
  it('a WGSL error names the pipeline', async () => {
    const step = gpu.step('bad wgsl');
    const bad = { label: 'broken_kernel', code: '@compute @workgroup_size(1) fn main() { let x: f32 = 1u; }' };
    const err = await step.dispatch({ kernel: bad, buffers: [], workgroups: [1] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuValidationError);
    expect((err as GpuValidationError).label).toBe('broken_kernel');
    expect((err as Error).message).toMatch(/line 1/);
  });

  it('a bad dispatch surfaces at submit as a validation error naming the pipeline or buffer', async () => {
    const x = gpu.upload([1, 2], [2], 'f32', 'x');
    const step = gpu.step('aliasing');
    // Binding one buffer as read-only and writable storage in a dispatch is invalid.
    await step.dispatch({ kernel: copyKernel, buffers: [{ buffer: x.buffer }, { buffer: x.buffer }], workgroups: [1] });
    const err = await step.submit().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuValidationError);
    expect(['x', 'test_copy']).toContain((err as GpuValidationError).label);
    gpu.release(x);
  });

  it('finds the label in WebGPU messages', () => {
    expect(failingLabel('Error while [ComputePipeline "matmul_nt_f32"] ...')).toBe('matmul_nt_f32');
    expect(failingLabel('no label here')).toBeNull();
  });

  it('a lost device gives DeviceLost with its reason', async () => {
    const g = await acquireDawn();
    g.device.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(() => g.step('after loss')).toThrow(DeviceLost);
    const err = (() => {
      try {
        g.assertAlive();
      } catch (e) {
        return e as DeviceLost;
      }
    })();
    expect(err?.reason).toBe('destroyed');
  });
});
