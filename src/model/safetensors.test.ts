// safetensors: the writer's bytes checked one by one against hand-written headers, round trips of every
// dtype, header-first parsing of a prefix, and each corrupt input giving its own reason.

import { describe, expect, it } from 'vitest';
import { LorabookError, serializeError } from '../errors.ts';
import { roundToF16 } from '../gpu/f16.ts';
import { roundToBf16 } from './bf16.ts';
import {
  DTYPE_BYTES,
  headerLength,
  parseHeader,
  SafetensorsError,
  SafetensorsReader,
  writeSafetensors,
} from './safetensors.ts';

const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

/** A file from a header text (unpadded) and data bytes, the way a foreign writer might produce it. */
function build(header: string, data: ArrayLike<number> = [], declared = header.length): Uint8Array {
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setUint32(0, declared, true);
  out.set(ascii(header), 8);
  out.set(Array.from(data), 8 + header.length);
  return out;
}

function reason(fn: () => unknown): SafetensorsError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    return e as SafetensorsError;
  }
  throw new Error('expected SafetensorsError, nothing was thrown');
}

const F32_0_TO_5 = [0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64];

describe('writer bytes', () => {
  it('one f32 tensor: length, compact header, data (no padding needed)', () => {
    const out = writeSafetensors([{ name: 'attn.0', dtype: 'F32', shape: [1, 2, 3], data: [0, 1, 2, 3, 4, 5] }]);
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}'; // 64 bytes
    expect(Array.from(out)).toEqual([64, 0, 0, 0, 0, 0, 0, 0, ...ascii(header), ...F32_0_TO_5]);
  });

  it('pads the header with spaces to a multiple of 8', () => {
    const out = writeSafetensors([{ name: 'attn0', dtype: 'F32', shape: [1, 1, 2, 3], data: [0, 1, 2, 3, 4, 5] }]);
    const header = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}'; // 65 bytes → 72
    expect(Array.from(out)).toEqual([72, 0, 0, 0, 0, 0, 0, 0, ...ascii(header), ...ascii('       '), ...F32_0_TO_5]);
  });

  it('empty file, and metadata first', () => {
    expect(Array.from(writeSafetensors([]))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, ...ascii('{}      ')]);
    const out = writeSafetensors([], { framework: 'pt' });
    expect(Array.from(out)).toEqual([40, 0, 0, 0, 0, 0, 0, 0, ...ascii('{"__metadata__":{"framework":"pt"}}     ')]);
    const withTensor = writeSafetensors([{ name: 'b', dtype: 'U8', shape: [2], data: new Uint8Array([7, 9]) }], {
      z: '1',
      a: '2',
    });
    const h = '{"__metadata__":{"a":"2","z":"1"},"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}'; // 86 → 88
    expect(Array.from(withTensor)).toEqual([88, 0, 0, 0, 0, 0, 0, 0, ...ascii(h), 32, 32, 7, 9]);
  });

  it('orders by dtype alignment then name, so every tensor is aligned', () => {
    const out = writeSafetensors([
      { name: 'a', dtype: 'U8', shape: [3], data: [1, 2, 3] },
      { name: 'c', dtype: 'BF16', shape: [1], data: [1] },
      { name: 'b2', dtype: 'F32', shape: [1], data: [1] },
      { name: 'b1', dtype: 'F32', shape: [1], data: [1] },
      { name: 'd', dtype: 'I64', shape: [1], data: [1] },
      { name: 'e', dtype: 'I32', shape: [1], data: [1] },
      { name: 'f', dtype: 'F16', shape: [1], data: [1] },
    ]);
    const text = new TextDecoder().decode(out.subarray(8, 8 + headerLength(out)));
    expect(Object.keys(JSON.parse(text))).toEqual(['d', 'b1', 'b2', 'e', 'c', 'f', 'a']);
    const r = new SafetensorsReader(out);
    expect(r.names()).toEqual(['d', 'b1', 'b2', 'e', 'c', 'f', 'a']);
    for (const e of r.header.entries) expect((r.header.dataOffset + e.begin) % DTYPE_BYTES[e.dtype]).toBe(0);
  });

  it('refuses bad tensors', () => {
    expect(reason(() => writeSafetensors([{ name: 'x', dtype: 'F32', shape: [3], data: [1, 2] }])).reason).toBe(
      'size-mismatch',
    );
    const twice = { name: 'x', dtype: 'U8', shape: [1], data: [1] } as const;
    expect(reason(() => writeSafetensors([twice, twice])).reason).toBe('bad-entry');
    expect(reason(() => writeSafetensors([{ name: 'i', dtype: 'I32', shape: [1], data: [0.5] }])).reason).toBe(
      'bad-value',
    );
    expect(reason(() => writeSafetensors([{ name: 'u', dtype: 'U8', shape: [1], data: [256] }])).reason).toBe(
      'bad-value',
    );
  });
});

describe('round trips', () => {
  const values = [0, 1, -2.5, 3.14159, 1e-3, -65504, 1e-7, 123456.789];

  it('every dtype, with metadata', () => {
    const i64 = new BigInt64Array([-(2n ** 62n), 0n, 1n, 2n ** 53n + 1n]);
    const out = writeSafetensors(
      [
        { name: 'f32', dtype: 'F32', shape: [2, 4], data: values },
        { name: 'f16', dtype: 'F16', shape: [8], data: new Float32Array(values) },
        { name: 'bf16', dtype: 'BF16', shape: [4, 2], data: values },
        { name: 'i64', dtype: 'I64', shape: [4], data: i64 },
        { name: 'i64n', dtype: 'I64', shape: [2], data: [-5, 7] },
        { name: 'i32', dtype: 'I32', shape: [3], data: new Int32Array([-1, 2 ** 31 - 1, 0]) },
        { name: 'u8', dtype: 'U8', shape: [1, 3], data: [0, 128, 255] },
        { name: 'scalar', dtype: 'F32', shape: [], data: [42] },
        { name: 'empty', dtype: 'BF16', shape: [0, 5], data: [] },
      ],
      { format: 'pt', note: 'ünïcödé "quoted"' },
    );
    const r = new SafetensorsReader(out.buffer as ArrayBuffer, 'mixed.safetensors');
    expect(r.metadata).toEqual({ format: 'pt', note: 'ünïcödé "quoted"' });
    expect(r.info('bf16')).toMatchObject({ dtype: 'BF16', shape: [4, 2] });
    expect(r.tensorF32('f32')).toEqual(Float32Array.from(values));
    expect(r.tensorF32('f16')).toEqual(roundToF16(values));
    expect(r.tensorF32('bf16')).toEqual(roundToBf16(values));
    expect(r.array('i64')).toEqual(i64);
    expect(r.array('i64n')).toEqual(new BigInt64Array([-5n, 7n]));
    expect(r.array('i32')).toEqual(new Int32Array([-1, 2 ** 31 - 1, 0]));
    expect(r.array('u8')).toEqual(new Uint8Array([0, 128, 255]));
    expect(r.tensorF32('scalar')).toEqual(new Float32Array([42]));
    expect(r.tensorF32('empty')).toEqual(new Float32Array(0));
    expect(r.info('empty').shape).toEqual([0, 5]);
  });

  it('raw bits in, raw bits out; reads from an unaligned view', () => {
    const bits = new Uint16Array([0x3f80, 0xc000, 0x7f80, 0x0001]);
    const file = writeSafetensors([{ name: 'w', dtype: 'BF16', shape: [4], data: bits }]);
    expect(Array.from(new Uint16Array(file.slice(file.length - 8).buffer))).toEqual(Array.from(bits));
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    const r = new SafetensorsReader(shifted.subarray(1));
    expect(r.array('w')).toEqual(bits);
    expect(Array.from(r.tensorF32('w'))).toEqual([1, -2, Infinity, 2 ** -133]);
    expect(r.raw('w').byteOffset).toBe(1 + r.header.dataOffset); // a view, not a copy
  });

  it('parses the header from the first 8 + N bytes only (streaming)', () => {
    const file = writeSafetensors([
      { name: 'a', dtype: 'F32', shape: [100], data: new Float32Array(100) },
      { name: 'b', dtype: 'F16', shape: [10], data: new Float32Array(10) },
    ]);
    const n = headerLength(file.subarray(0, 8));
    const h = parseHeader(file.slice(0, 8 + n), { fileSize: file.length });
    expect(h.dataOffset).toBe(8 + n);
    expect(h.dataLength).toBe(420);
    expect(h.entries.map((e) => [e.name, e.begin, e.end])).toEqual([
      ['a', 0, 400],
      ['b', 400, 420],
    ]);
    expect(reason(() => parseHeader(file.slice(0, 8 + n - 1))).reason).toBe('truncated-header');
  });
});

describe('corrupt files', () => {
  const ok = '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const eight = [0, 0, 128, 63, 0, 0, 0, 64];
  const read = (bytes: Uint8Array): SafetensorsReader => new SafetensorsReader(bytes, 'bad.safetensors');

  it('a well-formed hand-built file reads (unpadded header is fine)', () => {
    expect(Array.from(read(build(ok, eight)).tensorF32('x'))).toEqual([1, 2]);
  });

  const cases: [string, () => Uint8Array, string, string | null][] = [
    ['fewer than 8 bytes', () => new Uint8Array(5), 'truncated-header', null],
    ['header length larger than the file', () => build(ok, eight, 1000), 'header-length', null],
    ['absurd header length', () => new Uint8Array([0, 0, 0, 0, 0, 0, 0, 1, 123]), 'header-too-large', null],
    ['header over 100 MB', () => build(ok, eight, 100_000_001), 'header-too-large', null],
    ['header not UTF-8', () => build('{"\xff":1}'), 'header-utf8', null],
    ['header not JSON', () => build('{"x": {"dtype": "F32", '), 'header-json', null],
    ['header a JSON array', () => build('[1,2,3]'), 'header-json', null],
    [
      'unknown dtype',
      () => build('{"x":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}', [1, 2]),
      'unknown-dtype',
      'x',
    ],
    [
      'shape not sizes',
      () => build('{"x":{"dtype":"U8","shape":[-2],"data_offsets":[0,2]}}', [1, 2]),
      'bad-entry',
      'x',
    ],
    [
      'offsets reversed',
      () => build('{"x":{"dtype":"U8","shape":[2],"data_offsets":[2,0]}}', [1, 2]),
      'bad-entry',
      'x',
    ],
    ['entry not an object', () => build('{"x":5}'), 'bad-entry', 'x'],
    [
      'overlapping offsets',
      () =>
        build(
          '{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}',
          [1, 2, 3, 4],
        ),
      'offsets',
      'b',
    ],
    [
      'gap before a tensor',
      () => build('{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}', [1, 2, 3, 4]),
      'offsets',
      'a',
    ],
    [
      'offsets not matching dtype × shape',
      () => build('{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', eight),
      'size-mismatch',
      'x',
    ],
    ['data shorter than declared', () => build(ok, eight.slice(0, 6)), 'data-short', 'x'],
    [
      'offsets past the end of the file',
      () => build('{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', eight),
      'data-short',
      'x',
    ],
    ['bytes after the last tensor', () => build(ok, [...eight, 0]), 'data-long', null],
    ['metadata not strings', () => build('{"__metadata__":{"step":5}}'), 'metadata', null],
  ];
  for (const [what, bytes, why, tensor] of cases) {
    it(what, () => {
      const e = reason(() => read(bytes()));
      expect(e.reason).toBe(why);
      expect(e.file).toBe('bad.safetensors');
      expect(e.tensor).toBe(tensor);
      expect(e.message).toContain('bad.safetensors');
    });
  }

  it('missing tensors and integer tensors asked as floats', () => {
    const r = read(build('{"ids":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}', eight));
    expect(reason(() => r.raw('nope'))).toMatchObject({ reason: 'not-found', tensor: 'nope' });
    expect(reason(() => r.tensorF32('ids'))).toMatchObject({ reason: 'not-float', tensor: 'ids' });
  });

  it('is a LorabookError whose fields cross boundaries', () => {
    const e = reason(() => read(build(ok, eight.slice(0, 4))));
    expect(e).toBeInstanceOf(LorabookError);
    expect(serializeError(e)).toMatchObject({
      kind: 'SafetensorsError',
      fields: { file: 'bad.safetensors', reason: 'data-short', tensor: 'x' },
    });
  });
});

describe('a Node Buffer as input', () => {
  it('reads the same tensors as from a plain Uint8Array (Buffer.slice is a view, not a copy)', () => {
    const bytes = writeSafetensors([
      { name: 'a', dtype: 'F32', shape: [3], data: Float32Array.of(1, 2, 3) },
      { name: 'b', dtype: 'F32', shape: [2], data: Float32Array.of(4, 5) },
    ]);
    // A Buffer inside a larger pool, as readFileSync can return for small files.
    const pool = Buffer.alloc(bytes.length + 64, 7);
    pool.set(bytes, 32);
    const buf = pool.subarray(32, 32 + bytes.length);
    const r = new SafetensorsReader(buf);
    expect(Array.from(r.tensorF32('a'))).toEqual([1, 2, 3]);
    expect(Array.from(r.tensorF32('b'))).toEqual([4, 5]);
  });
});
