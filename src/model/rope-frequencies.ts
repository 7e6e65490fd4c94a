// RoPE inverse frequencies inv_freq[i], i < head_dim/2, as transformers' modeling_rope_utils computes them:
//   default: inv_freq[i] = 1 / theta^(2i / head_dim)
//   linear:  inv_freq[i] / factor
//   llama3:  wavelen = 2π / inv_freq; wavelen > orig/low → inv/factor; wavelen < orig/high → inv;
//            between: (1 − s)·inv/factor + s·inv with s = (orig/wavelen − low) / (high − low)
// Why float32 steps: PyTorch does every one of these operations on float32 tensors (Python scalars are cast
// to float32), and the angle p·inv_freq is taken in float32 too, so each step here is rounded with
// Math.fround to give the same numbers (pow may differ from PyTorch's by an ulp; everything else is exact,
// since a float64 operation on float32 operands rounded to float32 equals the float32 operation).

import type { ModelSpec } from './config.ts';

const f = Math.fround;

export function inverseFrequencies(spec: Pick<ModelSpec, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float64Array {
  const dim = spec.headDim;
  const half = dim / 2;
  const base = f(spec.ropeTheta);
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = f(1 / f(Math.pow(base, f((2 * i) / dim))));

  const s = spec.ropeScaling;
  if (s.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = f(inv[i] / f(s.factor));
  } else if (s.type === 'llama3') {
    const factor = f(s.factor);
    const low = f(s.lowFreqFactor);
    const old = f(s.originalMaxPositionEmbeddings);
    const lowFreqWavelen = f(s.originalMaxPositionEmbeddings / s.lowFreqFactor);
    const highFreqWavelen = f(s.originalMaxPositionEmbeddings / s.highFreqFactor);
    const span = f(s.highFreqFactor - s.lowFreqFactor);
    const twoPi = f(2 * Math.PI);
    for (let i = 0; i < half; i++) {
      const wavelen = f(twoPi / inv[i]);
      const scaled = wavelen > lowFreqWavelen ? f(inv[i] / factor) : inv[i];
      const medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
      if (!medium) {
        inv[i] = scaled;
        continue;
      }
      const smooth = f(f(f(old / wavelen) - low) / span);
      inv[i] = f(f(f(f(1 - smooth) * scaled) / factor) + f(smooth * scaled));
    }
  }
  return inv;
}
