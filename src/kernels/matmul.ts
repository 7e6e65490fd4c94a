// Matmul for training: the three products of a linear layer, batched, with optional bias, alpha and
// accumulate-into-output.
//   'nn': C[b] = α·A[b]·B[b]      A [M,K], B [K,N]   (activation · weight in [in,out] layout)
//   'nt': C[b] = α·A[b]·B[b]ᵀ     A [M,K], B [N,K]   (forward x·Wᵀ with W [out,in]; dX = dY·W uses 'nn')
//   'tn': C[b] = α·A[b]ᵀ·B[b]     A [K,M], B [K,N]   (weight gradient dW = dYᵀ·X)
//   then C = C + bias[n] (+ C_old with accumulate). Batch strides of 0 broadcast an operand.
// Why this shape: each workgroup computes a BM×BN tile of C, staging BK-deep slices of A and B through
// workgroup memory (k-major, so every product reads shared memory the same way), and each invocation
// keeps a TM×TN block of C in registers so every shared-memory load feeds TM or TN multiply-adds. The
// transposes only change how a tile is loaded from global memory. Tails are zero-padded on load and
// masked on store. With shader-f16, A and B may be stored as f16 (half the bytes) and are widened to
// f32 on load: accumulation is always f32. No subgroup size is assumed.

import type { Gpu } from '../gpu/gpu.ts';
import type { Step } from '../gpu/step.ts';
import type { Tensor } from '../gpu/tensor.ts';
import type { MatmulProduct } from '../reference/matmul.ts';

export type { MatmulProduct };

export interface MatmulConfig {
  product: MatmulProduct;
  /** Storage type of A and B; 'f16' requires shader-f16. */
  inputType: 'f32' | 'f16';
  /** Storage type of C. */
  outputType: 'f32' | 'f16';
  bias: boolean;
  accumulate: boolean;
}

export interface MatmulArgs {
  a: Tensor;
  b: Tensor;
  c: Tensor;
  m: number;
  n: number;
  k: number;
  batch?: number;
  strideA?: number;
  strideB?: number;
  alpha?: number;
  bias?: Tensor;
  accumulate?: boolean;
}

// Tile sizes: a 16×16 workgroup, each invocation 4×4 outputs.
const TM = 4;
const TN = 4;
const WG_X = 16;
const WG_Y = 16;
const BM = WG_Y * TM; // 64
const BN = WG_X * TN; // 64
const BK = 16;

export function matmulWgsl(cfg: MatmulConfig): string {
  const { product } = cfg;
  const inT = cfg.inputType;
  const outT = cfg.outputType;
  const f16 = inT === 'f16' || outT === 'f16';
  const threads = WG_X * WG_Y;
  // Index of element (row m, col k) of A and (row k, col n) of B in their buffers.
  const aIndex = product === 'tn' ? 'aBase + kk * p.m + mm' : 'aBase + mm * p.k + kk';
  const bIndex = product === 'nt' ? 'bBase + nn * p.k + kk' : 'bBase + kk * p.n + nn';
  // Loading order: consecutive invocations read consecutive addresses of the global layout.
  const aLoad =
    product === 'tn'
      ? `let r = e / ${BM}u; let cc = e % ${BM}u; let kk = k0 + r; let mm = m0 + cc; let sIdx = r * ${BM}u + cc;`
      : `let r = e / ${BK}u; let cc = e % ${BK}u; let kk = k0 + cc; let mm = m0 + r; let sIdx = cc * ${BM}u + r;`;
  const bLoad =
    product === 'nt'
      ? `let r = e / ${BK}u; let cc = e % ${BK}u; let kk = k0 + cc; let nn = n0 + r; let sIdx = cc * ${BN}u + r;`
      : `let r = e / ${BN}u; let cc = e % ${BN}u; let kk = k0 + r; let nn = n0 + cc; let sIdx = r * ${BN}u + cc;`;
  return /* wgsl */ `
${f16 ? 'enable f16;' : ''}
struct Params { m: u32, n: u32, k: u32, batch: u32, strideA: u32, strideB: u32, strideC: u32, alpha: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<${inT}>;
@group(0) @binding(2) var<storage, read> B: array<${inT}>;
@group(0) @binding(3) var<storage, read_write> C: array<${outT}>;
${cfg.bias ? `@group(0) @binding(4) var<storage, read> bias: array<${outT}>;` : ''}

var<workgroup> As: array<f32, ${BK * BM}>;
var<workgroup> Bs: array<f32, ${BK * BN}>;

@compute @workgroup_size(${WG_X}, ${WG_Y}, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let batch = wg.z;
  let m0 = wg.y * ${BM}u;
  let n0 = wg.x * ${BN}u;
  let aBase = batch * p.strideA;
  let bBase = batch * p.strideB;
  var acc: array<array<f32, ${TN}>, ${TM}>;
  var aReg: array<f32, ${TM}>;
  var bReg: array<f32, ${TN}>;
  for (var k0 = 0u; k0 < p.k; k0 += ${BK}u) {
    for (var e = li; e < ${BM * BK}u; e += ${threads}u) {
      ${aLoad}
      var v = 0.0;
      if (mm < p.m && kk < p.k) { v = f32(A[${aIndex}]); }
      As[sIdx] = v;
    }
    for (var e = li; e < ${BN * BK}u; e += ${threads}u) {
      ${bLoad}
      var v = 0.0;
      if (nn < p.n && kk < p.k) { v = f32(B[${bIndex}]); }
      Bs[sIdx] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${BK}u; kk++) {
      for (var i = 0u; i < ${TM}u; i++) { aReg[i] = As[kk * ${BM}u + lid.y * ${TM}u + i]; }
      for (var j = 0u; j < ${TN}u; j++) { bReg[j] = Bs[kk * ${BN}u + lid.x * ${TN}u + j]; }
      for (var i = 0u; i < ${TM}u; i++) {
        for (var j = 0u; j < ${TN}u; j++) { acc[i][j] = fma(aReg[i], bReg[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  let cBase = batch * p.strideC;
  for (var i = 0u; i < ${TM}u; i++) {
    let row = m0 + lid.y * ${TM}u + i;
    if (row >= p.m) { continue; }
    for (var j = 0u; j < ${TN}u; j++) {
      let col = n0 + lid.x * ${TN}u + j;
      if (col >= p.n) { continue; }
      let idx = cBase + row * p.n + col;
      var v = p.alpha * acc[i][j];
      ${cfg.bias ? 'v += f32(bias[col]);' : ''}
      ${cfg.accumulate ? 'v += f32(C[idx]);' : ''}
      C[idx] = ${outT}(v);
    }
  }
}
`;
}

/** Records C = α·op(A)·op(B) (+ bias) (+ C) into `step`. Shapes and dtypes are checked. */
export async function matmul(step: Step, args: MatmulArgs, product: MatmulProduct): Promise<void> {
  const { a, b, c, m, n, k } = args;
  const batch = args.batch ?? 1;
  const strideA = args.strideA ?? m * k;
  const strideB = args.strideB ?? k * n;
  checkMatmul(step.gpu, args, product, batch, strideA, strideB);
  const cfg: MatmulConfig = {
    product,
    inputType: a.dtype === 'f16' ? 'f16' : 'f32',
    outputType: c.dtype === 'f16' ? 'f16' : 'f32',
    bias: args.bias !== undefined,
    accumulate: args.accumulate ?? false,
  };
  const params = new ArrayBuffer(32);
  new Uint32Array(params, 0, 7).set([m, n, k, batch, strideA, strideB, m * n]);
  new Float32Array(params, 28, 1)[0] = args.alpha ?? 1;
  const buffers = [{ buffer: a.buffer }, { buffer: b.buffer }, { buffer: c.buffer }];
  if (args.bias) buffers.push({ buffer: args.bias.buffer });
  await step.dispatch({
    kernel: { label: matmulLabel(cfg), code: matmulWgsl(cfg) },
    params,
    buffers,
    workgroups: [Math.ceil(n / BN), Math.ceil(m / BM), batch],
  });
}

export function matmulLabel(cfg: MatmulConfig): string {
  return `matmul_${cfg.product}_${cfg.inputType}_${cfg.outputType}${cfg.bias ? '_bias' : ''}${cfg.accumulate ? '_acc' : ''}`;
}

function checkMatmul(
  gpu: Gpu,
  args: MatmulArgs,
  product: MatmulProduct,
  batch: number,
  strideA: number,
  strideB: number,
): void {
  const { a, b, c, m, n, k } = args;
  const need = (t: Tensor, elems: number, what: string): void => {
    const have = t.shape.reduce((x, y) => x * y, 1);
    if (have < elems)
      throw new RangeError(`matmul ${product}: ${what} "${t.label}" has ${have} elements, needs ${elems}`);
  };
  need(a, (batch - 1) * strideA + m * k, 'A');
  need(b, (batch - 1) * strideB + k * n, 'B');
  need(c, batch * m * n, 'C');
  if (args.bias) need(args.bias, n, 'bias');
  if (a.dtype !== b.dtype) throw new TypeError(`matmul ${product}: A is ${a.dtype} but B is ${b.dtype}`);
  for (const t of [a, c]) {
    if (t.dtype !== 'f32' && t.dtype !== 'f16') throw new TypeError(`matmul ${product}: ${t.label} is ${t.dtype}`);
    if (t.dtype === 'f16' && !gpu.caps.shaderF16) {
      throw new TypeError(`matmul ${product}: ${t.label} is f16 but this device has no shader-f16`);
    }
  }
  if (args.bias && args.bias.dtype !== c.dtype) throw new TypeError(`matmul ${product}: bias must be ${c.dtype}`);
}
