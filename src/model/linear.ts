// A linear layer on the GPU as PyTorch and PEFT define it, forward and backward, over the kernels:
//   y [N, out] = x [N, in] · Wᵀ (+ b)  (+ scaling · (dropout(x) · Aᵀ) · Bᵀ with a LoRA adapter)
// W [out, in] is frozen in LoRA mode (no gradient buffer) and trainable in full mode. The backward:
//   dx (+)= dy · W;   full: dW += dyᵀ · x, db += Σ_rows dy
//   LoRA: dB += s · dyᵀ · xa;  dxa = s · dy · B;  dA += dxaᵀ · xd;  dx += dropout'(dxa · A)
// where xd = dropout(x) and xa = xd · Aᵀ [N, r] are kept from the forward (xd is regenerated from the
// same Philox stream rather than stored when dropout is on).
// A frozen base (QLoRA's NF4/FP4, or an f16 base) is a FrozenWeight: W·x and dy·W then run through the
// fused kernels of src/kernels/nf4-matmul.ts, which decode W while loading it; `weight.value` is then the
// stored codes (u32) or f16 values and W never has a gradient.

import type { Gpu } from '../gpu/gpu.ts';
import type { Step } from '../gpu/step.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { add } from '../kernels/elementwise.ts';
import { matmul } from '../kernels/matmul.ts';
import { frozenMatmul, type FrozenWeight } from '../kernels/nf4-matmul.ts';
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
    /** The base weight in a frozen storage format (its data tensor is `weight.value`), or null for f32. */
    readonly frozen: FrozenWeight | null = null,
  ) {
    if (frozen) {
      if (weight.grad) throw new Error(`${path}: a ${frozen.format} base weight cannot train`);
      if (frozen.data !== weight.value) throw new Error(`${path}: weight.value must be the frozen weight's data`);
      if (frozen.rows !== outFeatures || frozen.cols !== inFeatures) {
        throw new RangeError(
          `${path}: base weight [${frozen.rows}, ${frozen.cols}] for [${outFeatures}, ${inFeatures}]`,
        );
      }
    }
  }

  /** Storage of the base weight. */
  get baseFormat(): 'f32' | FrozenWeight['format'] {
    return this.frozen?.format ?? 'f32';
  }

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
    if (this.frozen) await frozenMatmul(step, { x, w: this.frozen, y, m: n, bias: this.bias?.value }, 'nt');
    else {
      await matmul(
        step,
        { a: x, b: this.weight.value, c: y, m: n, n: this.outFeatures, k: this.inFeatures, bias: this.bias?.value },
        'nt',
      );
    }
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
    if (dx && this.frozen) {
      await frozenMatmul(step, { x: dy, w: this.frozen, y: dx, m: n, accumulate: accumulateDx }, 'nn');
    } else if (dx) {
      await matmul(step, { a: dy, b: this.weight.value, c: dx, m: n, n: inF, k: outF, accumulate: accumulateDx }, 'nn');
    }
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
  if (lin.frozen) {
    throw new Error(
      `${lin.path}: the adapter cannot be merged into a ${lin.frozen.format} base weight in place (use mergedWeights)`,
    );
  }
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

/**
 * The base weight as f32 [out, in] in a new pool tensor, plus scaling·B·A when `withAdapter` (PEFT's
 * merge_and_unload over a quantized base: dequantize, then add the update in float). A frozen weight is
 * decoded by the fused 'nn' kernel against the identity (I·W = W, exactly: one non-zero term per output).
 */
export async function denseWeight(step: Step, lin: Linear, withAdapter: boolean): Promise<Tensor> {
  const gpu = step.gpu;
  const { inFeatures: inF, outFeatures: outF } = lin;
  const w = gpu.empty([outF, inF], 'f32', `${lin.path} dense weight`);
  if (lin.frozen) {
    const eye = new Float32Array(outF * outF);
    for (let i = 0; i < outF; i++) eye[i * outF + i] = 1;
    const id = step.upload(eye, [outF, outF], 'f32', `${lin.path} identity`);
    await frozenMatmul(step, { x: id, w: lin.frozen, y: w, m: outF }, 'nn');
    step.onDone(() => gpu.release(id));
  } else step.copy(lin.weight.value.buffer, w.buffer, outF * inF * 4);
  const l = lin.lora;
  if (withAdapter && l && !l.merged) {
    await matmul(
      step,
      { a: l.b.value, b: l.a.value, c: w, m: outF, n: inF, k: l.r, alpha: l.scaling, accumulate: true },
      'nn',
    );
  }
  return w;
}
