// CPU reference for AdamW with PyTorch's semantics (torch.optim.AdamW, decoupled weight decay) and for
// global gradient-norm clipping (torch.nn.utils.clip_grad_norm_):
//   p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//   p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps)
//   clip: norm = ‖(‖g_1‖, …, ‖g_n‖)‖₂, g ← g · min(1, max_norm / (norm + 1e-6))

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const TORCH_ADAMW_DEFAULTS: AdamWConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/** One AdamW update at step t (1-based), in place on p, m and v; g is already clipped. */
export function adamwStepRef(
  p: Float64Array,
  g: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  cfg: AdamWConfig,
  t: number,
): void {
  const bc1 = 1 - cfg.beta1 ** t;
  const bc2Sqrt = Math.sqrt(1 - cfg.beta2 ** t);
  const stepSize = cfg.lr / bc1;
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - cfg.lr * cfg.weightDecay;
    m[i] = cfg.beta1 * m[i] + (1 - cfg.beta1) * g[i];
    v[i] = cfg.beta2 * v[i] + (1 - cfg.beta2) * g[i] * g[i];
    p[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / bc2Sqrt + cfg.eps);
  }
}

/** The global L2 norm of all gradients, and the factor clip_grad_norm_ multiplies them by. */
export function clipCoefficientRef(grads: ArrayLike<number>[], maxNorm: number): { norm: number; coef: number } {
  let total = 0;
  for (const g of grads) {
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i] * g[i];
    total += s;
  }
  const norm = Math.sqrt(total);
  return { norm, coef: maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1 };
}
