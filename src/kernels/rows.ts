// Row selection: out [R, D] = x rows at index [R] (u32); an index of NO_ROW gives a row of zeros.
// Why: the LM head and its loss only matter at positions that have a label. Classification rows label
// 2 or 3 of their 64-128 tokens, so the model gathers those rows before the final norm and the head
// (which cost as much as a layer at this vocabulary size) and scatters the gradient back through the
// inverse index, where every other row is zero.

import type { Step } from '../gpu/step.ts';
import { numel, type Tensor } from '../gpu/tensor.ts';
import { rowGrid } from './grid.ts';

export const NO_ROW = 0xffffffff;
const WG = 64;

export function selectRowsWgsl(): string {
  return /* wgsl */ `
struct Params { rows: u32, d: u32, sourceRows: u32, gridX: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Index: array<u32>;
@group(0) @binding(3) var<storage, read_write> Out: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) l: u32) {
  let r = wg.x + wg.y * p.gridX;
  if (r >= p.rows) { return; }
  let src = Index[r];
  let live = src < p.sourceRows;
  for (var j = l; j < p.d; j += ${WG}u) {
    var v = 0.0;
    if (live) { v = X[src * p.d + j]; }
    Out[r * p.d + j] = v;
  }
}
`;
}

export interface SelectRowsArgs {
  /** [sourceRows, d] f32 */
  x: Tensor;
  /** [rows] u32: a row of x, or NO_ROW */
  index: Tensor;
  /** [rows, d] f32 */
  out: Tensor;
  sourceRows: number;
  rows: number;
  d: number;
}

export async function selectRows(step: Step, a: SelectRowsArgs): Promise<void> {
  const { rows, d, sourceRows } = a;
  if (a.x.dtype !== 'f32' || a.out.dtype !== 'f32') throw new TypeError('selectRows: x and out must be f32');
  if (a.index.dtype !== 'u32' || numel(a.index.shape) < rows)
    throw new TypeError(`selectRows: index must be u32 [${rows}]`);
  if (numel(a.x.shape) < sourceRows * d || numel(a.out.shape) < rows * d)
    throw new RangeError('selectRows: x or out too small');
  if (rows === 0) return;
  const grid = rowGrid(rows, step.gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  await step.dispatch({
    kernel: { label: 'select_rows', code: selectRowsWgsl() },
    params: new Uint32Array([rows, d, sourceRows, grid[0]]),
    buffers: [a.x, a.index, a.out].map((t) => ({ buffer: t.buffer })),
    workgroups: grid,
  });
}

/**
 * The positions whose label is not ignored, and the inverse (position → its row among them, or NO_ROW);
 * null when every label counts or none does (then the head runs on every row as it is).
 */
export function labelledRows(labels: ArrayLike<number>): { rows: Uint32Array; inverse: Uint32Array } | null {
  const kept: number[] = [];
  for (let t = 0; t < labels.length; t++) if (labels[t] >= 0) kept.push(t);
  if (kept.length === 0 || kept.length === labels.length) return null;
  const inverse = new Uint32Array(labels.length).fill(NO_ROW);
  kept.forEach((t, r) => (inverse[t] = r));
  return { rows: Uint32Array.from(kept), inverse };
}
