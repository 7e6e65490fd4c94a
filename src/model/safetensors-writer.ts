// Writer of the safetensors format, byte-compatible with the reference implementation
// (huggingface/safetensors `serialize`): tensors ordered by dtype alignment (largest first, in the
// reference's dtype order) then by name, so every tensor's data stays aligned to its element size;
// "__metadata__" first; compact JSON with dtype, shape, data_offsets in that order; the header padded with
// spaces to a multiple of 8 bytes. Why match it: exported adapters should diff clean against PEFT's own.

import { toF16Array } from '../gpu/f16.ts';
import { toBf16Array } from './bf16.ts';
import { DTYPE_BYTES, type Dtype } from './safetensors-dtype.ts';
import { SafetensorsError } from './safetensors-error.ts';

export interface TensorToWrite {
  name: string;
  dtype: Dtype;
  shape: readonly number[];
  /**
   * Values (Float32Array, Float64Array or number[]) are converted to dtype, rounding to nearest even for
   * F16/BF16. Any other typed array is taken as the raw little-endian bytes of the dtype (e.g. Uint16Array
   * of bf16 bits, Int32Array for I32, BigInt64Array for I64, Uint8Array of any dtype's bytes).
   */
  data: ArrayBufferView | readonly number[];
}

// The reference sorts by its Dtype enum, descending: I64 > F32 > I32 > BF16 > F16 > U8.
const RANK: Readonly<Record<Dtype, number>> = { I64: 5, F32: 4, I32: 3, BF16: 2, F16: 1, U8: 0 };

const OUT = 'safetensors writer';

/** Code point order, which is the byte order of UTF-8 (Rust's String ordering). */
function compareNames(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0)!);
  const y = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

function isValues(d: TensorToWrite['data']): d is Float32Array | Float64Array | readonly number[] {
  return Array.isArray(d) || d instanceof Float32Array || d instanceof Float64Array;
}

function integers(t: TensorToWrite, values: ArrayLike<number>, min: number, max: number): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new SafetensorsError(`tensor "${t.name}": ${v} is not a ${t.dtype} value`, OUT, 'bad-value', t.name);
    }
  }
}

function encode(t: TensorToWrite): Uint8Array {
  const d = t.data;
  if (!isValues(d)) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  let out: ArrayBufferView;
  switch (t.dtype) {
    case 'F32':
      out = Float32Array.from(d);
      break;
    case 'F16':
      out = toF16Array(d);
      break;
    case 'BF16':
      out = toBf16Array(d);
      break;
    case 'I32':
      integers(t, d, -(2 ** 31), 2 ** 31 - 1);
      out = Int32Array.from(d);
      break;
    case 'U8':
      integers(t, d, 0, 255);
      out = Uint8Array.from(d);
      break;
    case 'I64':
      integers(t, d, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      out = BigInt64Array.from(Array.from(d, (v) => BigInt(v)));
      break;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Serializes tensors (and optional string metadata) to the bytes of one .safetensors file. */
export function writeSafetensors(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const seen = new Set<string>();
  const prepared = tensors.map((t) => {
    if (t.name === '__metadata__' || seen.has(t.name)) {
      throw new SafetensorsError(`tensor name "${t.name}" is reserved or repeated`, OUT, 'bad-entry', t.name);
    }
    seen.add(t.name);
    if (!Object.hasOwn(DTYPE_BYTES, t.dtype)) {
      throw new SafetensorsError(`tensor "${t.name}" has unknown dtype ${t.dtype}`, OUT, 'unknown-dtype', t.name);
    }
    if (!t.shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      throw new SafetensorsError(`tensor "${t.name}" has shape [${t.shape.join(', ')}]`, OUT, 'bad-entry', t.name);
    }
    const bytes = encode(t);
    const want = t.shape.reduce((a, s) => a * s, 1) * DTYPE_BYTES[t.dtype];
    if (bytes.length !== want) {
      throw new SafetensorsError(
        `tensor "${t.name}" (${t.dtype} [${t.shape.join(', ')}]) needs ${want} bytes, got ${bytes.length}`,
        OUT,
        'size-mismatch',
        t.name,
      );
    }
    return { t, bytes };
  });
  prepared.sort((a, b) => RANK[b.t.dtype] - RANK[a.t.dtype] || compareNames(a.t.name, b.t.name));

  const parts: string[] = [];
  if (metadata) {
    const keys = Object.keys(metadata).sort(compareNames);
    for (const k of keys) {
      if (typeof metadata[k] !== 'string') {
        throw new SafetensorsError(`metadata value of "${k}" is not a string`, OUT, 'metadata');
      }
    }
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  let offset = 0;
  for (const { t, bytes } of prepared) {
    const end = offset + bytes.length;
    parts.push(
      `${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const n = Math.ceil(json.length / 8) * 8;

  const out = new Uint8Array(8 + n + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, n % 2 ** 32, true);
  view.setUint32(4, Math.floor(n / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  let at = 8 + n;
  for (const { bytes } of prepared) {
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}
