// Matmul for training: the three products of a linear layer, batched, with optional bias, alpha and
// accumulate-into-output.
//   'nn': C[b] = α·A[b]·B[b]      A [M,K], B [K,N]   (activation · weight in [in,out] layout; dX = dY·W)
//   'nt': C[b] = α·A[b]·B[b]ᵀ     A [M,K], B [N,K]   (forward x·Wᵀ with W [out,in])
//   'tn': C[b] = α·A[b]ᵀ·B[b]     A [K,M], B [K,N]   (weight gradient dW = dYᵀ·X)
//   then C = C + bias[n] (+ C_old with accumulate). Batch strides of 0 broadcast an operand.
// Why this shape: each workgroup computes a BM×BN tile of C and stages BK-deep slices of A and B in
// workgroup memory; each invocation keeps a TM×TN block of C in registers. Shared memory keeps each
// operand in its global layout (so a tile is filled with straight vec4 copies) and the inner loop reads
// vec4s along whichever dimension is contiguous: along k for A [M,K] and B [N,K], along m or n for
// A [K,M] and B [K,N]. Every shared read then feeds 4·TN or 4·TM multiply-adds, and the kernel issues
// a quarter of a scalar kernel's load instructions (what bounds a matmul on CPU-emulated adapters, where
// each load is a loop over the SIMD lanes, and still a cost on GPUs). Rows/columns an invocation owns are strided by the workgroup size so
// neighbouring invocations read neighbouring vec4s (no bank conflicts); k-contiguous tiles are padded
// by one vec4 per row for the same reason. Global loads are vec4 when the contiguous dimension and the
// batch strides are multiples of 4, scalar otherwise; tails are zero-filled on load and masked on
// store. With shader-f16, A and B may be stored as f16 and are widened to f32 on load: accumulation is
// always f32. No subgroup size is assumed.
// Skinny shapes (k ≤ 32, n ≤ 32, or m ≤ 32 for 'tn': LoRA's rank-r products) waste most of such a tile;
// matmul() sends them to src/kernels/matmul-skinny.ts, which sums in the same order (the same bits).

import type { Gpu } from '../gpu/gpu.ts';
import type { Step } from '../gpu/step.ts';
import type { Tensor } from '../gpu/tensor.ts';
import type { MatmulProduct } from '../reference/matmul.ts';
import { skinnyMatmul, skinnyPlan } from './matmul-skinny.ts';

export type { MatmulProduct };

/** Workgroup wgx×wgy invocations, each computing tm×tn outputs; the k loop stages bk at a time. */
export interface MatmulTile {
  wgx: number;
  wgy: number;
  tm: number;
  tn: number;
  bk: number;
}

/**
 * 4×4 outputs per invocation, for CPU-emulated fallback adapters (SwiftShader): their shader compiler takes
 * 15 to 30 s for each unrolled 16×8 variant (eight variants make a LoRA step's first run wait minutes),
 * and 16 accumulators compile several times faster. Every output still sums its k terms in the same order.
 */
const COMPACT_TILE: MatmulTile = { wgx: 8, wgy: 8, tm: 4, tn: 4, bk: 32 };

/**
 * The tile: 8×8 invocations of 16×8 outputs (a 128×64 block of C) and 32-deep k slices: of the register
 * blocks tried on Dawn (see bench/), 16×8 beat 8×8 by 10 to 25% (a quarter fewer loads per multiply-add)
 * and still fits a GPU's registers (128 accumulators). 16-deep slices where the device has less
 * workgroup memory than the 24 to 27 KiB that needs (WebGPU's default limit is 16 KiB).
 */
export function matmulTile(product: MatmulProduct, maxWorkgroupBytes = 32768, compact = false): MatmulTile {
  const tile = compact ? COMPACT_TILE : { wgx: 8, wgy: 8, tm: 16, tn: 8, bk: 32 };
  return sharedBytes(product, tile) <= maxWorkgroupBytes ? tile : { ...tile, bk: 16 };
}

/** Workgroup memory a tile takes: the A and B slices as vec4 rows (k-contiguous rows padded by one). */
export function sharedBytes(product: MatmulProduct, tile: MatmulTile): number {
  const { aAlongK, bAlongK } = layouts(product);
  const bm = tile.wgy * tile.tm;
  const bn = tile.wgx * tile.tn;
  const a = aAlongK ? bm * (tile.bk / 4 + 1) : tile.bk * (bm / 4);
  const b = bAlongK ? bn * (tile.bk / 4 + 1) : tile.bk * (bn / 4);
  return 16 * (a + b);
}

export interface MatmulConfig {
  product: MatmulProduct;
  /** Storage type of A and B; 'f16' requires shader-f16. */
  inputType: 'f32' | 'f16';
  /** Storage type of C. */
  outputType: 'f32' | 'f16';
  bias: boolean;
  accumulate: boolean;
  /** vec4 global loads of A / B and vec4 stores of C (the contiguous dimension is a multiple of 4). */
  vecA: boolean;
  vecB: boolean;
  vecC: boolean;
  tile: MatmulTile;
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

/** Which way each operand's vec4s run in shared memory (its contiguous dimension in global memory). */
function layouts(product: MatmulProduct): { aAlongK: boolean; bAlongK: boolean } {
  return { aAlongK: product !== 'tn', bAlongK: product === 'nt' };
}

export function matmulWgsl(cfg: MatmulConfig): string {
  const { product, tile } = cfg;
  const { wgx, wgy, tm, tn, bk } = tile;
  const { aAlongK, bAlongK } = layouts(product);
  if (bk % 4 !== 0 || (!aAlongK && tm % 4 !== 0) || (!bAlongK && tn % 4 !== 0)) {
    throw new RangeError(`matmul tile ${JSON.stringify(tile)} does not fit product ${product}`);
  }
  const inT = cfg.inputType;
  const outT = cfg.outputType;
  const threads = wgx * wgy;
  const BM = wgy * tm;
  const BN = wgx * tn;
  const BK4 = bk / 4;
  // Shared tiles as vec4 rows: [BM][BK/4 + 1] or [BK][BM/4]; likewise for B.
  const aStride = aAlongK ? BK4 + 1 : BM / 4;
  const bStride = bAlongK ? BK4 + 1 : BN / 4;
  const aSlots = (aAlongK ? BM : bk) * aStride;
  const bSlots = (bAlongK ? BN : bk) * bStride;

  // One vec4 of an operand from global memory: `row`/`col` index the stored matrix (rows × cols, the
  // cols contiguous), `col` is a multiple of 4. Out-of-range elements read as zero.
  const loader = (name: 'A' | 'B', vec: boolean, rows: string, cols: string) => {
    const body = vec
      ? `if (row < ${rows} && col < ${cols}) { v = vec4<f32>(${name}4[(base + row * ${cols} + col) / 4u]); }`
      : `if (row < ${rows}) { ${[0, 1, 2, 3]
          .map((c) => `if (col + ${c}u < ${cols}) { v[${c}] = f32(${name}[base + row * ${cols} + col + ${c}u]); }`)
          .join(' ')} }`;
    return `fn load${name}(base: u32, row: u32, col: u32) -> vec4<f32> {
  var v = vec4<f32>();
  ${body}
  return v;
}`;
  };
  // A is stored [M,K] (rows m) or [K,M]; B is stored [N,K] or [K,N].
  const loaders = [
    loader('A', cfg.vecA, aAlongK ? 'p.m' : 'p.k', aAlongK ? 'p.k' : 'p.m'),
    loader('B', cfg.vecB, bAlongK ? 'p.n' : 'p.k', bAlongK ? 'p.k' : 'p.n'),
  ];
  // Filling a tile: slot e of the shared array ↔ one vec4 of the stored matrix.
  const fill = (name: 'A' | 'B', alongK: boolean, span: number, origin: string) => {
    const stride = name === 'A' ? aStride : bStride;
    const count = alongK ? span * BK4 : bk * (span / 4);
    const at = alongK
      ? `let r = e / ${BK4}u; let q = e % ${BK4}u; ${name}s[r * ${stride}u + q] = load${name}(${name.toLowerCase()}Base, ${origin} + r, k0 + q * 4u);`
      : `let r = e / ${span / 4}u; let q = e % ${span / 4}u; ${name}s[r * ${stride}u + q] = load${name}(${name.toLowerCase()}Base, k0 + r, ${origin} + q * 4u);`;
    return `for (var e = li; e < ${count}u; e += ${threads}u) { ${at} }`;
  };

  // Register loads for one group of 4 k, and the scalar each FMA reads.
  const aLoads: string[] = [];
  const bLoads: string[] = [];
  let aAt: (i: number, kk: number) => string;
  let bAt: (kk: number, j: number) => string;
  if (aAlongK) {
    for (let i = 0; i < tm; i++) aLoads.push(`let a${i} = As[(lid.y + ${i * wgy}u) * ${aStride}u + q];`);
    aAt = (i, kk) => `a${i}[${kk}]`;
  } else {
    for (let kk = 0; kk < 4; kk++) {
      for (let i4 = 0; i4 < tm / 4; i4++) {
        aLoads.push(`let a${kk}_${i4} = As[(q * 4u + ${kk}u) * ${aStride}u + lid.y + ${i4 * wgy}u];`);
      }
    }
    aAt = (i, kk) => `a${kk}_${Math.floor(i / 4)}[${i % 4}]`;
  }
  if (bAlongK) {
    for (let j = 0; j < tn; j++) bLoads.push(`let b${j} = Bs[(lid.x + ${j * wgx}u) * ${bStride}u + q];`);
    bAt = (kk, j) => `b${j}[${kk}]`;
  } else {
    for (let kk = 0; kk < 4; kk++) {
      for (let j4 = 0; j4 < tn / 4; j4++) {
        bLoads.push(`let b${kk}_${j4} = Bs[(q * 4u + ${kk}u) * ${bStride}u + lid.x + ${j4 * wgx}u];`);
      }
    }
    bAt = (kk, j) => `b${kk}_${Math.floor(j / 4)}[${j % 4}]`;
  }
  const fmas: string[] = [];
  for (let kk = 0; kk < 4; kk++) {
    for (let i = 0; i < tm; i++) {
      for (let j = 0; j < tn; j++) fmas.push(`c${i}_${j} = fma(${aAt(i, kk)}, ${bAt(kk, j)}, c${i}_${j});`);
    }
  }
  const decls: string[] = [];
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) decls.push(`var c${i}_${j} = 0.0;`);

  // The epilogue walks the TM rows in a loop (one copy of the loads and stores, which keeps compile
  // time down) and picks row i's accumulators with selects; bias is read once per column.
  const rowOf = aAlongK ? `m0 + lid.y + i * ${wgy}u` : `m0 + (lid.y + (i / 4u) * ${wgy}u) * 4u + i % 4u`;
  const colOf = (j: number) =>
    bAlongK ? `n0 + lid.x + ${j * wgx}u` : `n0 + (lid.x + ${Math.floor(j / 4) * wgx}u) * 4u + ${j % 4}u`;
  const pick = (j: number) => {
    let e = `c0_${j}`;
    for (let i = 1; i < tm; i++) e = `select(${e}, c${i}_${j}, i == ${i}u)`;
    return `let r${j} = ${e};`;
  };
  const vecC = cfg.vecC;
  const epilogue: string[] = [];
  const perRow: string[] = [];
  if (vecC) {
    for (let j4 = 0; j4 < tn / 4; j4++) {
      epilogue.push(`let col${j4} = ${colOf(j4 * 4)};`);
      if (cfg.bias) epilogue.push(`let bias${j4} = vec4<f32>(bias4[min(col${j4}, p.n - 4u) / 4u]);`);
      const rs = [0, 1, 2, 3].map((c) => `r${j4 * 4 + c}`).join(', ');
      perRow.push(`if (col${j4} < p.n) {
        let idx = (cBase + row * p.n + col${j4}) / 4u;
        var v = p.alpha * vec4<f32>(${rs});
        ${cfg.bias ? `v += bias${j4};` : ''}
        ${cfg.accumulate ? 'v += vec4<f32>(C4[idx]);' : ''}
        C4[idx] = vec4<${outT}>(v);
      }`);
    }
  } else {
    for (let j = 0; j < tn; j++) {
      epilogue.push(`let col${j} = ${colOf(j)};`);
      if (cfg.bias) epilogue.push(`let bias${j} = f32(bias[min(col${j}, p.n - 1u)]);`);
      perRow.push(`if (col${j} < p.n) {
        let idx = cBase + row * p.n + col${j};
        var v = p.alpha * r${j};
        ${cfg.bias ? `v += bias${j};` : ''}
        ${cfg.accumulate ? 'v += f32(C[idx]);' : ''}
        C[idx] = ${outT}(v);
      }`);
    }
  }
  const picks: string[] = [];
  for (let j = 0; j < tn; j++) picks.push(pick(j));
  epilogue.push(`for (var i = 0u; i < p.rows; i++) {
    let row = ${rowOf};
    if (row >= p.m) { continue; }
    ${picks.join('\n    ')}
    ${perRow.join('\n    ')}
  }`);
  const f16 = inT === 'f16' || outT === 'f16';
  const operand = (name: 'A' | 'B', vec: boolean, binding: number) =>
    vec
      ? `@group(0) @binding(${binding}) var<storage, read> ${name}4: array<vec4<${inT}>>;`
      : `@group(0) @binding(${binding}) var<storage, read> ${name}: array<${inT}>;`;
  return /* wgsl */ `
${f16 ? 'enable f16;' : ''}
// rows (TM) and quads (BK/4) come from the uniform so the compiler keeps those loops as loops.
struct Params { m: u32, n: u32, k: u32, batch: u32, strideA: u32, strideB: u32, strideC: u32, alpha: f32, rows: u32, quads: u32 }
@group(0) @binding(0) var<uniform> p: Params;
${operand('A', cfg.vecA, 1)}
${operand('B', cfg.vecB, 2)}
${vecC ? `@group(0) @binding(3) var<storage, read_write> C4: array<vec4<${outT}>>;` : `@group(0) @binding(3) var<storage, read_write> C: array<${outT}>;`}
${cfg.bias ? (vecC ? `@group(0) @binding(4) var<storage, read> bias4: array<vec4<${outT}>>;` : `@group(0) @binding(4) var<storage, read> bias: array<${outT}>;`) : ''}

var<workgroup> As: array<vec4<f32>, ${aSlots}>;
var<workgroup> Bs: array<vec4<f32>, ${bSlots}>;
${loaders.join('\n')}

@compute @workgroup_size(${wgx}, ${wgy}, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * ${BM}u;
  let n0 = wg.x * ${BN}u;
  let aBase = wg.z * p.strideA;
  let bBase = wg.z * p.strideB;
  let cBase = wg.z * p.strideC;
  ${decls.join('\n  ')}
  for (var k0 = 0u; k0 < p.k; k0 += ${bk}u) {
    ${fill('A', aAlongK, BM, 'm0')}
    ${fill('B', bAlongK, BN, 'n0')}
    workgroupBarrier();
    for (var q = 0u; q < p.quads; q++) {
      ${aLoads.join('\n      ')}
      ${bLoads.join('\n      ')}
      ${fmas.join('\n      ')}
    }
    workgroupBarrier();
  }
  ${epilogue.join('\n  ')}
}
`;
}

/** Whether matmul() sends skinny shapes to the skinny kernel; benchmarks turn it off to time the tiled one. */
export const matmulRouting = { skinny: true };

/**
 * Records C = α·op(A)·op(B) (+ bias) (+ C) into `step`. Shapes and dtypes are checked. Skinny shapes
 * (k ≤ 32, n ≤ 32, or m ≤ 32 for 'tn': LoRA's rank-r products) go to src/kernels/matmul-skinny.ts, which
 * gives the same bits; a `tile` asks for the tiled kernel whatever the shape.
 */
export async function matmul(step: Step, args: MatmulArgs, product: MatmulProduct, tile?: MatmulTile): Promise<void> {
  const { m, n, k } = args;
  const batch = args.batch ?? 1;
  const strideA = args.strideA ?? m * k;
  const strideB = args.strideB ?? k * n;
  checkMatmul(step.gpu, args, product, batch, strideA, strideB);
  const fallback = step.gpu.caps.adapter.isFallbackAdapter;
  const plan = tile || !matmulRouting.skinny ? null : skinnyPlan(product, m, n, k, fallback);
  if (plan) return skinnyMatmul(step, args, product, strideA, strideB, plan);
  const { a, b, c } = args;
  const cfg = matmulConfig(
    product,
    args,
    strideA,
    strideB,
    tile ??
      matmulTile(product, step.gpu.caps.limits.maxComputeWorkgroupStorageSize, step.gpu.caps.adapter.isFallbackAdapter),
  );
  const params = new ArrayBuffer(48);
  new Uint32Array(params, 0, 7).set([m, n, k, batch, strideA, strideB, m * n]);
  new Float32Array(params, 28, 1)[0] = args.alpha ?? 1;
  new Uint32Array(params, 32, 2).set([cfg.tile.tm, cfg.tile.bk / 4]);
  const buffers = [{ buffer: a.buffer }, { buffer: b.buffer }, { buffer: c.buffer }];
  if (args.bias) buffers.push({ buffer: args.bias.buffer });
  const { wgx, wgy, tm, tn } = cfg.tile;
  await step.dispatch({
    kernel: { label: matmulLabel(cfg), code: matmulWgsl(cfg) },
    params,
    buffers,
    workgroups: [Math.ceil(n / (wgx * tn)), Math.ceil(m / (wgy * tm)), batch],
  });
}

/** The kernel variant for one call: vec4 paths where the layout allows, the tile for the product. */
export function matmulConfig(
  product: MatmulProduct,
  args: MatmulArgs,
  strideA: number,
  strideB: number,
  tile = matmulTile(product),
): MatmulConfig {
  const { m, n, k } = args;
  const { aAlongK, bAlongK } = layouts(product);
  const aligned = (...xs: number[]) => xs.every((x) => x % 4 === 0);
  return {
    product,
    inputType: args.a.dtype === 'f16' ? 'f16' : 'f32',
    outputType: args.c.dtype === 'f16' ? 'f16' : 'f32',
    bias: args.bias !== undefined,
    accumulate: args.accumulate ?? false,
    vecA: aligned(aAlongK ? k : m, strideA),
    vecB: aligned(bAlongK ? k : n, strideB),
    vecC: aligned(n) && !bAlongK,
    tile,
  };
}

export function matmulLabel(cfg: MatmulConfig): string {
  const t = cfg.tile;
  const vec = `${cfg.vecA ? 'v' : 's'}${cfg.vecB ? 'v' : 's'}${cfg.vecC ? 'v' : 's'}`;
  return (
    `matmul_${cfg.product}_${cfg.inputType}_${cfg.outputType}${cfg.bias ? '_bias' : ''}${cfg.accumulate ? '_acc' : ''}` +
    `_${vec}_${t.wgx}x${t.wgy}_${t.tm}x${t.tn}x${t.bk}`
  );
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
