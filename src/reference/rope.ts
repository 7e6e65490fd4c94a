// CPU reference for rotary position embeddings in Hugging Face's rotate_half layout:
//   half = D/2, θ[p,i] = p · inv_freq[i],  for i < half:
//   y[i]      = x[i]·cos θ − x[i+half]·sin θ
//   y[i+half] = x[i+half]·cos θ + x[i]·sin θ
// The backward is the inverse rotation (sin → −sin). x is [T, H, D]; positions [T].

export function ropeRef(
  x: ArrayLike<number>,
  positions: ArrayLike<number>,
  invFreq: ArrayLike<number>,
  heads: number,
  dim: number,
  inverse = false,
): Float64Array {
  const t = positions.length;
  const half = dim / 2;
  const y = new Float64Array(t * heads * dim);
  for (let s = 0; s < t; s++) {
    for (let h = 0; h < heads; h++) {
      const base = (s * heads + h) * dim;
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(positions[s] * invFreq[i]); // HF computes the angle in float32
        const c = Math.cos(angle);
        const sn = inverse ? -Math.sin(angle) : Math.sin(angle);
        const a = x[base + i];
        const b = x[base + i + half];
        y[base + i] = a * c - b * sn;
        y[base + i + half] = b * c + a * sn;
      }
    }
  }
  return y;
}
