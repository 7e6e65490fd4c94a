// CPU reference for RMSNorm as in Hugging Face Llama/Qwen (LlamaRMSNorm):
//   rstd[r] = 1 / sqrt(mean_i x[r,i]² + eps),  y[r,i] = w[i] · x[r,i] · rstd[r]
// Backward, with x̂ = x·rstd and g = dy ⊙ w:
//   dx[r,i] = rstd[r] · (g[r,i] − x̂[r,i] · mean_j(g[r,j] · x̂[r,j])),  dw[i] = Σ_r dy[r,i] · x̂[r,i]
// Float64 throughout, so finite differences can check the backward.

export function rmsnormRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  rows: number,
  d: number,
  eps: number,
): { y: Float64Array; rstd: Float64Array } {
  const y = new Float64Array(rows * d);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[r * d + i] * x[r * d + i];
    const s = 1 / Math.sqrt(ss / d + eps);
    rstd[r] = s;
    for (let i = 0; i < d; i++) y[r * d + i] = w[i] * x[r * d + i] * s;
  }
  return { y, rstd };
}

export function rmsnormBackwardRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  rows: number,
  d: number,
  eps: number,
): { dx: Float64Array; dw: Float64Array } {
  const { rstd } = rmsnormRef(x, w, rows, d, eps);
  const dx = new Float64Array(rows * d);
  const dw = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const s = rstd[r];
    let dot = 0;
    for (let i = 0; i < d; i++) dot += dy[r * d + i] * w[i] * x[r * d + i] * s;
    const mean = dot / d;
    for (let i = 0; i < d; i++) {
      const xh = x[r * d + i] * s;
      dx[r * d + i] = s * (dy[r * d + i] * w[i] - xh * mean);
      dw[i] += dy[r * d + i] * xh;
    }
  }
  return { dx, dw };
}
