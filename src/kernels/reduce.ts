// Row reductions: out[r] = Σ_i x[r,i] (or Σ_i x[r,i]²) for x [rows, len] → out [rows] f32; a whole
// tensor is rows = 1. Why this way: no float atomics, so the result is the same bits on every run of a
// device. Each workgroup sums one CHUNK of a row: invocation t adds elements t, t+256, ... in order,
// then a fixed tree in workgroup memory combines the 256 partials. Rows longer than one chunk write
// per-chunk partials that further passes reduce the same way, so any length works (0 gives 0).

import type { Step } from '../gpu/step.ts';
import { numel, type Tensor } from '../gpu/tensor.ts';
import { treeSumWgsl } from './workgroup-tree.ts';

const WG = 256;
const ITEMS = 16;
const CHUNK = WG * ITEMS; // elements of a row one workgroup sums

export function reduceWgsl(squares: boolean, inType: 'f32' | 'f16'): string {
  return /* wgsl */ `${inType === 'f16' ? 'enable f16;' : ''}
struct Params { len: u32, chunks: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<${inType}>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;
var<workgroup> part: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = wg.y;
  let chunk = wg.x;
  let start = chunk * ${CHUNK}u;
  let end = min(start + ${CHUNK}u, p.len);
  var acc = 0.0;
  for (var i = start + t; i < end; i += ${WG}u) {
    let v = f32(X[row * p.len + i]);
    acc += ${squares ? 'v * v' : 'v'};
  }
  part[t] = acc;
  ${treeSumWgsl(WG, 'part')}
  if (t == 0u) { Out[row * p.chunks + chunk] = part[0]; }
}
`;
}

/**
 * Records out[r] = Σ x[r,:] (squares: Σ x[r,:]²). `x` is read as [rows, len]; `out` has ≥ rows f32.
 * Intermediate partials come from the pool and go back to it once the step is submitted.
 */
export async function reduceRows(
  step: Step,
  x: Tensor,
  rows: number,
  out: Tensor,
  opts: { squares?: boolean } = {},
): Promise<void> {
  const len = rows === 0 ? 0 : numel(x.shape) / rows;
  if (!Number.isInteger(len)) throw new RangeError(`reduce: ${x.label} does not split into ${rows} rows`);
  if (out.dtype !== 'f32' || numel(out.shape) < rows)
    throw new RangeError(`reduce: ${out.label} must hold ${rows} f32`);
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new TypeError(`reduce: ${x.label} is ${x.dtype}`);
  if (rows > step.gpu.caps.limits.maxComputeWorkgroupsPerDimension) throw new RangeError(`reduce: too many rows`);
  if (rows === 0) return;
  const gpu = step.gpu;
  let input = x;
  let inLen = len;
  let squares = opts.squares ?? false;
  const temps: Tensor[] = [];
  for (;;) {
    const chunks = Math.max(1, Math.ceil(inLen / CHUNK));
    const target = chunks === 1 ? out : gpu.empty([rows, chunks], 'f32', 'reduce partials');
    if (target !== out) temps.push(target);
    const inType = input.dtype === 'f16' ? 'f16' : 'f32';
    await step.dispatch({
      kernel: { label: `reduce_${squares ? 'sumsq' : 'sum'}_${inType}`, code: reduceWgsl(squares, inType) },
      params: new Uint32Array([inLen, chunks]),
      buffers: [{ buffer: input.buffer }, { buffer: target.buffer }],
      workgroups: [chunks, rows],
    });
    if (chunks === 1) break;
    input = target;
    inLen = chunks;
    squares = false; // later passes add partial sums
  }
  if (temps.length > 0) step.onDone(() => gpu.release(...temps));
}

const COL_WG = 64;
const COL_ROWS = 64; // rows one invocation sums in the first pass

export function reduceColumnsWgsl(accumulate: boolean): string {
  return /* wgsl */ `
struct Params { rows: u32, cols: u32, blockRows: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;
@compute @workgroup_size(${COL_WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let col = g.x;
  if (col >= p.cols) { return; }
  let block = wg.y;
  let r0 = block * p.blockRows;
  let r1 = min(r0 + p.blockRows, p.rows);
  var acc = 0.0;
  for (var r = r0; r < r1; r++) { acc += X[r * p.cols + col]; }
  let o = block * p.cols + col;
  ${accumulate ? 'Out[o] += acc;' : 'Out[o] = acc;'}
}
`;
}

/**
 * Records out[c] = Σ_r x[r,c] (+ out[c] with accumulate) for x [rows, cols] f32: the bias and norm-weight
 * gradients. Fixed order, no atomics: blocks of 64 rows are summed into partials, then the partials in
 * block order.
 */
export async function reduceColumns(
  step: Step,
  x: Tensor,
  rows: number,
  cols: number,
  out: Tensor,
  opts: { accumulate?: boolean } = {},
): Promise<void> {
  if (x.dtype !== 'f32' || out.dtype !== 'f32') throw new TypeError('reduceColumns: f32 tensors only');
  if (numel(x.shape) < rows * cols) throw new RangeError(`reduceColumns: ${x.label} is smaller than ${rows}×${cols}`);
  if (numel(out.shape) < cols) throw new RangeError(`reduceColumns: ${out.label} must hold ${cols} values`);
  const gpu = step.gpu;
  const blocks = Math.max(1, Math.ceil(rows / COL_ROWS));
  const pass = async (input: Tensor, r: number, blockRows: number, target: Tensor, accumulate: boolean) => {
    await step.dispatch({
      kernel: { label: `reduce_columns${accumulate ? '_acc' : ''}`, code: reduceColumnsWgsl(accumulate) },
      params: new Uint32Array([r, cols, blockRows, 0]),
      buffers: [{ buffer: input.buffer }, { buffer: target.buffer }],
      workgroups: [Math.ceil(cols / COL_WG), Math.ceil(r / blockRows)],
    });
  };
  if (blocks === 1) {
    await pass(x, rows, COL_ROWS, out, opts.accumulate ?? false);
    return;
  }
  const partial = gpu.empty([blocks, cols], 'f32', 'column partials');
  await pass(x, rows, COL_ROWS, partial, false);
  await pass(partial, blocks, blocks, out, opts.accumulate ?? false);
  step.onDone(() => gpu.release(partial));
}
