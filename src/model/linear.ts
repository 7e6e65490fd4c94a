// A linear layer on the GPU as PyTorch and PEFT define it, forward and backward, over the kernels:
//   y [N, out] = x [N, in] · Wᵀ (+ b)  (+ scaling · (dropout(x) · Aᵀ) · Bᵀ with a LoRA adapter)
// W [out, in] is frozen in LoRA mode (no gradient buffer) and trainable in full mode. The backward:
//   dx (+)= dy · W;   full: dW += dyᵀ · x, db += Σ_rows dy
//   LoRA: dB += s · dyᵀ · xa;  dxa = s · dy · B;  dA += dxaᵀ · xd;  dx += dropout'(dxa · A)
// where xd = dropout(x) and xa = xd · Aᵀ [N, r] are kept from the forward (xd is regenerated from the
// same Philox stream rather than stored when dropout is on).

import type { Gpu } from '../gpu/gpu.ts';
import type { Step } from '../gpu/step.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { add } from '../kernels/elementwise.ts';
import { matmul } from '../kernels/matmul.ts';
import { dropout } from '../kernels/random.ts';
import { reduceColumns } from '../kernels/reduce.ts';
import type { Stream } from '../reference/random.ts';

export interface Param {
  /** Hugging Face (or PEFT) name. */
  name: string;
  value: Tensor;
  /** Present when trainable. */
  grad: Tensor | null;
}

export interface LoraAdapter {
  a: Param;
  b: Param;
  r: number;
  scaling: number;
  dropout: number;
  /** Folded into the base weight (W += scaling·B·A): the forward then skips the adapter path. */
  merged: boolean;
}

export interface LinearCache {
  x: Tensor;
  xa: Tensor | null;
  /** Stream of the dropout mask used in the forward (regenerated in the backward). */
  stream: Stream | null;
}

export class Linear {
  constructor(
    readonly path: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    readonly weight: Param,
    readonly bias: Param | null,
    public lora: LoraAdapter | null,
  ) {}

  /**
   * y = linear(x). Returns what the backward needs; `xa` is a pool tensor the caller releases (through
   * `releaseCache`) when the backward is done.
   */
  async forward(
    step: Step,
    x: Tensor,
    y: Tensor,
    n: number,
    rng: { key: readonly [number, number]; stream: Stream; train: boolean },
  ): Promise<LinearCache> {
    const gpu = step.gpu;
    await matmul(
      step,
      { a: x, b: this.weight.value, c: y, m: n, n: this.outFeatures, k: this.inFeatures, bias: this.bias?.value },
      'nt',
    );
    if (!this.lora || this.lora.merged) return { x, xa: null, stream: null };
    const { a, b, r, scaling } = this.lora;
    const useDropout = rng.train && this.lora.dropout > 0;
    const xd = useDropout ? gpu.empty([n, this.inFeatures], 'f32', `${this.path} dropout(x)`) : x;
    if (useDropout) await dropout(step, { x, y: xd, p: this.lora.dropout, key: rng.key, stream: rng.stream });
    const xa = gpu.empty([n, r], 'f32', `${this.path} x·Aᵀ`);
    await matmul(step, { a: xd, b: a.value, c: xa, m: n, n: r, k: this.inFeatures }, 'nt');
    await matmul(
      step,
      { a: xa, b: b.value, c: y, m: n, n: this.outFeatures, k: r, alpha: scaling, accumulate: true },
      'nt',
    );
    if (useDropout) step.onDone(() => gpu.release(xd));
    return { x, xa, stream: useDropout ? rng.stream : null };
  }

  /** Accumulates parameter gradients and writes (or adds, with accumulateDx) dx. dx is skipped when null. */
  async backward(
    step: Step,
    dy: Tensor,
    dx: Tensor | null,
    cache: LinearCache,
    n: number,
    key: readonly [number, number],
    accumulateDx: boolean,
  ): Promise<void> {
    const gpu = step.gpu;
    const { inFeatures: inF, outFeatures: outF } = this;
    if (dx)
      await matmul(step, { a: dy, b: this.weight.value, c: dx, m: n, n: inF, k: outF, accumulate: accumulateDx }, 'nn');
    if (this.weight.grad) {
      await matmul(step, { a: dy, b: cache.x, c: this.weight.grad, m: outF, n: inF, k: n, accumulate: true }, 'tn');
    }
    if (this.bias?.grad) await reduceColumns(step, dy, n, outF, this.bias.grad, { accumulate: true });
    if (!this.lora || !cache.xa) return;
    const { a, b, r, scaling } = this.lora;
    if (b.grad) {
      await matmul(
        step,
        { a: dy, b: cache.xa, c: b.grad, m: outF, n: r, k: n, alpha: scaling, accumulate: true },
        'tn',
      );
    }
    const dxa = gpu.empty([n, r], 'f32', `${this.path} d(x·Aᵀ)`);
    await matmul(step, { a: dy, b: b.value, c: dxa, m: n, n: r, k: outF, alpha: scaling }, 'nn');
    let xd = cache.x;
    if (cache.stream) {
      xd = gpu.empty([n, inF], 'f32', `${this.path} dropout(x)`);
      await dropout(step, { x: cache.x, y: xd, p: this.lora.dropout, key, stream: cache.stream });
    }
    if (a.grad) await matmul(step, { a: dxa, b: xd, c: a.grad, m: r, n: inF, k: n, accumulate: true }, 'tn');
    if (dx) {
      if (cache.stream) {
        const dxd = gpu.empty([n, inF], 'f32', `${this.path} d dropout(x)`);
        await matmul(step, { a: dxa, b: a.value, c: dxd, m: n, n: inF, k: r }, 'nn');
        const masked = gpu.empty([n, inF], 'f32', `${this.path} dropout'(dx)`);
        await dropout(step, { x: dxd, y: masked, p: this.lora.dropout, key, stream: cache.stream });
        await add(step, dx, masked, dx);
        step.onDone(() => gpu.release(dxd, masked));
      } else {
        await matmul(step, { a: dxa, b: a.value, c: dx, m: n, n: inF, k: r, accumulate: true }, 'nn');
      }
    }
    step.onDone(() => gpu.release(dxa, ...(cache.stream ? [xd] : [])));
  }
}

/** W ← W + sign·scaling·B·A: merging (sign 1) or unmerging (sign −1) the adapter in place. */
export async function foldLora(step: Step, lin: Linear, sign: 1 | -1): Promise<void> {
  const l = lin.lora;
  if (!l) return;
  if (l.merged === (sign === 1)) throw new Error(`${lin.path}: adapter already ${l.merged ? 'merged' : 'unmerged'}`);
  await matmul(
    step,
    {
      a: l.b.value,
      b: l.a.value,
      c: lin.weight.value,
      m: lin.outFeatures,
      n: lin.inFeatures,
      k: l.r,
      alpha: sign * l.scaling,
      accumulate: true,
    },
    'nn',
  );
  l.merged = sign === 1;
}

export function releaseCache(gpu: Gpu, cache: LinearCache): void {
  if (cache.xa) gpu.release(cache.xa);
}
