// CPU reference for the matmul products (the oracle for src/kernels/matmul.ts). Float64 accumulation,
// the same layouts as the kernel:
//   'nn': C[b,m,n] = Σk A[b,m,k]·B[b,k,n]        (A [M,K], B [K,N])
//   'nt': C[b,m,n] = Σk A[b,m,k]·B[b,n,k]        (B stored [N,K]: x·Wᵀ with W [out,in])
//   'tn': C[b,m,n] = Σk A[b,k,m]·B[b,k,n]        (A stored [K,M]: dW = dYᵀ·X)
// then C = alpha·C + bias[n] (+ the old C when accumulating). A batch stride of 0 broadcasts.

export type MatmulProduct = 'nn' | 'nt' | 'tn';

export interface MatmulShape {
  product: MatmulProduct;
  m: number;
  n: number;
  k: number;
  batch?: number;
  /** Elements between consecutive batch items of A and B; default dense, 0 broadcasts. */
  strideA?: number;
  strideB?: number;
}

export interface MatmulRefOptions {
  bias?: ArrayLike<number>;
  accumulate?: ArrayLike<number>;
  alpha?: number;
}

export function matmulRef(
  s: MatmulShape,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  o: MatmulRefOptions = {},
): Float32Array {
  const { m, n, k, product } = s;
  const batch = s.batch ?? 1;
  const sa = s.strideA ?? m * k;
  const sb = s.strideB ?? k * n;
  const alpha = o.alpha ?? 1;
  const c = new Float32Array(batch * m * n);
  for (let bi = 0; bi < batch; bi++) {
    const ao = bi * sa;
    const bo = bi * sb;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) {
          const av = product === 'tn' ? a[ao + p * m + i] : a[ao + i * k + p];
          const bv = product === 'nt' ? b[bo + j * k + p] : b[bo + p * n + j];
          acc += av * bv;
        }
        const idx = bi * m * n + i * n + j;
        let v = alpha * acc;
        if (o.bias) v += o.bias[j];
        if (o.accumulate) v += o.accumulate[idx];
        c[idx] = v;
      }
    }
  }
  return c;
}
