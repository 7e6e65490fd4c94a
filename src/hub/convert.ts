// Streaming conversion of a safetensors file into lorabook's storage types while it downloads:
//   'f32' keeps float32, 'f16' stores IEEE half (round to nearest even), 'nf4' quantizes the decoder's
//   linear weights (model.layers.N.*_proj.weight, 2-D) to NF4 with blocksize 64 and double-quantized
//   absmax, as QLoRA's bitsandbytes does, and stores everything else (embeddings, norms, biases, lm_head)
//   as f16. The header is parsed from the first 8 + N bytes; then each tensor's bytes are converted as
//   they arrive and handed on when the tensor is complete. Why: the full f32 model is never in memory,
//   only one tensor in its (smaller) stored form.

import { f16BitsToF32, f32ToF16Bits } from '../gpu/f16.ts';
import {
  headerLength,
  parseHeader,
  SafetensorsError,
  type SafetensorsHeader,
  type TensorEntry,
} from '../model/safetensors.ts';
import { Quantizer4 } from '../quant/blockwise4.ts';
import { compressStatistics, type NestedAbsmax } from '../quant/double-quant.ts';

export type StorageType = 'f32' | 'f16' | 'nf4';
export type TensorStorage = 'f32' | 'f16' | 'nf4';

export interface ConvertOptions {
  storage: StorageType;
  /** Double-quantize the NF4 absmax (bitsandbytes' compress_statistics). Default true. */
  doubleQuant?: boolean;
}

export interface ConvertedTensor {
  name: string;
  shape: number[];
  /** The dtype in the source file. */
  sourceDtype: string;
  storage: TensorStorage;
  /** f32 / f16: the little-endian values; nf4: the packed codes (high nibble first). */
  data: Uint8Array;
  /** NF4 only: blocksize and the per-block absmax, plain or nested. */
  nf4: { blocksize: number; absmax: Float32Array | null; nested: NestedAbsmax | null } | null;
}

/** What a tensor is stored as under a storage type. */
export function tensorStorage(name: string, shape: readonly number[], storage: StorageType): TensorStorage {
  if (storage !== 'nf4') return storage;
  return shape.length === 2 && /^model\.layers\.\d+\..+_proj\.weight$/.test(name) ? 'nf4' : 'f16';
}

let f16Table: Float32Array | null = null;
/** All 65536 f16 values as f32 (256 KiB), for fast widening. */
function f16ToF32Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  }
  return f16Table;
}

const SLAB = 1 << 16; // elements converted per step

/** Converts one tensor's bytes, in any split, to its stored form. */
class TensorConverter {
  private readonly elemBytes: number;
  private readonly pending: Uint8Array;
  private pendingLen = 0;
  private at = 0; // elements done
  readonly n: number;
  private readonly out: Uint8Array | null;
  private readonly quant: Quantizer4 | null;
  private readonly aligned: Uint8Array;
  private readonly values = new Float32Array(SLAB);

  constructor(
    readonly entry: TensorEntry,
    readonly storage: TensorStorage,
    private readonly doubleQuant: boolean,
    file: string,
  ) {
    if (!['F32', 'F16', 'BF16'].includes(entry.dtype)) {
      throw new SafetensorsError(
        `${file}: tensor "${entry.name}" is ${entry.dtype}; lorabook loads float tensors only`,
        file,
        'not-float',
        entry.name,
      );
    }
    this.elemBytes = entry.dtype === 'F32' ? 4 : 2;
    this.n = entry.shape.reduce((a, b) => a * b, 1);
    this.pending = new Uint8Array(4);
    this.aligned = new Uint8Array(SLAB * this.elemBytes);
    this.quant = storage === 'nf4' ? new Quantizer4(this.n, 'nf4') : null;
    this.out = storage === 'nf4' ? null : new Uint8Array(this.n * (storage === 'f32' ? 4 : 2));
  }

  push(bytes: Uint8Array): void {
    let i = 0;
    const eb = this.elemBytes;
    if (this.pendingLen > 0) {
      const take = Math.min(eb - this.pendingLen, bytes.length);
      this.pending.set(bytes.subarray(0, take), this.pendingLen);
      this.pendingLen += take;
      i = take;
      if (this.pendingLen === eb) {
        this.elements(this.pending.subarray(0, eb));
        this.pendingLen = 0;
      }
    }
    const whole = Math.floor((bytes.length - i) / eb) * eb;
    for (let s = i; s < i + whole; s += SLAB * eb) this.elements(bytes.subarray(s, Math.min(i + whole, s + SLAB * eb)));
    const rest = bytes.subarray(i + whole);
    this.pending.set(rest, 0);
    this.pendingLen = rest.length;
  }

  /** Whole elements (at most SLAB), in the source dtype's little-endian bytes. */
  private elements(src: Uint8Array): void {
    const count = src.length / this.elemBytes;
    const { dtype } = this.entry;
    // Fast paths: the stored type is the source type, bytes are copied.
    if ((dtype === 'F32' && this.storage === 'f32') || (dtype === 'F16' && this.storage === 'f16')) {
      this.out!.set(src, this.at * this.elemBytes);
      this.at += count;
      return;
    }
    this.aligned.set(src);
    const v = this.values.subarray(0, count);
    if (dtype === 'F32') v.set(new Float32Array(this.aligned.buffer, 0, count));
    else if (dtype === 'BF16') {
      const h = new Uint16Array(this.aligned.buffer, 0, count);
      const bits = new Uint32Array(v.buffer, 0, count);
      for (let k = 0; k < count; k++) bits[k] = h[k] << 16;
    } else {
      const h = new Uint16Array(this.aligned.buffer, 0, count);
      const t = f16ToF32Table();
      for (let k = 0; k < count; k++) v[k] = t[h[k]];
    }
    if (this.quant) this.quant.push(v);
    else if (this.storage === 'f32') new Float32Array(this.out!.buffer).set(v, this.at);
    else {
      const o = new Uint16Array(this.out!.buffer);
      for (let k = 0; k < count; k++) o[this.at + k] = f32ToF16Bits(v[k]);
    }
    this.at += count;
  }

  finish(): ConvertedTensor {
    if (this.pendingLen !== 0 || this.at !== this.n) throw new Error(`tensor ${this.entry.name} is incomplete`);
    const base = {
      name: this.entry.name,
      shape: [...this.entry.shape],
      sourceDtype: this.entry.dtype,
      storage: this.storage,
    };
    if (!this.quant) return { ...base, data: this.out!, nf4: null };
    const { packed, absmax } = this.quant.finish();
    return {
      ...base,
      data: packed,
      nf4: {
        blocksize: this.quant.blocksize,
        absmax: this.doubleQuant ? null : absmax,
        nested: this.doubleQuant ? compressStatistics(absmax) : null,
      },
    };
  }
}

/**
 * Push a safetensors file's bytes in order (any split); `onTensor` receives each tensor, converted, as
 * soon as its last byte arrived (awaited: back-pressure). `end` checks that the file was complete.
 */
export class SafetensorsStreamConverter {
  private head = new Uint8Array(0);
  private header: SafetensorsHeader | null = null;
  private index = 0;
  private current: TensorConverter | null = null;
  private currentLeft = 0;
  private received = 0;

  constructor(
    readonly file: string,
    readonly fileSize: number | null,
    readonly options: ConvertOptions,
    private readonly onTensor: (t: ConvertedTensor) => void | Promise<void>,
  ) {}

  /** The parsed header, once the first 8 + N bytes have arrived. */
  get parsedHeader(): SafetensorsHeader | null {
    return this.header;
  }

  async push(chunk: Uint8Array): Promise<void> {
    this.received += chunk.length;
    let data = chunk;
    if (!this.header) {
      const joined = new Uint8Array(this.head.length + chunk.length);
      joined.set(this.head);
      joined.set(chunk, this.head.length);
      this.head = joined;
      if (joined.length < 8) return;
      const n = headerLength(joined, this.file);
      if (joined.length < 8 + n) return;
      this.header = parseHeader(joined.subarray(0, 8 + n), {
        file: this.file,
        fileSize: this.fileSize ?? undefined,
      });
      data = joined.subarray(8 + n);
      this.head = new Uint8Array(0);
    }
    while (data.length > 0) {
      if (!this.current) await this.next();
      if (!this.current) {
        throw new SafetensorsError(`${this.file} has bytes after its last tensor`, this.file, 'data-long');
      }
      const take = Math.min(this.currentLeft, data.length);
      this.current.push(data.subarray(0, take));
      this.currentLeft -= take;
      data = data.subarray(take);
      if (this.currentLeft === 0) {
        const t = this.current.finish();
        this.current = null;
        await this.onTensor(t);
      }
    }
    // Tensors of zero bytes complete without data.
    if (!this.current) await this.next();
  }

  private async next(): Promise<void> {
    const entries = this.header!.entries;
    while (!this.current && this.index < entries.length) {
      const e = entries[this.index++];
      const conv = new TensorConverter(
        e,
        tensorStorage(e.name, e.shape, this.options.storage),
        this.options.doubleQuant ?? true,
        this.file,
      );
      if (e.end === e.begin) await this.onTensor(conv.finish());
      else {
        this.current = conv;
        this.currentLeft = e.end - e.begin;
      }
    }
  }

  async end(): Promise<SafetensorsHeader> {
    if (!this.header || this.current || this.index < this.header.entries.length) {
      const missing = this.current?.entry.name ?? this.header?.entries[this.index]?.name ?? null;
      throw new SafetensorsError(
        `${this.file} ended after ${this.received} bytes, before all its tensors arrived (truncated download?)`,
        this.file,
        'data-short',
        missing,
      );
    }
    return this.header;
  }
}
