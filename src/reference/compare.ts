// llm.c-style closeness: |got - ref| <= atol + rtol·|ref|, with the first mismatches described so a
// failing test says where and by how much.

export interface Comparison {
  ok: boolean;
  maxAbsErr: number;
  mismatches: number;
  /** Up to `show` lines like "i=12 got 1.5 ref 1.25 (err 0.25 > tol 0.0013)". */
  first: string[];
}

export function compareClose(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  atol: number,
  rtol: number,
  show = 5,
): Comparison {
  if (got.length !== ref.length) {
    return { ok: false, maxAbsErr: Infinity, mismatches: -1, first: [`length ${got.length} vs ${ref.length}`] };
  }
  let maxAbsErr = 0;
  let mismatches = 0;
  const first: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    const err = got[i] === ref[i] ? 0 : Math.abs(got[i] - ref[i]); // equal infinities are a match
    const tol = atol + rtol * Math.abs(ref[i]);
    if (!(err <= tol)) {
      mismatches++;
      if (first.length < show) first.push(`i=${i} got ${got[i]} ref ${ref[i]} (err ${err} > tol ${tol})`);
    }
    if (err > maxAbsErr || Number.isNaN(err)) maxAbsErr = Number.isNaN(err) ? Infinity : err;
  }
  return { ok: mismatches === 0, maxAbsErr, mismatches, first };
}

/** A deterministic pseudo-random array in [-1, 1) (xorshift32), for test and benchmark inputs. */
export function randomArray(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}
