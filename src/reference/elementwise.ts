// CPU references for the elementwise and reduction kernels. Reductions accumulate in float64.

export function addRef(a: ArrayLike<number>, b: ArrayLike<number>): Float32Array {
  return Float32Array.from(a, (x, i) => x + b[i]);
}

export function mulRef(a: ArrayLike<number>, b: ArrayLike<number>): Float32Array {
  return Float32Array.from(a, (x, i) => x * b[i]);
}

export function scaleRef(a: ArrayLike<number>, s: number): Float32Array {
  return Float32Array.from(a, (x) => x * s);
}

/** Sums of each row of a [rows, len] array. */
export function sumRowsRef(a: ArrayLike<number>, rows: number, len: number, squares = false): Float32Array {
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    for (let i = 0; i < len; i++) {
      const v = a[r * len + i];
      acc += squares ? v * v : v;
    }
    out[r] = acc;
  }
  return out;
}

/** Column sums of a [rows, cols] array. */
export function sumColumnsRef(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] += a[r * cols + c];
  return out;
}
