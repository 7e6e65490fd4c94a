// Loads a model, once: resolve the id and revision to a commit, use the weight cache when it holds that
// commit in the asked storage type (no network at all), otherwise download config, generation config,
// tokenizer files and the safetensors (single file or shards), converting or quantizing each tensor as it
// streams in and writing it to the cache; the manifest is committed last. Storage quota is checked before
// the weights download starts. Offline, a revision resolves through the cache's last known commit.

import { HubError } from '../errors.ts';
import { expectedTensorNames, parseModelConfig, type ModelSpec } from '../model/config.ts';
import { INDEX_FILE, parseShardIndex, SafetensorsError } from '../model/safetensors.ts';
import { storedWeightBytes } from '../plan/memory.ts';
import { checkQuota, requestPersistence, type StorageLike } from '../store/quota.ts';
import type { WeightCache } from '../store/weight-cache.ts';
import { SafetensorsStreamConverter, type ConvertedTensor, type StorageType } from './convert.ts';
import type { DownloadProgress } from './download.ts';
import { localSource, resolveHubModel, type HubOptions, type LocalFile, type ModelSource } from './source.ts';

/** Small files fetched with the weights when the repository has them (tokenizers load from these). */
export const MODEL_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
] as const;

export type LoadEvent =
  | { type: 'resolved'; repo: string; revision: string; sha: string; offline: boolean }
  | { type: 'cache'; status: 'hit' | 'miss' | 'corrupt' | 'stored'; detail: string }
  | ({ type: 'download' } & DownloadProgress)
  | { type: 'tensor'; name: string; storage: string; done: number; total: number };

export interface LoadOptions extends HubOptions {
  revision?: string;
  /** How weights are kept: f32, f16, or NF4 for the decoder's linear weights (rest f16). Default f16. */
  storage?: StorageType;
  /** Double-quantize NF4 absmax. Default true. */
  doubleQuant?: boolean;
  cache?: WeightCache | null;
  /** navigator.storage (or a stand-in) for the quota check and persistence; null skips both. */
  storageManager?: StorageLike | null;
  onEvent?: (e: LoadEvent) => void;
}

export interface LoadedModel {
  repo: string;
  revision: string;
  sha: string;
  storage: StorageType;
  config: Record<string, unknown>;
  spec: ModelSpec;
  /** config.json, tokenizer files, ... by path, as bytes. */
  files: Map<string, Uint8Array>;
  tensors: Map<string, ConvertedTensor>;
  fromCache: boolean;
}

const storageKey = (o: LoadOptions) => {
  const s = o.storage ?? 'f16';
  return s === 'nf4' && o.doubleQuant === false ? 'nf4-plain' : s;
};

function parseConfig(bytes: Uint8Array | undefined, repo: string): Record<string, unknown> {
  if (!bytes) throw new HubError(`${repo} has no config.json`, 'not-found', `${repo}/config.json`, 404);
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}

function checkTensors(spec: ModelSpec, tensors: Map<string, ConvertedTensor>, repo: string): void {
  for (const e of expectedTensorNames(spec)) {
    const t = tensors.get(e.name);
    if (!t || t.shape.join(',') !== e.shape.join(',')) {
      throw new SafetensorsError(
        `${repo}: tensor ${e.name} ${t ? `has shape [${t.shape}], config.json implies [${e.shape}]` : 'is missing'}`,
        'model.safetensors',
        t ? 'shape' : 'not-found',
        e.name,
      );
    }
  }
}

/** Loads from any source (Hub or picked files), through the cache when one is given. */
export async function loadFromSource(source: ModelSource, o: LoadOptions = {}): Promise<LoadedModel> {
  const storage = o.storage ?? 'f16';
  const key = storageKey(o);
  const emit = o.onEvent ?? (() => {});
  const cache = o.cache ?? null;
  const base = { repo: source.repo, revision: source.revision, sha: source.sha, storage };

  if (cache) {
    const hit = await cache.load(source.repo, source.sha, key);
    if (hit.status === 'hit') {
      emit({ type: 'cache', status: 'hit', detail: hit.model.manifest.key });
      const config = parseConfig(hit.model.files.get('config.json'), source.repo);
      return {
        ...base,
        config,
        spec: parseModelConfig(config),
        files: hit.model.files,
        tensors: hit.model.tensors,
        fromCache: true,
      };
    }
    emit({ type: 'cache', status: hit.status, detail: hit.status === 'corrupt' ? hit.reason : key });
  }

  // A cancelled load stops between files, chunks and tensors (a Hub download also aborts its request).
  const checkSignal = () => o.signal?.throwIfAborted();
  const files = new Map<string, Uint8Array>();
  const readWhole = async (path: string) => {
    checkSignal();
    const parts: Uint8Array[] = [];
    await source.read(path, (c) => {
      checkSignal();
      parts.push(c.slice());
    });
    const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  for (const path of MODEL_FILES) {
    if (path === 'config.json' || source.files.has(path)) files.set(path, await readWhole(path));
  }
  const config = parseConfig(files.get('config.json'), source.repo);
  const spec = parseModelConfig(config);

  let shards: string[];
  if (source.files.has(INDEX_FILE)) {
    const index = await readWhole(INDEX_FILE);
    files.set(INDEX_FILE, index);
    shards = parseShardIndex(new TextDecoder().decode(index)).files;
  } else if (source.files.has('model.safetensors')) shards = ['model.safetensors'];
  else {
    throw new HubError(
      `${source.repo} has no model.safetensors or ${INDEX_FILE} (only safetensors weights are loaded)`,
      'not-found',
      source.repo,
      404,
    );
  }

  if (o.storageManager !== null) {
    const freeable = cache
      ? (await cache.list()).map((m) => ({ name: `${m.repo} (${m.storage})`, bytes: m.bytes }))
      : [];
    await checkQuota(storedWeightBytes(spec, storage), o.storageManager, freeable);
    await requestPersistence(o.storageManager);
  }

  const writer = cache ? await cache.begin(source.repo, source.sha, source.revision, key) : null;
  const tensors = new Map<string, ConvertedTensor>();
  try {
    if (writer) for (const [path, bytes] of files) await writer.putFile(path, bytes);
    const expected = expectedTensorNames(spec).length;
    for (const shard of shards) {
      const conv = new SafetensorsStreamConverter(
        shard,
        source.files.get(shard)?.size ?? null,
        { storage, doubleQuant: o.doubleQuant },
        async (t) => {
          checkSignal();
          tensors.set(t.name, t);
          emit({ type: 'tensor', name: t.name, storage: t.storage, done: tensors.size, total: expected });
          if (writer) await writer.putTensor(t);
        },
      );
      await source.read(
        shard,
        (c) => {
          checkSignal();
          return conv.push(c);
        },
        (p) => emit({ type: 'download', ...p }),
      );
      await conv.end();
    }
    checkTensors(spec, tensors, source.repo);
    checkSignal(); // the manifest is committed last: a cancelled load leaves no cache entry that loads
    if (writer && cache) {
      const m = await writer.commit();
      if (source.revision !== source.sha) await cache.setRef(source.repo, source.revision, source.sha);
      emit({ type: 'cache', status: 'stored', detail: `${m.key} (${m.totalBytes} bytes)` });
    }
  } catch (e) {
    // A failed or cancelled load leaves no half-written entry taking storage (best effort: the error wins).
    if (writer && cache) await cache.delete(writer.key).catch(() => {});
    throw e;
  }
  return { ...base, config, spec, files, tensors, fromCache: false };
}

/** Loads a Hub model by id and revision; offline, through the commit the cache last resolved it to. */
export async function loadFromHub(repo: string, o: LoadOptions = {}): Promise<LoadedModel> {
  const revision = o.revision ?? 'main';
  const emit = o.onEvent ?? (() => {});
  let source: ModelSource;
  try {
    source = await resolveHubModel(repo, revision, o);
    emit({ type: 'resolved', repo, revision, sha: source.sha, offline: false });
  } catch (e) {
    const offline = e instanceof HubError && e.reason === 'network';
    const sha =
      offline && o.cache
        ? await o.cache.ref(repo, revision)
        : /^[0-9a-f]{40}$/.test(revision) && offline
          ? revision
          : null;
    if (!sha) throw e;
    emit({ type: 'resolved', repo, revision, sha, offline: true });
    source = {
      repo,
      revision,
      sha,
      files: new Map(),
      read: () => Promise.reject(e),
    };
  }
  return loadFromSource(source, o);
}

/** Loads files the user picked (a model folder in the Hub's layout). No network. */
export function loadFromFiles(name: string, picked: readonly LocalFile[], o: LoadOptions = {}): Promise<LoadedModel> {
  return loadFromSource(localSource(name, picked), o);
}
