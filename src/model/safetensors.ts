// Reader of the safetensors format: 8-byte little-endian u64 header length N, N bytes of JSON
// ({name: {dtype, shape, data_offsets: [begin, end]}}, optional "__metadata__": {string: string}), then the
// data buffer; offsets are relative to the data start. Why parseHeader is separate: a streaming loader
// fetches only the first 8 bytes, then 8 + N, and plans every tensor before any data arrives. The checks
// follow the reference implementation (huggingface/safetensors): offsets contiguous from 0, each range
// exactly numel × dtype size, and the data filling the file to its end. The writer and the sharded index
// live in their own files and are re-exported here.

import { f16BitsToF32 } from '../gpu/f16.ts';
import { fromBf16Array } from './bf16.ts';
import { DTYPE_BYTES, isDtype, type Dtype } from './safetensors-dtype.ts';
import { SafetensorsError } from './safetensors-error.ts';

export { DTYPE_BYTES, type Dtype } from './safetensors-dtype.ts';
export { SafetensorsError } from './safetensors-error.ts';
export { writeSafetensors, type TensorToWrite } from './safetensors-writer.ts';
export { INDEX_FILE, parseShardIndex, shardOf, tensorsByShard, type ShardIndex } from './safetensors-index.ts';

/** Headers above this are refused, as the reference implementation does (a header bomb, not a model). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Byte range in the data buffer (add dataOffset for the file position). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Entries in data order (by offset). */
  entries: TensorEntry[];
  metadata: Record<string, string> | null;
  /** N, the JSON header's byte length. */
  headerLength: number;
  /** 8 + N: where the data buffer starts in the file. */
  dataOffset: number;
  /** Bytes of tensor data the header declares; the file must be dataOffset + dataLength long. */
  dataLength: number;
}

export interface ParseOptions {
  /** Shown in errors. */
  file?: string;
  /** The whole file's size when known (a streaming caller's Content-Length); enables the size checks. */
  fileSize?: number;
}

// A plain Uint8Array view even for a Node Buffer, whose slice() is a view rather than a copy (the
// readers copy tensors with slice()).
const asBytes = (b: Uint8Array | ArrayBuffer): Uint8Array =>
  b instanceof Uint8Array ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** N from the first 8 bytes; throws when fewer than 8 bytes or N is absurd. */
export function headerLength(bytes: Uint8Array | ArrayBuffer, file = 'model.safetensors'): number {
  const b = asBytes(bytes);
  if (b.length < 8) {
    throw new SafetensorsError(
      `${file} is ${b.length} bytes long; a safetensors file starts with an 8-byte header length (truncated download?)`,
      file,
      'truncated-header',
    );
  }
  const view = new DataView(b.buffer, b.byteOffset, 8);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const n = hi * 2 ** 32 + lo;
  if (hi >= 2 ** 21 || n > MAX_HEADER_BYTES) {
    throw new SafetensorsError(
      `${file} declares a ${n}-byte header, more than the ${MAX_HEADER_BYTES} allowed: it is not a safetensors file`,
      file,
      'header-too-large',
    );
  }
  return n;
}

function fail(file: string, reason: string, what: string, tensor: string | null = null): SafetensorsError {
  return new SafetensorsError(`${file}: ${what}`, file, reason, tensor);
}

function parseEntry(file: string, name: string, raw: unknown): TensorEntry {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw fail(file, 'bad-entry', `the header entry of tensor "${name}" is not an object`, name);
  }
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (!isDtype(dtype)) {
    throw fail(
      file,
      'unknown-dtype',
      `tensor "${name}" has dtype ${JSON.stringify(dtype)}; lorabook reads ${Object.keys(DTYPE_BYTES).join(', ')}`,
      name,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw fail(file, 'bad-entry', `tensor "${name}" has shape ${JSON.stringify(shape)}, not a list of sizes`, name);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[1] < offsets[0]) {
    throw fail(
      file,
      'bad-entry',
      `tensor "${name}" has data_offsets ${JSON.stringify(offsets)}, not [begin, end]`,
      name,
    );
  }
  return { name, dtype, shape: shape as number[], begin: offsets[0] as number, end: offsets[1] as number };
}

function parseMetadata(file: string, raw: unknown): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw fail(file, 'metadata', '"__metadata__" must map strings to strings');
  }
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') throw fail(file, 'metadata', `"__metadata__" value of "${k}" is not a string`);
  }
  return raw as Record<string, string>;
}

/** Parses and checks the header from the first 8 + N bytes (or more) of a safetensors file. */
export function parseHeader(bytes: Uint8Array | ArrayBuffer, options: ParseOptions = {}): SafetensorsHeader {
  const file = options.file ?? 'model.safetensors';
  const b = asBytes(bytes);
  const n = headerLength(b, file);
  const dataOffset = 8 + n;
  if (options.fileSize !== undefined && dataOffset > options.fileSize) {
    throw fail(
      file,
      'header-length',
      `the header claims ${n} bytes but the file has only ${options.fileSize - 8} after the length: ` +
        'the file is truncated or not safetensors',
    );
  }
  if (b.length < dataOffset) {
    throw fail(file, 'truncated-header', `the header needs the first ${dataOffset} bytes, only ${b.length} were given`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(8, dataOffset));
  } catch {
    throw fail(file, 'header-utf8', 'the header is not valid UTF-8 text: not a safetensors file');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw fail(file, 'header-json', `the header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw fail(file, 'header-json', 'the header is JSON but not an object of tensors');
  }

  let metadata: Record<string, string> | null = null;
  const entries: TensorEntry[] = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') metadata = parseMetadata(file, raw);
    else entries.push(parseEntry(file, name, raw));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);

  let at = 0;
  let prev: string | null = null;
  for (const e of entries) {
    if (e.begin !== at) {
      const how =
        e.begin < at
          ? `overlaps "${prev}"`
          : `leaves a gap of ${e.begin - at} bytes after ${prev ? `"${prev}"` : 'the header'}`;
      throw fail(file, 'offsets', `tensor "${e.name}" starts at byte ${e.begin} of the data and ${how}`, e.name);
    }
    const numel = e.shape.reduce((a, d) => a * d, 1);
    const want = numel * DTYPE_BYTES[e.dtype];
    if (!Number.isSafeInteger(want) || e.end - e.begin !== want) {
      throw fail(
        file,
        'size-mismatch',
        `tensor "${e.name}" (${e.dtype} [${e.shape.join(', ')}]) needs ${want} bytes but its data_offsets ` +
          `[${e.begin}, ${e.end}] span ${e.end - e.begin}`,
        e.name,
      );
    }
    at = e.end;
    prev = e.name;
  }

  const dataLength = at;
  if (options.fileSize !== undefined) {
    const have = options.fileSize - dataOffset;
    if (have < dataLength) {
      const cut = entries.find((e) => e.end > have)!;
      throw fail(
        file,
        'data-short',
        `the header declares ${dataLength} bytes of tensor data but the file holds only ${have}: tensor ` +
          `"${cut.name}" (bytes ${cut.begin}–${cut.end}) is out of range (truncated download?)`,
        cut.name,
      );
    }
    if (have > dataLength) {
      throw fail(
        file,
        'data-long',
        `the file has ${have - dataLength} bytes after the last tensor's data; the header does not describe them`,
      );
    }
  }
  return { entries, metadata, headerLength: n, dataOffset, dataLength };
}

// Typed arrays use the platform's byte order; safetensors is little-endian, as is every WebGPU platform.
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A whole safetensors file in memory. Tensors are views (raw) or fresh copies (tensorF32, array). */
export class SafetensorsReader {
  readonly header: SafetensorsHeader;
  readonly file: string;
  private readonly bytes: Uint8Array;
  private readonly byName: Map<string, TensorEntry>;

  constructor(bytes: Uint8Array | ArrayBuffer, file = 'model.safetensors') {
    if (!littleEndian) throw new SafetensorsError('big-endian hosts are not supported', file, 'endianness');
    this.bytes = asBytes(bytes);
    this.file = file;
    this.header = parseHeader(this.bytes, { file, fileSize: this.bytes.length });
    this.byName = new Map(this.header.entries.map((e) => [e.name, e]));
  }

  get metadata(): Record<string, string> | null {
    return this.header.metadata;
  }

  names(): string[] {
    return this.header.entries.map((e) => e.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  info(name: string): TensorEntry {
    const e = this.byName.get(name);
    if (!e) throw fail(this.file, 'not-found', `has no tensor "${name}"`, name);
    return e;
  }

  /** The tensor's bytes, a view into the file (no copy). */
  raw(name: string): Uint8Array {
    const e = this.info(name);
    return this.bytes.subarray(this.header.dataOffset + e.begin, this.header.dataOffset + e.end);
  }

  /** A float tensor widened to f32 (F16 and BF16 converted exactly). A fresh array. */
  tensorF32(name: string): Float32Array {
    const e = this.info(name);
    const copy = this.raw(name).slice().buffer;
    if (e.dtype === 'F32') return new Float32Array(copy);
    if (e.dtype === 'BF16') return fromBf16Array(new Uint16Array(copy));
    if (e.dtype === 'F16') {
      const h = new Uint16Array(copy);
      const out = new Float32Array(h.length);
      for (let i = 0; i < h.length; i++) out[i] = f16BitsToF32(h[i]);
      return out;
    }
    throw fail(this.file, 'not-float', `tensor "${name}" is ${e.dtype}, not a float tensor`, name);
  }

  /** The tensor in its own type: F16/BF16 as raw bits (Uint16Array), I64 as BigInt64Array. A fresh array. */
  array(name: string): Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array {
    const e = this.info(name);
    const copy = this.raw(name).slice().buffer;
    switch (e.dtype) {
      case 'F32':
        return new Float32Array(copy);
      case 'F16':
      case 'BF16':
        return new Uint16Array(copy);
      case 'I32':
        return new Int32Array(copy);
      case 'I64':
        return new BigInt64Array(copy);
      case 'U8':
        return new Uint8Array(copy);
    }
  }
}
