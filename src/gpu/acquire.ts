// Acquires an adapter and a device from whichever WebGPU the host provides (navigator.gpu in a browser
// worker, Dawn's `create()` in Node), asking for the adapter's own limits and the optional features
// lorabook uses. Failures become a WebGPUUnavailable that tells a person what to do.

import { WebGPUUnavailable } from '../errors.ts';
import { REQUESTED_LIMITS, WANTED_FEATURES, buildCapabilityReport, type CapabilityReport } from './capabilities.ts';
import { Gpu } from './gpu.ts';

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Leave out optional features (to test the f32-only paths on an adapter that has f16). */
  disableFeatures?: readonly string[];
}

const ADVICE_BROWSER =
  'Use a browser with WebGPU: Chrome or Edge 113+ on Windows, macOS or ChromeOS, Chrome 121+ on Android, ' +
  'Safari 26+, or Firefox 141+ on Windows. On Linux, start Chrome with --enable-unsafe-webgpu (and ' +
  '--enable-features=Vulkan). Check chrome://gpu for "WebGPU: Hardware accelerated". Or run the lorabook ' +
  'companion on a machine with a GPU and connect the notebook to it.';

const ADVICE_NODE =
  'Dawn found no Vulkan adapter. Install libvulkan1 and a Vulkan driver (a GPU driver, or Mesa lavapipe: ' +
  "'npm run setup:test' prepares one in .cache/lavapipe), then run through scripts/with-gpu-env.sh.";

export async function acquireGpu(
  gpu: GPU | undefined,
  host: CapabilityReport['host'],
  options: AcquireOptions = {},
): Promise<Gpu> {
  const advice = host === 'node' ? ADVICE_NODE : ADVICE_BROWSER;
  if (!gpu) throw new WebGPUUnavailable('This browser does not expose WebGPU (navigator.gpu is missing).', advice);
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  } catch (e) {
    throw new WebGPUUnavailable(`requestAdapter failed: ${(e as Error).message}`, advice);
  }
  if (!adapter) throw new WebGPUUnavailable('WebGPU is present but no GPU adapter is available.', advice);

  const requiredLimits: Record<string, number> = {};
  for (const name of REQUESTED_LIMITS) {
    const v = adapter.limits[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  const disabled = new Set(options.disableFeatures ?? []);
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f) && !disabled.has(f));
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      label: 'lorabook',
      requiredFeatures: requiredFeatures as GPUFeatureName[],
      requiredLimits,
    });
  } catch (e) {
    throw new WebGPUUnavailable(`requestDevice failed: ${(e as Error).message}`, advice);
  }
  return new Gpu(device, buildCapabilityReport(adapter, device, host));
}
