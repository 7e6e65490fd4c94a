// CPU reference for the embedding lookup and its backward.
//   forward:  out[t,:] = E[ids[t],:]          E [V, D], ids [T]
//   backward: dE[v,:] = Σ_{t: ids[t] = v} dout[t,:]

export function embeddingRef(e: ArrayLike<number>, ids: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array(ids.length * d);
  for (let t = 0; t < ids.length; t++) for (let j = 0; j < d; j++) out[t * d + j] = e[ids[t] * d + j];
  return out;
}

export function embeddingBackwardRef(
  dout: ArrayLike<number>,
  ids: ArrayLike<number>,
  vocab: number,
  d: number,
): Float64Array {
  const de = new Float64Array(vocab * d);
  for (let t = 0; t < ids.length; t++) for (let j = 0; j < d; j++) de[ids[t] * d + j] += dout[t * d + j];
  return de;
}
