// The safetensors element types lorabook reads and writes, and their sizes. Why a file of its own: the
// reader and the writer both need it, and safetensors.ts re-exports the writer without an import cycle.

export type Dtype = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8';

export const DTYPE_BYTES: Readonly<Record<Dtype, number>> = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1 };

export const isDtype = (d: unknown): d is Dtype => typeof d === 'string' && Object.hasOwn(DTYPE_BYTES, d);
