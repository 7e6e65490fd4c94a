// f32 <-> bfloat16 bit conversion on the CPU. bf16 is the top 16 bits of an f32 (same exponent range), so
// widening is a shift and narrowing rounds the dropped 16 bits to nearest, ties to even, as PyTorch's
// float → bfloat16 cast does. NaN stays NaN (quiet, sign kept) instead of rounding into infinity.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32ToBf16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40; // NaN: keep it a NaN
  // Adding 0x7fff plus the lowest kept bit rounds half to even; a carry into the exponent is correct
  // (it rounds up to the next binade or to infinity).
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

export function toBf16Array(src: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32ToBf16Bits(src[i]);
  return out;
}

export function fromBf16Array(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return out;
}

/** Rounds each value through bf16 and back: the values a bf16 tensor really holds. */
export function roundToBf16(src: ArrayLike<number>): Float32Array {
  return fromBf16Array(toBf16Array(src));
}
