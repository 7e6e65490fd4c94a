// Test helpers for GPU tests in Node: one Dawn device per test file, and an assertion that a real
// adapter is there. A missing adapter fails the test file (never a skip, never a CPU fallback).

import { acquireDawn } from '../../companion/dawn.ts';
import { adapterName } from '../gpu/capabilities.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { compareClose } from '../reference/compare.ts';

/**
 * The Dawn device for a test file. It asserts the adapter is a real one and, when
 * LORABOOK_EXPECT_ADAPTER is set (scripts/with-gpu-env.sh sets 'llvmpipe' for the project's lavapipe),
 * that the adapter's name contains it: a test never runs on some other adapter unnoticed.
 */
export async function testGpu(): Promise<Gpu> {
  const gpu = await acquireDawn();
  const name = adapterName(gpu.caps);
  // Printed once per file so every GPU test log names the adapter it ran on.
  console.info(`[gpu] ${name} f16=${gpu.caps.shaderF16} subgroups=${gpu.caps.subgroups}`);
  if (gpu.caps.host !== 'node' || name === 'unknown adapter') {
    gpu.destroy();
    throw new Error(`no identifiable WebGPU adapter (got "${name}")`);
  }
  const expected = process.env.LORABOOK_EXPECT_ADAPTER;
  if (expected && !name.toLowerCase().includes(expected.toLowerCase())) {
    gpu.destroy();
    throw new Error(`tests expected adapter "${expected}" but Dawn chose "${name}"`);
  }
  return gpu;
}

/** Throws with the first mismatches when `got` is not within atol + rtol·|ref| of `ref`. */
export function expectClose(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  atol: number,
  rtol: number,
  what = '',
): void {
  const c = compareClose(got, ref, atol, rtol);
  if (!c.ok) {
    throw new Error(
      `${what} ${c.mismatches} of ${ref.length} values out of tolerance (max abs err ${c.maxAbsErr}):\n  ${c.first.join('\n  ')}`,
    );
  }
}
