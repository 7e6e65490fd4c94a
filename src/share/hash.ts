// Content hashes for shared data: SHA-256 through WebCrypto (browsers and Node 20 alike), and
// `fetchVerified`, which fetches data a notebook references by URL and refuses it unless its SHA-256 is
// the one the notebook was shared with, so a changed file is an error, never a silent change of data.

import { VerifiedFetchError } from '../errors.ts';

/** The lowercase hex SHA-256 of some bytes. */
export async function sha256Hex(data: Uint8Array | ArrayBuffer): Promise<string> {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The largest body fetchVerified accepts by default (bytes). */
export const MAX_VERIFIED_BYTES = 256 * 1024 * 1024;

export interface FetchVerifiedOptions {
  fetch?: typeof fetch;
  signal?: AbortSignal;
  maxBytes?: number;
}

/** The body at `url`, checked against `sha256` (hex); throws VerifiedFetchError on any difference. */
export async function fetchVerified(url: string, sha256: string, opts: FetchVerifiedOptions = {}): Promise<Uint8Array> {
  const expected = sha256.toLowerCase();
  if (!SHA256_HEX.test(expected)) {
    throw new VerifiedFetchError(`"${sha256}" is not a SHA-256 in hex (64 characters 0-9a-f)`, 'mismatch', url, sha256);
  }
  const max = opts.maxBytes ?? MAX_VERIFIED_BYTES;
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(url, { signal: opts.signal });
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    throw new VerifiedFetchError(`Could not fetch ${url}: ${String(e)}`, 'network', url, expected);
  }
  if (!res.ok) {
    throw new VerifiedFetchError(
      `Fetching ${url} failed with HTTP ${res.status}`,
      'http',
      url,
      expected,
      null,
      res.status,
    );
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    throw new VerifiedFetchError(`${url} is ${declared} bytes, over the ${max}-byte limit`, 'too-large', url, expected);
  }
  const body = new Uint8Array(await res.arrayBuffer());
  if (body.length > max) {
    throw new VerifiedFetchError(
      `${url} is ${body.length} bytes, over the ${max}-byte limit`,
      'too-large',
      url,
      expected,
    );
  }
  const actual = await sha256Hex(body);
  if (actual !== expected) {
    throw new VerifiedFetchError(
      `The data at ${url} has changed since the notebook was shared: its SHA-256 is ${actual}, the notebook expects ${expected}`,
      'mismatch',
      url,
      expected,
      actual,
    );
  }
  return body;
}
