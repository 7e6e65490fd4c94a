// CPU reference for GPT-2's gelu_new (the tanh approximation, transformers' NewGELUActivation), float64:
//   y = ½·x·(1 + tanh(u)),  u = √(2/π)·(x + 0.044715·x³)
//   dy/dx = ½·(1 + tanh u) + ½·x·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·x²)

const C = Math.sqrt(2 / Math.PI);
const K = 0.044715;

export function geluNewRef(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => 0.5 * v * (1 + Math.tanh(C * (v + K * v * v * v))));
}

export function geluNewBackwardRef(dy: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v, i) => {
    const t = Math.tanh(C * (v + K * v * v * v));
    return dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * C * (1 + 3 * K * v * v));
  });
}
