// A Linear layer's inference forward for decoding steps: with at most GEMV_MAX_ROWS rows the base
// weight and the (unmerged) adapter run as matrix-vector products; longer chunks (the prompt) take the
// Linear's own tiled-matmul forward. Same math as Linear.forward without dropout.

import type { Step } from '../gpu/step.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { GEMV_MAX_ROWS, gemv } from '../kernels/gemv.ts';
import { releaseCache, type Linear } from './linear.ts';

const NO_RNG = { key: [0, 0] as const, stream: [0, 0] as const, train: false };

export async function decodeLinear(step: Step, lin: Linear, x: Tensor, y: Tensor, t: number): Promise<void> {
  const gpu = step.gpu;
  if (t > GEMV_MAX_ROWS || lin.frozen) {
    const cache = await lin.forward(step, x, y, t, NO_RNG);
    step.onDone(() => releaseCache(gpu, cache));
    return;
  }
  const n = lin.outFeatures;
  const k = lin.inFeatures;
  await gemv(step, { x, w: lin.weight.value, c: y, t, n, k, bias: lin.bias?.value });
  const l = lin.lora;
  if (!l || l.merged) return;
  const xa = gpu.empty([t, l.r], 'f32', `${lin.path} x·Aᵀ`);
  await gemv(step, { x, w: l.a.value, c: xa, t, n: l.r, k });
  await gemv(step, { x: xa, w: l.b.value, c: y, t, n, k: l.r, alpha: l.scaling, accumulate: true });
  step.onDone(() => gpu.release(xa));
}
