// Test helpers for GPU tests in Node: one Dawn device per test file, and an assertion that a real
// adapter is there. A missing adapter fails the test file (never a skip, never a CPU fallback).

import { acquireDawn } from '../../companion/dawn.ts';
import { adapterName } from '../gpu/capabilities.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { compareClose } from '../reference/compare.ts';

export async function testGpu(): Promise<Gpu> {
  const gpu = await acquireDawn();
  // Printed once per file so every GPU test log names the adapter it ran on.
  console.info(`[gpu] ${adapterName(gpu.caps)} f16=${gpu.caps.shaderF16} subgroups=${gpu.caps.subgroups}`);
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
