// Matmul over a frozen base weight W [out, in] that is decoded while the tile is loaded, never stored
// dequantized: 4-bit NF4/FP4 (bitsandbytes layout, absmax plain or double-quantized) or plain f16.
//   'nt': Y [M, out] = α·X [M, in] · Wᵀ (+ bias) (+ Y)     (the forward of a linear layer)
//   'nn': Y [M, in]  = α·X [M, out] · W (+ Y)              (the input gradient dX = dY·W)
// Why: QLoRA's base never gets a gradient, so only these two products are needed, and decoding in the
// kernel keeps the 4-bit codes (0.5 byte + 0.127 bit per weight) as the only copy of W on the GPU.
// The tile structure is the f32 matmul's (src/kernels/matmul.ts): BM×BN of Y per workgroup, BK-deep slices
// of X and of the decoded W in workgroup memory, TM×TN accumulators per invocation, f32 accumulation.
// Decoding follows bitsandbytes: the tensor is flattened row-major into blocks of `blocksize` values
// (blocks may straddle rows: `in` need not be a multiple of 64; an odd count has one zero pad nibble);
// element e has code nibble (byte e/2, high nibble when e is even) and value level[code] · absmax[e/bs]
// in f32; a double-quantized absmax is code8[q[b]] · absmax2[b/256] + offset.
// compute 'f16' keeps both tiles as f16 in workgroup memory (X rounded to f16; W decoded in f32 and then
// rounded, as bitsandbytes with compute dtype float16) and multiplies in f32 (an f16·f16 product is exact
// in f32), so it is the f32 matmul of the f16-rounded operands; it needs shader-f16.

import type { Gpu } from '../gpu/gpu.ts';
import type { Step } from '../gpu/step.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { FOUR_BIT_CODE, type FourBitType } from '../quant/codes.ts';
import { blockCount, type Quant4 } from '../quant/blockwise4.ts';
import { matmulTile, type MatmulTile } from './matmul.ts';

export type FrozenFormat = FourBitType | 'f16';
export type FrozenProduct = 'nt' | 'nn';

/** A frozen weight [rows = out, cols = in] on the GPU. */
export interface FrozenWeight {
  format: FrozenFormat;
  rows: number;
  cols: number;
  /** 4-bit: the packed codes as u32 words (packed byte i in bits 8·(i%4) of word i/4); f16: the values. */
  data: Tensor;
  /** 4-bit: f32 [16 levels, then absmax (plain) or the 256-entry nested code then absmax2]; f16: null. */
  tables: Tensor | null;
  /** Double-quantized absmax: the 8-bit codes packed as u32 words; null when absmax is plain. */
  nestedCodes: Tensor | null;
  /** Added to every decoded nested absmax. */
  offset: number;
  blocksize: number;
  nestedBlocksize: number;
}

/** The 4-bit fields of a quantized tensor, however they were produced (quantize4bit, the Hub converter). */
export type Quant4Parts = Pick<Quant4, 'type' | 'shape' | 'blocksize' | 'packed' | 'absmax' | 'nested'>;

/** Bytes padded to a multiple of 4 and written into a fresh pool buffer as a u32 tensor. */
function uploadWords(gpu: Gpu, bytes: Uint8Array, label: string): Tensor {
  const words = Math.max(1, Math.ceil(bytes.length / 4));
  const t = gpu.empty([words], 'u32', label);
  const padded = new Uint8Array(words * 4);
  padded.set(bytes);
  gpu.device.queue.writeBuffer(t.buffer, 0, padded);
  return t;
}

/** Uploads a 4-bit tensor of shape [out, in] for the fused kernels (codes stay 4-bit on the GPU). */
export function uploadQuant4(gpu: Gpu, q: Quant4Parts, label: string): FrozenWeight {
  if (q.shape.length !== 2) throw new RangeError(`${label}: a 4-bit base weight must be 2-D, got [${q.shape}]`);
  const [rows, cols] = q.shape;
  const n = rows * cols;
  if (q.packed.length !== Math.ceil(n / 2)) {
    throw new RangeError(`${label}: ${q.packed.length} packed bytes for ${n} values`);
  }
  if (q.blocksize % 4 !== 0) throw new RangeError(`${label}: blocksize ${q.blocksize} is not a multiple of 4`);
  const blocks = blockCount(n, q.blocksize);
  const levels = FOUR_BIT_CODE[q.type];
  let tables: Float32Array;
  let nestedCodes: Tensor | null = null;
  let offset = 0;
  let nestedBlocksize = 1;
  if (q.absmax) {
    if (q.absmax.length !== blocks) throw new RangeError(`${label}: ${q.absmax.length} absmax for ${blocks} blocks`);
    tables = new Float32Array(16 + blocks);
    tables.set(q.absmax, 16);
  } else if (q.nested) {
    const nq = q.nested;
    if (nq.q.length !== blocks || nq.code.length !== 256) {
      throw new RangeError(`${label}: nested absmax has ${nq.q.length} codes for ${blocks} blocks`);
    }
    tables = new Float32Array(16 + 256 + nq.absmax2.length);
    tables.set(nq.code, 16);
    tables.set(nq.absmax2, 16 + 256);
    nestedCodes = uploadWords(gpu, nq.q, `${label} absmax codes`);
    offset = nq.offset;
    nestedBlocksize = nq.blocksize;
  } else throw new RangeError(`${label}: quantized tensor has neither absmax nor nested absmax`);
  tables.set(levels, 0);
  return {
    format: q.type,
    rows,
    cols,
    data: uploadWords(gpu, q.packed, `${label} codes`),
    tables: gpu.upload(tables, [tables.length], 'f32', `${label} scales`),
    nestedCodes,
    offset,
    blocksize: q.blocksize,
    nestedBlocksize,
  };
}

/** An f16 base weight [out, in] from f32 values (rounded to nearest even) or from f16 bits. */
export function uploadF16Weight(
  gpu: Gpu,
  values: ArrayLike<number> | { f16Bits: Uint16Array },
  rows: number,
  cols: number,
  label: string,
): FrozenWeight {
  if (!gpu.caps.shaderF16)
    throw new TypeError(`${label}: an f16 base weight needs shader-f16, which this device lacks`);
  let data: Tensor;
  if ('f16Bits' in values) {
    const bits = values.f16Bits;
    if (bits.length !== rows * cols) throw new RangeError(`${label}: ${bits.length} values for [${rows}, ${cols}]`);
    data = gpu.empty([rows, cols], 'f16', label);
    const padded = new Uint16Array(Math.ceil(bits.length / 2) * 2);
    padded.set(bits);
    gpu.device.queue.writeBuffer(data.buffer, 0, padded);
  } else data = gpu.upload(values, [rows, cols], 'f16', label);
  return {
    format: 'f16',
    rows,
    cols,
    data,
    tables: null,
    nestedCodes: null,
    offset: 0,
    blocksize: 1,
    nestedBlocksize: 1,
  };
}

export function releaseFrozen(gpu: Gpu, w: FrozenWeight): void {
  gpu.release(w.data, ...(w.tables ? [w.tables] : []), ...(w.nestedCodes ? [w.nestedCodes] : []));
}

/** GPU bytes a frozen weight takes (padded as stored). */
export function frozenBytes(w: FrozenWeight): number {
  return [w.data, w.tables, w.nestedCodes].reduce((s, t) => s + (t ? t.buffer.size : 0), 0);
}

export interface FrozenMatmulConfig {
  product: FrozenProduct;
  /** '4bit' for NF4 and FP4 alike (the levels come from the tables buffer). */
  weight: '4bit' | 'f16';
  nested: boolean;
  blocksize: number;
  nestedBlocksize: number;
  compute: 'f32' | 'f16';
  /** vec4 loads of X (its row length is a multiple of 4) and of W (in is a multiple of 4). */
  vecA: boolean;
  vecB: boolean;
  bias: boolean;
  accumulate: boolean;
  tile: MatmulTile;
}

export interface FrozenMatmulArgs {
  /** [m, in] for 'nt', [m, out] for 'nn'; f32. */
  x: Tensor;
  w: FrozenWeight;
  /** [m, out] for 'nt', [m, in] for 'nn'; f32. */
  y: Tensor;
  m: number;
  alpha?: number;
  /** [out], 'nt' only. */
  bias?: Tensor;
  accumulate?: boolean;
  /** 'f16' needs shader-f16. Default 'f32'. */
  compute?: 'f32' | 'f16';
}

export function frozenMatmulWgsl(cfg: FrozenMatmulConfig): string {
  const { product, tile } = cfg;
  const { wgx, wgy, tm, tn, bk } = tile;
  const bAlongK = product === 'nt';
  if (bk % 4 !== 0 || tn % 4 !== 0) throw new RangeError(`tile ${JSON.stringify(tile)} does not fit`);
  const S = cfg.compute; // shared-memory element type
  const threads = wgx * wgy;
  const BM = wgy * tm;
  const BN = wgx * tn;
  const BK4 = bk / 4;
  const aStride = BK4 + 1;
  const bStride = bAlongK ? BK4 + 1 : BN / 4;
  const aSlots = BM * aStride;
  const bSlots = (bAlongK ? BN : bk) * bStride;

  const loadA = cfg.vecA
    ? `if (row < p.m && col < p.k) { v = A4[(row * p.k + col) / 4u]; }`
    : `if (row < p.m) { ${[0, 1, 2, 3].map((c) => `if (col + ${c}u < p.k) { v[${c}] = A[row * p.k + col + ${c}u]; }`).join(' ')} }`;

  // W element access: decode functions for the 4-bit format, direct reads for f16.
  let wDecls: string;
  let wFns: string;
  if (cfg.weight === '4bit') {
    const absmax = cfg.nested
      ? `let q = (QN[b >> 2u] >> ((b & 3u) * 8u)) & 255u;
  return T[16u + q] * T[272u + b / ${cfg.nestedBlocksize}u] + p.offset;`
      : `return T[16u + b];`;
    wDecls = `@group(0) @binding(2) var<storage, read> W: array<u32>;
@group(0) @binding(3) var<storage, read> T: array<f32>;
${cfg.nested ? '@group(0) @binding(4) var<storage, read> QN: array<u32>;' : ''}`;
    wFns = `fn absmaxOf(b: u32) -> f32 {
  ${absmax}
}
// Four values from flat index e (a multiple of 4, so one block and one 16-bit half of a word).
fn decode4(e: u32) -> vec4<f32> {
  let h = (W[e >> 3u] >> (((e >> 1u) & 2u) * 8u)) & 0xffffu;
  let s = absmaxOf(e / ${cfg.blocksize}u);
  return vec4<f32>(T[(h >> 4u) & 15u], T[h & 15u], T[(h >> 12u) & 15u], T[(h >> 8u) & 15u]) * s;
}
fn decode1(e: u32) -> f32 {
  let byte = (W[e >> 3u] >> (((e >> 1u) & 3u) * 8u)) & 255u;
  let c = select(byte >> 4u, byte & 15u, (e & 1u) == 1u);
  return T[c] * absmaxOf(e / ${cfg.blocksize}u);
}`;
  } else {
    wDecls = cfg.vecB
      ? `@group(0) @binding(2) var<storage, read> W4: array<vec4<f16>>;`
      : `@group(0) @binding(2) var<storage, read> W: array<f16>;`;
    wFns = cfg.vecB
      ? `fn decode4(e: u32) -> vec4<f32> { return vec4<f32>(W4[e / 4u]); }`
      : `fn decode1(e: u32) -> f32 { return f32(W[e]); }`;
  }
  const loadB = cfg.vecB
    ? `if (row < p.rows && col < p.cols) { v = decode4(row * p.cols + col); }`
    : `if (row < p.rows) { ${[0, 1, 2, 3].map((c) => `if (col + ${c}u < p.cols) { v[${c}] = decode1(row * p.cols + col + ${c}u); }`).join(' ')} }`;

  const fillA = `for (var e = li; e < ${BM * BK4}u; e += ${threads}u) {
      let r = e / ${BK4}u; let q = e % ${BK4}u;
      As[r * ${aStride}u + q] = vec4<${S}>(loadA(m0 + r, k0 + q * 4u));
    }`;
  // W as B: 'nt' reads B[n][k] = W[n][k] (rows n); 'nn' reads B[k][n] = W[k][n] (rows k).
  const fillB = bAlongK
    ? `for (var e = li; e < ${BN * BK4}u; e += ${threads}u) {
      let r = e / ${BK4}u; let q = e % ${BK4}u;
      Bs[r * ${bStride}u + q] = vec4<${S}>(loadB(n0 + r, k0 + q * 4u));
    }`
    : `for (var e = li; e < ${bk * (BN / 4)}u; e += ${threads}u) {
      let r = e / ${BN / 4}u; let q = e % ${BN / 4}u;
      Bs[r * ${bStride}u + q] = vec4<${S}>(loadB(k0 + r, n0 + q * 4u));
    }`;

  const aLoads: string[] = [];
  for (let i = 0; i < tm; i++) aLoads.push(`let a${i} = vec4<f32>(As[(lid.y + ${i * wgy}u) * ${aStride}u + q]);`);
  const bLoads: string[] = [];
  let bAt: (kk: number, j: number) => string;
  if (bAlongK) {
    for (let j = 0; j < tn; j++) bLoads.push(`let b${j} = vec4<f32>(Bs[(lid.x + ${j * wgx}u) * ${bStride}u + q]);`);
    bAt = (kk, j) => `b${j}[${kk}]`;
  } else {
    for (let kk = 0; kk < 4; kk++) {
      for (let j4 = 0; j4 < tn / 4; j4++) {
        bLoads.push(`let b${kk}_${j4} = vec4<f32>(Bs[(q * 4u + ${kk}u) * ${bStride}u + lid.x + ${j4 * wgx}u]);`);
      }
    }
    bAt = (kk, j) => `b${kk}_${Math.floor(j / 4)}[${j % 4}]`;
  }
  const fmas: string[] = [];
  for (let kk = 0; kk < 4; kk++) {
    for (let i = 0; i < tm; i++) {
      for (let j = 0; j < tn; j++) fmas.push(`c${i}_${j} = fma(a${i}[${kk}], ${bAt(kk, j)}, c${i}_${j});`);
    }
  }
  const decls: string[] = [];
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn; j++) decls.push(`var c${i}_${j} = 0.0;`);

  // Epilogue: a loop over the TM rows picking row i's accumulators with selects (one copy of the stores).
  const colOf = (j: number) =>
    bAlongK ? `n0 + lid.x + ${j * wgx}u` : `n0 + (lid.x + ${Math.floor(j / 4) * wgx}u) * 4u + ${j % 4}u`;
  const stores: string[] = [];
  const cols: string[] = [];
  for (let j = 0; j < tn; j++) {
    cols.push(`let col${j} = ${colOf(j)};`);
    if (cfg.bias) cols.push(`let bias${j} = bias[min(col${j}, p.n - 1u)];`);
    let pick = `c0_${j}`;
    for (let i = 1; i < tm; i++) pick = `select(${pick}, c${i}_${j}, i == ${i}u)`;
    stores.push(`if (col${j} < p.n) {
      let idx = row * p.n + col${j};
      var v = p.alpha * ${pick};
      ${cfg.bias ? `v += bias${j};` : ''}
      ${cfg.accumulate ? 'v += C[idx];' : ''}
      C[idx] = v;
    }`);
  }
  const n = cfg.weight === '4bit' && cfg.nested ? 5 : cfg.weight === '4bit' ? 4 : 3;
  return /* wgsl */ `
${S === 'f16' || cfg.weight === 'f16' ? 'enable f16;' : ''}
struct Params { m: u32, n: u32, k: u32, rows: u32, cols: u32, alpha: f32, offset: f32, tmRows: u32, quads: u32 }
@group(0) @binding(0) var<uniform> p: Params;
${cfg.vecA ? '@group(0) @binding(1) var<storage, read> A4: array<vec4<f32>>;' : '@group(0) @binding(1) var<storage, read> A: array<f32>;'}
${wDecls}
@group(0) @binding(${n}) var<storage, read_write> C: array<f32>;
${cfg.bias ? `@group(0) @binding(${n + 1}) var<storage, read> bias: array<f32>;` : ''}

var<workgroup> As: array<vec4<${S}>, ${aSlots}>;
var<workgroup> Bs: array<vec4<${S}>, ${bSlots}>;

fn loadA(row: u32, col: u32) -> vec4<f32> {
  var v = vec4<f32>();
  ${loadA}
  return v;
}
${wFns}
fn loadB(row: u32, col: u32) -> vec4<f32> {
  var v = vec4<f32>();
  ${loadB}
  return v;
}

@compute @workgroup_size(${wgx}, ${wgy}, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let m0 = wg.y * ${BM}u;
  let n0 = wg.x * ${BN}u;
  ${decls.join('\n  ')}
  for (var k0 = 0u; k0 < p.k; k0 += ${bk}u) {
    ${fillA}
    ${fillB}
    workgroupBarrier();
    for (var q = 0u; q < p.quads; q++) {
      ${aLoads.join('\n      ')}
      ${bLoads.join('\n      ')}
      ${fmas.join('\n      ')}
    }
    workgroupBarrier();
  }
  ${cols.join('\n  ')}
  for (var i = 0u; i < p.tmRows; i++) {
    let row = m0 + lid.y + i * ${wgy}u;
    if (row >= p.m) { continue; }
    ${stores.join('\n    ')}
  }
}
`;
}

/** The f32 matmul's tile for the same product (f16 tiles take half the workgroup memory; compact on fallback adapters). */
function frozenTile(
  product: FrozenProduct,
  compute: 'f32' | 'f16',
  maxWorkgroupBytes: number,
  compact: boolean,
): MatmulTile {
  return matmulTile(product, compute === 'f16' ? 2 * maxWorkgroupBytes : maxWorkgroupBytes, compact);
}

export function frozenMatmulConfig(
  args: FrozenMatmulArgs,
  product: FrozenProduct,
  maxWorkgroupBytes = 32768,
  tile?: MatmulTile,
  compact = false,
): FrozenMatmulConfig {
  const { w } = args;
  const compute = args.compute ?? 'f32';
  const k = product === 'nt' ? w.cols : w.rows;
  const cfg: FrozenMatmulConfig = {
    product,
    weight: w.format === 'f16' ? 'f16' : '4bit',
    nested: w.nestedCodes !== null,
    blocksize: w.blocksize,
    nestedBlocksize: w.nestedBlocksize,
    compute,
    vecA: k % 4 === 0,
    vecB: w.cols % 4 === 0,
    bias: args.bias !== undefined,
    accumulate: args.accumulate ?? false,
    tile: tile ?? frozenTile(product, compute, maxWorkgroupBytes, compact),
  };
  return cfg;
}

export function frozenMatmulLabel(cfg: FrozenMatmulConfig): string {
  const t = cfg.tile;
  const w = cfg.weight === 'f16' ? 'f16w' : `q4b${cfg.blocksize}${cfg.nested ? `n${cfg.nestedBlocksize}` : ''}`;
  return (
    `frozen_matmul_${cfg.product}_${w}_${cfg.compute}${cfg.bias ? '_bias' : ''}${cfg.accumulate ? '_acc' : ''}` +
    `_${cfg.vecA ? 'v' : 's'}${cfg.vecB ? 'v' : 's'}_${t.wgx}x${t.wgy}_${t.tm}x${t.tn}x${t.bk}`
  );
}

/**
 * Records Y = α·X·Wᵀ (+ bias) (+ Y) ('nt') or Y = α·X·W (+ Y) ('nn') with W decoded in the kernel. `tile`
 * overrides the f32 matmul's tile (tests use a small one: less WGSL to compile on a CPU adapter).
 */
export async function frozenMatmul(
  step: Step,
  args: FrozenMatmulArgs,
  product: FrozenProduct,
  tile?: MatmulTile,
): Promise<void> {
  const { x, w, y, m } = args;
  const gpu = step.gpu;
  const [n, k] = product === 'nt' ? [w.rows, w.cols] : [w.cols, w.rows];
  const have = (t: Tensor) => t.shape.reduce((a, b) => a * b, 1);
  if (x.dtype !== 'f32' || y.dtype !== 'f32') throw new TypeError(`frozen matmul ${product}: X and Y must be f32`);
  if (have(x) < m * k) throw new RangeError(`frozen matmul ${product}: X "${x.label}" has ${have(x)} < ${m}·${k}`);
  if (have(y) < m * n) throw new RangeError(`frozen matmul ${product}: Y "${y.label}" has ${have(y)} < ${m}·${n}`);
  if (args.bias && (product !== 'nt' || have(args.bias) < n)) {
    throw new RangeError(`frozen matmul ${product}: bias needs 'nt' and ${n} values`);
  }
  const compute = args.compute ?? 'f32';
  if ((compute === 'f16' || w.format === 'f16') && !gpu.caps.shaderF16) {
    throw new TypeError(`frozen matmul ${product}: f16 needs shader-f16, which this device lacks`);
  }
  const cfg = frozenMatmulConfig(
    args,
    product,
    gpu.caps.limits.maxComputeWorkgroupStorageSize,
    tile,
    gpu.caps.adapter.isFallbackAdapter,
  );
  const params = new ArrayBuffer(48);
  new Uint32Array(params, 0, 5).set([m, n, k, w.rows, w.cols]);
  new Float32Array(params, 20, 2).set([args.alpha ?? 1, w.offset]);
  new Uint32Array(params, 28, 2).set([cfg.tile.tm, cfg.tile.bk / 4]);
  const buffers = [{ buffer: x.buffer }, { buffer: w.data.buffer }];
  if (w.tables) buffers.push({ buffer: w.tables.buffer });
  if (w.nestedCodes) buffers.push({ buffer: w.nestedCodes.buffer });
  buffers.push({ buffer: y.buffer });
  if (args.bias) buffers.push({ buffer: args.bias.buffer });
  const { wgx, wgy, tm, tn } = cfg.tile;
  await step.dispatch({
    kernel: { label: frozenMatmulLabel(cfg), code: frozenMatmulWgsl(cfg) },
    params,
    buffers,
    workgroups: [Math.ceil(n / (wgx * tn)), Math.ceil(m / (wgy * tm))],
  });
}
