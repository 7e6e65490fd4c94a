// One file over HTTP, streamed to a consumer as it arrives: progress (bytes, rate, ETA), resume with a
// Range request (guarded by If-Range on the ETag) after a dropped connection, a truncated body or a stall,
// retries with exponential backoff, cancellation, redirects (fetch follows them), and an integrity check
// of size and SHA-256 (the Hub's LFS files carry their SHA-256 as ETag and in the API listing).
// Why stream: a model file is gigabytes; the consumer converts it on the fly and nothing holds it whole.

import { HubError } from '../errors.ts';
import { etagSha256, Sha256 } from './sha256.ts';

export interface DownloadProgress {
  file: string;
  received: number;
  total: number | null;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

export interface DownloadOptions {
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** Extra request headers (Authorization for gated models). */
  headers?: Record<string, string>;
  /** Failed attempts in a row (no byte gained) before giving up. Default 5. */
  retries?: number;
  /** First retry delay; doubles per failure, at most 8 s. Default 500 ms. */
  backoffMs?: number;
  /** A response that sends nothing for this long is dropped and resumed. Default 30 s. */
  stallMs?: number;
  /** Size the file must have (the API listing's), when known. */
  expectedSize?: number | null;
  /** SHA-256 the file must have (the API listing's lfs.sha256), when known. */
  expectedSha256?: string | null;
  onProgress?: (p: DownloadProgress) => void;
}

export interface DownloadResult {
  size: number;
  etag: string | null;
  sha256: string;
  /** X-Repo-Commit of the first response, when the server sent it. */
  commit: string | null;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

class Retry extends Error {}

function statusError(status: number, url: string, file: string): HubError | Retry {
  if (status === 404) {
    return new HubError(
      `${file} was not found (404): check the model id, revision and file name`,
      'not-found',
      url,
      404,
    );
  }
  if (status === 401 || status === 403) {
    return new HubError(
      `${file} is gated or private (${status}): accept the model's license on the Hub and give an access token`,
      'gated',
      url,
      status,
    );
  }
  if (status === 408 || status === 429 || status >= 500) return new Retry(`HTTP ${status}`);
  return new HubError(`${file}: the server answered HTTP ${status}`, 'http', url, status);
}

/** Streams `url` into `consume` (awaited per chunk: back-pressure). Resolves when every byte arrived. */
export async function download(
  url: string,
  file: string,
  consume: (chunk: Uint8Array) => void | Promise<void>,
  o: DownloadOptions = {},
): Promise<DownloadResult> {
  const doFetch = o.fetch ?? globalThis.fetch.bind(globalThis);
  const retries = o.retries ?? 5;
  const stallMs = o.stallMs ?? 30_000;
  const hash = new Sha256();
  let total = o.expectedSize ?? null;
  let received = 0;
  let etag: string | null = null;
  let commit: string | null = null;
  let failures = 0;
  let lastError = '';
  const t0 = performance.now();
  const cancelled = () => new HubError(`download of ${file} was cancelled`, 'cancelled', url);

  for (;;) {
    if (o.signal?.aborted) throw cancelled();
    if (failures > 0) {
      if (failures > retries) {
        throw new HubError(`${file}: download failed after ${failures} attempts (${lastError})`, 'network', url);
      }
      await sleep(Math.min(8000, (o.backoffMs ?? 500) * 2 ** (failures - 1)), o.signal);
      if (o.signal?.aborted) throw cancelled();
    }
    const attempt = new AbortController();
    const onAbort = () => attempt.abort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const headers: Record<string, string> = { ...o.headers };
    if (received > 0) {
      headers.range = `bytes=${received}-`;
      if (etag && !etag.startsWith('W/')) headers['if-range'] = etag;
    }
    const startedAt = received;
    try {
      let stallTimer: ReturnType<typeof setTimeout> | undefined;
      const armStall = () => {
        clearTimeout(stallTimer);
        stallTimer = setTimeout(() => attempt.abort(new Retry(`no data for ${stallMs} ms`)), stallMs);
      };
      armStall();
      let res: Response;
      try {
        res = await doFetch(url, { headers, signal: attempt.signal, redirect: 'follow' });
      } catch (e) {
        throw o.signal?.aborted ? cancelled() : new Retry(`request failed: ${(e as Error).message}`);
      }
      if (!res.ok) {
        clearTimeout(stallTimer);
        void res.body?.cancel();
        if (res.status === 416 && total !== null && received === total) break;
        throw statusError(res.status, url, file);
      }
      let skip = 0;
      const resEtag = res.headers.get('etag');
      if (received === 0) {
        etag = resEtag;
        commit ??= res.headers.get('x-repo-commit');
        const len = Number(res.headers.get('content-length') ?? NaN);
        if (total === null && res.status === 200 && Number.isFinite(len)) total = len;
      } else if (res.status === 206) {
        const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
        if (!m || Number(m[1]) !== received) {
          throw new HubError(`${file}: the server resumed at the wrong offset`, 'http', url, 206);
        }
      } else {
        // A full answer to a Range request: the server ignores ranges, or the file changed.
        if (etag && resEtag && resEtag !== etag) {
          throw new HubError(
            `${file} changed on the server during the download (ETag ${etag} → ${resEtag})`,
            'changed',
            url,
            200,
          );
        }
        skip = received;
      }
      if (!res.body) throw new Retry('empty body');
      const reader = res.body.getReader();
      try {
        for (;;) {
          let r: ReadableStreamReadResult<Uint8Array>;
          try {
            r = await reader.read();
          } catch (e) {
            if (o.signal?.aborted) throw cancelled();
            throw attempt.signal.reason instanceof Retry
              ? attempt.signal.reason
              : new Retry(`connection lost: ${(e as Error).message}`);
          }
          if (r.done) break;
          armStall();
          let chunk = r.value;
          if (skip > 0) {
            const n = Math.min(skip, chunk.length);
            skip -= n;
            chunk = chunk.subarray(n);
            if (chunk.length === 0) continue;
          }
          if (total !== null && received + chunk.length > total) {
            throw new HubError(`${file} is longer than its ${total} bytes`, 'integrity', url, res.status);
          }
          hash.update(chunk);
          await consume(chunk);
          received += chunk.length;
          const seconds = (performance.now() - t0) / 1000;
          const rate = seconds > 0 ? received / seconds : 0;
          o.onProgress?.({
            file,
            received,
            total,
            bytesPerSecond: rate,
            etaSeconds: total !== null && rate > 0 ? (total - received) / rate : null,
          });
        }
      } finally {
        clearTimeout(stallTimer);
        reader.releaseLock();
      }
      if (total !== null && received < total) throw new Retry(`body ended at ${received} of ${total} bytes`);
      break;
    } catch (e) {
      if (!(e instanceof Retry)) throw e;
      lastError = e.message;
      failures = received > startedAt ? 1 : failures + 1;
      attempt.abort();
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
    }
  }
  const digest = hash.hex();
  const want = o.expectedSha256 ?? etagSha256(etag);
  if (want && want !== digest) {
    throw new HubError(`${file}: SHA-256 ${digest} does not match the expected ${want}`, 'integrity', url);
  }
  return { size: received, etag, sha256: digest, commit };
}

/** A whole small file (config, tokenizer) in memory, with the same retries. */
export async function downloadBytes(url: string, file: string, o: DownloadOptions = {}): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const { size } = await download(url, file, (c) => void parts.push(c.slice()), o);
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
