// The incremental SHA-256 against FIPS 180-4's examples and crypto.subtle, for any split of the input.

import { describe, expect, it } from 'vitest';
import { randomArray } from '../reference/compare.ts';
import { etagSha256, Sha256, sha256Hex } from './sha256.ts';

const hex = (d: ArrayBuffer) => Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');

describe('sha256', () => {
  it('gives the published digests of "", "abc" and the 448-bit message', () => {
    const t = (s: string) => sha256Hex(new TextEncoder().encode(s));
    expect(t('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(t('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(t('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('equals crypto.subtle for lengths around the block and padding edges, in any split', async () => {
    for (const n of [1, 55, 56, 63, 64, 65, 119, 120, 1000, 70_001]) {
      const data = Uint8Array.from(randomArray(n, n), (x) => Math.floor((x + 1) * 127.5));
      const want = hex(await crypto.subtle.digest('SHA-256', data));
      expect(sha256Hex(data)).toBe(want);
      const h = new Sha256();
      for (let at = 0, step = 1; at < n; at += step, step = step * 3 + 1) h.update(data.subarray(at, at + step));
      expect(h.hex()).toBe(want);
    }
  });

  it('reads a SHA-256 out of an ETag', () => {
    const d = 'a'.repeat(64);
    expect(etagSha256(`"${d}"`)).toBe(d);
    expect(etagSha256(`W/"${d.toUpperCase()}"`)).toBe(d);
    expect(etagSha256('"abc123-gitblob"')).toBeNull();
    expect(etagSha256(null)).toBeNull();
  });
});
