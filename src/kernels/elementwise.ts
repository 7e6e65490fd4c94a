// Elementwise ops over flat tensors of any length: c = a + b, c = a ⊙ b, c = s·a, and casts between f32
// and f16 storage. Shapes: a, b, c all [n] (any shape, same element count); s a scalar.
// Why: the engine's glue (residual adds, gating, gradient scaling, f16 weight copies) needs these on
// the GPU so tensors never round-trip through the CPU. Math is f32 whatever the storage type. One
// invocation per element; the grid is 2-D because a dimension holds at most 65,535 workgroups.

import type { Step } from '../gpu/step.ts';
import { numel, type Tensor } from '../gpu/tensor.ts';
import { grid1d } from './grid.ts';

const WG = 256;

export type BinaryOp = 'add' | 'mul';

function floatType(t: Tensor): 'f32' | 'f16' {
  if (t.dtype !== 'f32' && t.dtype !== 'f16') throw new TypeError(`${t.label} is ${t.dtype}, not a float tensor`);
  return t.dtype;
}

function header(types: string[]): string {
  return types.includes('f16') ? 'enable f16;' : '';
}

// In place (c is a), A is bound read_write and written: WebGPU forbids binding one buffer both as
// read-only and writable storage in a dispatch.
export function binaryWgsl(op: BinaryOp, ta: string, tb: string, tc: string, inPlace: boolean): string {
  const expr = op === 'add' ? 'f32(A[i]) + f32(B[i])' : 'f32(A[i]) * f32(B[i])';
  return /* wgsl */ `${header([ta, tb, tc])}
struct Params { n: u32, width: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, ${inPlace ? 'read_write' : 'read'}> A: array<${ta}>;
@group(0) @binding(2) var<storage, read> B: array<${tb}>;
${inPlace ? '' : `@group(0) @binding(3) var<storage, read_write> C: array<${tc}>;`}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.x + g.y * p.width;
  if (i >= p.n) { return; }
  ${inPlace ? 'A' : 'C'}[i] = ${tc}(${expr});
}
`;
}

export function scaleWgsl(ta: string, tc: string, inPlace: boolean): string {
  return /* wgsl */ `${header([ta, tc])}
struct Params { n: u32, width: u32, s: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, ${inPlace ? 'read_write' : 'read'}> A: array<${ta}>;
${inPlace ? '' : `@group(0) @binding(2) var<storage, read_write> C: array<${tc}>;`}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.x + g.y * p.width;
  if (i >= p.n) { return; }
  ${inPlace ? 'A' : 'C'}[i] = ${tc}(p.s * f32(A[i]));
}
`;
}

function sameSize(op: string, ...ts: Tensor[]): number {
  const n = numel(ts[0].shape);
  for (const t of ts) {
    if (numel(t.shape) !== n) throw new RangeError(`${op}: ${t.label} has ${numel(t.shape)} elements, expected ${n}`);
  }
  return n;
}

/** c = a + b or c = a ⊙ b. c may be a itself (in place) but not b. */
export async function binary(step: Step, op: BinaryOp, a: Tensor, b: Tensor, c: Tensor): Promise<void> {
  const n = sameSize(op, a, b, c);
  const [ta, tb, tc] = [floatType(a), floatType(b), floatType(c)];
  if (c.buffer === b.buffer && c.buffer !== a.buffer) throw new RangeError(`${op}: write into the first operand`);
  const inPlace = c.buffer === a.buffer;
  if (inPlace && ta !== tc) throw new TypeError(`${op}: in place needs one dtype`);
  const { workgroups, width } = grid1d(n, step.gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  await step.dispatch({
    kernel: { label: `${op}_${ta}_${tb}_${tc}${inPlace ? '_inplace' : ''}`, code: binaryWgsl(op, ta, tb, tc, inPlace) },
    params: new Uint32Array([n, width]),
    buffers: [{ buffer: a.buffer }, { buffer: b.buffer }, ...(inPlace ? [] : [{ buffer: c.buffer }])],
    workgroups,
  });
}

export const add = (step: Step, a: Tensor, b: Tensor, c: Tensor): Promise<void> => binary(step, 'add', a, b, c);
export const mul = (step: Step, a: Tensor, b: Tensor, c: Tensor): Promise<void> => binary(step, 'mul', a, b, c);

/**
 * c = s·a (c may be a). With c of another float type than a, this is also the cast (s = 1): f32 → f16 rounds to
 * nearest even, f16 → f32 is exact.
 */
export async function scale(step: Step, a: Tensor, s: number, c: Tensor): Promise<void> {
  const n = sameSize('scale', a, c);
  const [ta, tc] = [floatType(a), floatType(c)];
  const inPlace = c.buffer === a.buffer;
  if (inPlace && ta !== tc) throw new TypeError('scale: in place needs one dtype');
  const { workgroups, width } = grid1d(n, step.gpu.caps.limits.maxComputeWorkgroupsPerDimension);
  const params = new ArrayBuffer(16);
  new Uint32Array(params, 0, 2).set([n, width]);
  new Float32Array(params, 8, 1)[0] = s;
  await step.dispatch({
    kernel: { label: `scale_${ta}_${tc}${inPlace ? '_inplace' : ''}`, code: scaleWgsl(ta, tc, inPlace) },
    params,
    buffers: [{ buffer: a.buffer }, ...(inPlace ? [] : [{ buffer: c.buffer }])],
    workgroups,
  });
}

/** Converts between f32 and f16 storage (c's dtype says which way). */
export function cast(step: Step, a: Tensor, c: Tensor): Promise<void> {
  return scale(step, a, 1, c);
}
