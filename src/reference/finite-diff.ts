// Central finite differences in float64: the oracle for the reference backward passes.
// For a scalar loss L(θ), dL/dθ_i ≈ (L(θ + h·e_i) − L(θ − h·e_i)) / 2h, with error O(h²).

export function numericGradient(loss: (theta: Float64Array) => number, theta: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(theta.length);
  const t = Float64Array.from(theta);
  for (let i = 0; i < t.length; i++) {
    const v = t[i];
    t[i] = v + h;
    const up = loss(t);
    t[i] = v - h;
    const down = loss(t);
    t[i] = v;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** Σ a ⊙ b: turns a tensor output into a scalar loss whose gradient w.r.t. the output is b. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function toF64(a: ArrayLike<number>): Float64Array {
  return Float64Array.from(a);
}
