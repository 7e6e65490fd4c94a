// CPU reference for LayerNorm as in PyTorch's nn.LayerNorm (GPT-2's ln_1, ln_2, ln_f), float64:
//   mean[r] = Σ_i x[r,i] / d,  rstd[r] = 1 / sqrt(Σ_i (x[r,i] − mean)² / d + eps)   (biased variance)
//   x̂ = (x − mean)·rstd,  y = w ⊙ x̂ + b
// Backward with g = dy ⊙ w:  dx = rstd · (g − mean_j g − x̂ · mean_j(g ⊙ x̂)),
//   dw = Σ_r dy ⊙ x̂,  db = Σ_r dy.

export function layernormRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  rows: number,
  d: number,
  eps: number,
): { y: Float64Array; mean: Float64Array; rstd: Float64Array } {
  const y = new Float64Array(rows * d);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += x[r * d + i];
    const m = s / d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[r * d + i] - m) ** 2;
    const rs = 1 / Math.sqrt(v / d + eps);
    mean[r] = m;
    rstd[r] = rs;
    for (let i = 0; i < d; i++) y[r * d + i] = w[i] * (x[r * d + i] - m) * rs + b[i];
  }
  return { y, mean, rstd };
}

export function layernormBackwardRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  rows: number,
  d: number,
  eps: number,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const { mean, rstd } = layernormRef(x, w, new Float64Array(d), rows, d, eps);
  const dx = new Float64Array(rows * d);
  const dw = new Float64Array(d);
  const db = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    let sg = 0;
    let sgx = 0;
    for (let i = 0; i < d; i++) {
      const xh = (x[r * d + i] - mean[r]) * rstd[r];
      const g = dy[r * d + i] * w[i];
      sg += g;
      sgx += g * xh;
      dw[i] += dy[r * d + i] * xh;
      db[i] += dy[r * d + i];
    }
    for (let i = 0; i < d; i++) {
      const xh = (x[r * d + i] - mean[r]) * rstd[r];
      dx[r * d + i] = rstd[r] * (dy[r * d + i] * w[i] - sg / d - (xh * sgx) / d);
    }
  }
  return { dx, dw, db };
}
