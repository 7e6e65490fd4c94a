// The Node host's WebGPU: Dawn through the `webgpu` package. Tests, benchmarks, scripts and the
// companion get their Gpu here; the engine below never imports Node modules.

import { create, globals } from 'webgpu';
import { acquireGpu, type AcquireOptions } from '../src/gpu/acquire.ts';
import type { Gpu } from '../src/gpu/gpu.ts';

let installed: GPU | null = null;

/** Dawn's GPU object, with GPUBufferUsage and friends installed on globalThis (Node has none). */
export function dawnGpu(): GPU {
  if (!installed) {
    Object.assign(globalThis, globals);
    installed = create([]) as GPU;
  }
  return installed;
}

export async function acquireDawn(options: AcquireOptions = {}): Promise<Gpu> {
  return acquireGpu(dawnGpu(), 'node', options);
}
