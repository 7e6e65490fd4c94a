// Where a model's files come from: the Hugging Face Hub (resolved to one commit, so every file is from
// the same revision) or files the user picked (a local folder in the same layout, no network). Both
// stream a file into a consumer, so the loader converts weights as they arrive either way.

import { HubError } from '../errors.ts';
import { download, downloadBytes, type DownloadOptions, type DownloadProgress } from './download.ts';
import { sha256Hex } from './sha256.ts';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface SourceFile {
  size: number | null;
  sha256: string | null;
}

export interface ModelSource {
  /** "org/name" on the Hub, "local/<folder>" for picked files. */
  repo: string;
  /** The revision asked for ("main", a tag, a commit). */
  revision: string;
  /** The commit sha (or, for local files, a fingerprint of names, sizes and dates). */
  sha: string;
  files: Map<string, SourceFile>;
  /** Streams a file into `consume`. */
  read(
    path: string,
    consume: (chunk: Uint8Array) => void | Promise<void>,
    onProgress?: (p: DownloadProgress) => void,
  ): Promise<void>;
}

export interface HubOptions {
  /** Hub base URL (a mirror, or a local test server). Default https://huggingface.co. */
  endpoint?: string;
  /** Access token for gated or private models. */
  token?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  retries?: number;
  backoffMs?: number;
  stallMs?: number;
}

const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

function downloadOptions(o: HubOptions): DownloadOptions {
  return {
    fetch: o.fetch,
    signal: o.signal,
    headers: o.token ? { authorization: `Bearer ${o.token}` } : undefined,
    retries: o.retries,
    backoffMs: o.backoffMs,
    stallMs: o.stallMs,
  };
}

/** The URL of a file at a commit in the Hub's layout. */
export function resolveUrl(endpoint: string, repo: string, rev: string, path: string): string {
  return `${endpoint.replace(/\/$/, '')}/${repo}/resolve/${encodeURIComponent(rev)}/${encodePath(path)}`;
}

/** Resolves a model id and revision (branch, tag or commit) to its commit sha and file listing. */
export async function resolveHubModel(repo: string, revision = 'main', o: HubOptions = {}): Promise<ModelSource> {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) {
    throw new HubError(`"${repo}" is not a Hub model id (expected "organization/name")`, 'not-found', repo);
  }
  const endpoint = (o.endpoint ?? DEFAULT_ENDPOINT).replace(/\/$/, '');
  const api = `${endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
  let bytes: Uint8Array;
  try {
    bytes = await downloadBytes(api, `${repo}@${revision}`, downloadOptions(o));
  } catch (e) {
    // A static mirror (a Hub-shaped folder on any web server) has no API: probe its files instead.
    if (e instanceof HubError && e.reason === 'not-found')
      return (await probeStaticModel(repo, revision, endpoint, o)) ?? Promise.reject(e);
    throw e;
  }
  let info: { sha?: unknown; siblings?: unknown };
  try {
    info = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new HubError(`the Hub's answer for ${repo}@${revision} is not JSON`, 'http', api, 200);
  }
  if (typeof info.sha !== 'string' || !Array.isArray(info.siblings)) {
    throw new HubError(`the Hub's answer for ${repo}@${revision} has no sha or file list`, 'http', api, 200);
  }
  const files = new Map<string, SourceFile>();
  for (const s of info.siblings as { rfilename?: unknown; size?: unknown; lfs?: { sha256?: unknown } }[]) {
    if (typeof s.rfilename !== 'string') continue;
    files.set(s.rfilename, {
      size: typeof s.size === 'number' ? s.size : null,
      sha256: typeof s.lfs?.sha256 === 'string' ? s.lfs.sha256 : null,
    });
  }
  return hubSource(repo, revision, info.sha, files, endpoint, o);
}

function hubSource(
  repo: string,
  revision: string,
  sha: string,
  files: Map<string, SourceFile>,
  endpoint: string,
  o: HubOptions,
): ModelSource {
  return {
    repo,
    revision,
    sha,
    files,
    async read(path, consume, onProgress) {
      const f = files.get(path);
      await download(resolveUrl(endpoint, repo, sha, path), path, consume, {
        ...downloadOptions(o),
        expectedSize: f?.size ?? null,
        expectedSha256: f?.sha256 ?? null,
        onProgress,
      });
    },
  };
}

/** Files a static mirror may hold, probed with HEAD when there is no listing API. */
const PROBED = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
  'model.safetensors.index.json',
  'model.safetensors',
];

/**
 * A Hub-shaped folder without the API (the built-in model under public/, a mirror): config.json must be
 * there; the commit is its X-Repo-Commit header or else the revision itself. Null when there is no
 * config.json either. Shards named by an index are read from the index by the loader.
 */
async function probeStaticModel(
  repo: string,
  revision: string,
  endpoint: string,
  o: HubOptions,
): Promise<ModelSource | null> {
  const doFetch = o.fetch ?? globalThis.fetch.bind(globalThis);
  const headers = o.token ? { authorization: `Bearer ${o.token}` } : undefined;
  const files = new Map<string, SourceFile>();
  let sha: string | null = null;
  for (const path of PROBED) {
    let res: Response;
    try {
      res = await doFetch(resolveUrl(endpoint, repo, revision, path), { method: 'HEAD', headers, signal: o.signal });
    } catch {
      continue;
    }
    if (!res.ok) {
      if (path === 'config.json') return null;
      continue;
    }
    const len = Number(res.headers.get('content-length') ?? NaN);
    files.set(path, { size: Number.isFinite(len) ? len : null, sha256: null });
    sha ??= res.headers.get('x-repo-commit');
  }
  return hubSource(repo, revision, sha ?? revision, files, endpoint, o);
}

/** A picked file: its path inside the model folder and its contents. */
export interface LocalFile {
  path: string;
  blob: Blob;
}

/** Files the user picked (a folder or several files), laid out as on the Hub. No network. */
export function localSource(name: string, picked: readonly LocalFile[]): ModelSource {
  // Picking a folder gives "folder/config.json": drop a common first directory.
  const first = picked[0]?.path.split('/')[0];
  const strip = picked.length > 0 && picked.every((f) => f.path.startsWith(`${first}/`));
  const byPath = new Map(picked.map((f) => [strip ? f.path.slice(first.length + 1) : f.path, f.blob]));
  const fingerprint = [...byPath]
    .map(([p, b]) => `${p}:${b.size}:${(b as Partial<File>).lastModified ?? 0}`)
    .sort()
    .join('\n');
  const files = new Map([...byPath].map(([p, b]) => [p, { size: b.size, sha256: null }]));
  return {
    repo: `local/${name}`,
    revision: 'local',
    sha: sha256Hex(new TextEncoder().encode(fingerprint)).slice(0, 40),
    files,
    async read(path, consume, onProgress) {
      const blob = byPath.get(path);
      if (!blob) throw new HubError(`${path} is not among the picked files`, 'not-found', path, 404);
      const reader = blob.stream().getReader();
      let received = 0;
      try {
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          await consume(r.value);
          received += r.value.length;
          onProgress?.({ file: path, received, total: blob.size, bytesPerSecond: 0, etaSeconds: null });
        }
      } catch (e) {
        void reader.cancel(); // a consumer that throws (a cancelled load) stops the stream
        throw e;
      }
    },
  };
}
