// A model repository laid out as the Hugging Face Hub serves it, for tests and local mirrors:
//   GET /api/models/<org>/<name>/revision/<rev>   → {id, sha, siblings: [{rfilename, size, lfs?}]}
//   GET /<org>/<name>/resolve/<rev>/<file>         → the file (large files redirect to /cdn/<sha256>)
// with ETag (the SHA-256 of the content, as the Hub's LFS files), X-Repo-Commit and HTTP Range.
// Why a pure handler: the Node test server wraps it with socket-level faults, and a browser test can use
// it as an in-page fetch, so both serve the same bytes with the same headers.

import { sha256Hex } from './sha256.ts';

export interface RepoFixture {
  /** "org/name". */
  id: string;
  /** Branch or tag → commit sha (a 40-hex commit sha also resolves to itself). */
  refs: Record<string, string>;
  /** Files by path at the (single) commit. */
  files: Record<string, Uint8Array>;
  /** Answer 401 to every request (a gated model without a token). */
  gated?: boolean;
  /** No listing API (a static mirror, the built-in model's folder): /api answers 404. */
  noApi?: boolean;
}

export interface HubResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array | null;
}

const LFS_SUFFIXES = ['.safetensors', '.bin', '.model'];
const isLfs = (path: string): boolean => LFS_SUFFIXES.some((s) => path.endsWith(s));

const text = (status: number, message: string): HubResponse => ({
  status,
  headers: { 'content-type': 'text/plain' },
  body: new TextEncoder().encode(message),
});

export class HubLayout {
  private readonly etags = new Map<Uint8Array, string>();
  constructor(readonly repos: RepoFixture[]) {}

  private etag(bytes: Uint8Array): string {
    let e = this.etags.get(bytes);
    if (!e) this.etags.set(bytes, (e = sha256Hex(bytes)));
    return e;
  }

  private repo(org: string, name: string): RepoFixture | undefined {
    return this.repos.find((r) => r.id === `${org}/${name}`);
  }

  private commit(repo: RepoFixture, rev: string): string | null {
    if (repo.refs[rev]) return repo.refs[rev];
    return Object.values(repo.refs).includes(rev) ? rev : null;
  }

  /** Answers one GET or HEAD request for a path (with query) and request headers (lowercase names). */
  handle(method: string, url: string, headers: Record<string, string | undefined>): HubResponse {
    const path = decodeURIComponent(url.split('?')[0]);
    const api = /^\/api\/models\/([^/]+)\/([^/]+)\/revision\/(.+)$/.exec(path);
    if (api) {
      const repo = this.repo(api[1], api[2]);
      if (!repo || repo.noApi) return text(404, 'Repository not found');
      if (repo.gated && !headers.authorization) return text(401, 'Access to this model is restricted');
      const sha = this.commit(repo, api[3]);
      if (!sha) return text(404, `Revision not found: ${api[3]}`);
      const siblings = Object.entries(repo.files).map(([rfilename, bytes]) => ({
        rfilename,
        size: bytes.length,
        ...(isLfs(rfilename) ? { lfs: { sha256: this.etag(bytes), size: bytes.length } } : {}),
      }));
      const body = new TextEncoder().encode(JSON.stringify({ id: repo.id, sha, siblings }));
      return { status: 200, headers: { 'content-type': 'application/json' }, body };
    }
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(path);
    if (cdn) {
      for (const repo of this.repos) {
        for (const bytes of Object.values(repo.files)) {
          if (this.etag(bytes) === cdn[1]) return this.serve(method, bytes, headers, {});
        }
      }
      return text(404, 'No such object');
    }
    const resolve = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (!resolve) return text(404, 'Not found');
    const repo = this.repo(resolve[1], resolve[2]);
    if (!repo) return text(404, 'Repository not found');
    if (repo.gated && !headers.authorization) return text(401, 'Access to this model is restricted');
    const sha = this.commit(repo, resolve[3]);
    const bytes = sha ? repo.files[resolve[4]] : undefined;
    if (!sha || !bytes) return text(404, 'Entry not found');
    const common = { 'x-repo-commit': sha, 'access-control-expose-headers': 'etag, x-repo-commit, x-linked-etag' };
    if (isLfs(resolve[4])) {
      const etag = this.etag(bytes);
      return {
        status: 302,
        headers: {
          ...common,
          location: `/cdn/${etag}`,
          'x-linked-etag': `"${etag}"`,
          'x-linked-size': `${bytes.length}`,
        },
        body: null,
      };
    }
    return this.serve(method, bytes, headers, common);
  }

  private serve(
    method: string,
    bytes: Uint8Array,
    headers: Record<string, string | undefined>,
    extra: Record<string, string>,
  ): HubResponse {
    const etag = `"${this.etag(bytes)}"`;
    const base = { ...extra, etag, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    const range = /^bytes=(\d+)-(\d*)$/.exec(headers.range ?? '');
    const ifRange = headers['if-range'];
    if (range && (!ifRange || ifRange === etag)) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), bytes.length - 1) : bytes.length - 1;
      if (start >= bytes.length || end < start) {
        return { status: 416, headers: { ...base, 'content-range': `bytes */${bytes.length}` }, body: null };
      }
      const part = bytes.subarray(start, end + 1);
      return {
        status: 206,
        headers: {
          ...base,
          'content-range': `bytes ${start}-${end}/${bytes.length}`,
          'content-length': `${part.length}`,
        },
        body: method === 'HEAD' ? null : part,
      };
    }
    return {
      status: 200,
      headers: { ...base, 'content-length': `${bytes.length}` },
      body: method === 'HEAD' ? null : bytes,
    };
  }

  /** The layout as a fetch function (no network): for browser tests and in-page mirrors. */
  fetch(origin: string): typeof fetch {
    return async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      let url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      const headers: Record<string, string> = {};
      new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
      const method = init?.method ?? 'GET';
      for (let hops = 0; hops < 5; hops++) {
        if (url.origin !== origin) throw new TypeError(`fetch to ${url.origin} blocked (only ${origin} is served)`);
        const r = this.handle(method, url.pathname + url.search, headers);
        if (r.status === 302) {
          url = new URL(r.headers.location, url);
          continue;
        }
        const res = new Response(r.body && r.status !== 416 ? r.body.slice() : null, {
          status: r.status,
          headers: r.headers,
        });
        Object.defineProperty(res, 'url', { value: url.href });
        return res;
      }
      throw new TypeError('too many redirects');
    };
  }
}
