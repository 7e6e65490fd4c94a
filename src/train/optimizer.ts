// AdamW state for a model's trainable parameters: first and second moments on the GPU, the step
// counter, and the recorded update (global-norm clipping, then AdamW with PyTorch semantics). The
// gradient norm stays on the GPU in `stats` ([norm, clip coefficient]) and is read only when asked.

import type { Gpu } from '../gpu/gpu.ts';
import type { Step } from '../gpu/step.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { adamw, gradNorm } from '../kernels/optim.ts';
import type { Param } from '../model/linear.ts';
import type { AdamWConfig } from '../reference/optim.ts';

export class AdamWOptimizer {
  private readonly state: { param: Param; m: Tensor; v: Tensor }[];
  readonly stats: Tensor;
  /** Updates applied so far (PyTorch's `step` in the param state). */
  t = 0;

  constructor(
    private readonly gpu: Gpu,
    params: readonly Param[],
  ) {
    this.state = params.map((param) => {
      if (!param.grad) throw new Error(`${param.name} has no gradient buffer`);
      const m = gpu.empty(param.value.shape, 'f32', `adam m ${param.name}`);
      const v = gpu.empty(param.value.shape, 'f32', `adam v ${param.name}`);
      return { param, m, v };
    });
    this.stats = gpu.empty([2], 'f32', 'grad norm stats');
    const init = gpu.step('adam init');
    for (const s of this.state) {
      init.clear(s.m.buffer);
      init.clear(s.v.buffer);
    }
    void init.submit();
  }

  /** Records clipping (maxGradNorm ≤ 0: none) and one AdamW update of every parameter. */
  async record(step: Step, cfg: AdamWConfig, maxGradNorm: number): Promise<void> {
    this.t += 1;
    await gradNorm(
      step,
      this.state.map((s) => s.param.grad!),
      this.stats,
      maxGradNorm,
    );
    await adamw(
      step,
      this.state.map((s) => ({ param: s.param.value, grad: s.param.grad!, m: s.m, v: s.v })),
      this.stats,
      cfg,
      this.t,
    );
  }

  /** The moments and step count, for a checkpoint (parameters in the optimizer's order). */
  async exportState(): Promise<{ t: number; m: Float32Array[]; v: Float32Array[] }> {
    const m: Float32Array[] = [];
    const v: Float32Array[] = [];
    for (const s of this.state) {
      m.push(await this.gpu.readF32(s.m));
      v.push(await this.gpu.readF32(s.v));
    }
    return { t: this.t, m, v };
  }

  /** Restores what exportState returned (a resumed run continues bit for bit). */
  async importState(saved: { t: number; m: readonly Float32Array[]; v: readonly Float32Array[] }): Promise<void> {
    await this.gpu.sync(); // the constructor's clearing of the moments is done before they are written
    if (saved.m.length !== this.state.length || saved.v.length !== this.state.length) {
      throw new Error(`optimizer state holds ${saved.m.length} tensors, expected ${this.state.length}`);
    }
    this.state.forEach((s, i) => {
      this.gpu.write(s.m, saved.m[i]);
      this.gpu.write(s.v, saved.v[i]);
    });
    this.t = saved.t;
  }

  /** The last step's gradient norm before clipping (one small readback). */
  async lastGradNorm(): Promise<number> {
    return (await this.gpu.readF32(this.stats))[0];
  }

  dispose(): void {
    this.gpu.release(this.stats, ...this.state.flatMap((s) => [s.m, s.v]));
  }
}
