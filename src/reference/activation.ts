// CPU reference for SwiGLU (Llama MLP): h = silu(g) ⊙ u, silu(g) = g·σ(g).
// Backward: du = dh ⊙ silu(g),  dg = dh ⊙ u ⊙ σ(g)·(1 + g·(1 − σ(g))).

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export function swigluRef(g: ArrayLike<number>, u: ArrayLike<number>): Float64Array {
  return Float64Array.from(g, (x, i) => x * sigmoid(x) * u[i]);
}

export function swigluBackwardRef(
  dh: ArrayLike<number>,
  g: ArrayLike<number>,
  u: ArrayLike<number>,
): { dg: Float64Array; du: Float64Array } {
  const dg = new Float64Array(g.length);
  const du = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) {
    const s = sigmoid(g[i]);
    du[i] = dh[i] * g[i] * s;
    dg[i] = dh[i] * u[i] * s * (1 + g[i] * (1 - s));
  }
  return { dg, du };
}
