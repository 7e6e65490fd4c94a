// A tensor on the GPU: a shape, an element type and the buffer that holds it (row-major, dense).
// Tensors own no memory policy: the BufferPool hands out and takes back their buffers.

export type DType = 'f32' | 'f16' | 'u32' | 'i32';

export const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, f16: 2, u32: 4, i32: 4 };

export interface Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly buffer: GPUBuffer;
  readonly label: string;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`bad dimension ${d} in shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

/** Bytes a tensor of this shape needs, rounded up to 4 (storage bindings must be a multiple of 4). */
export function tensorBytes(shape: readonly number[], dtype: DType): number {
  return Math.max(4, Math.ceil((numel(shape) * BYTES_PER_ELEMENT[dtype]) / 4) * 4);
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join('×')}]`;
}
