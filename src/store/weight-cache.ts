// The weight cache: converted tensors (f32, f16 or NF4) and the model's small files, stored per model,
// resolved commit sha and storage type, in pieces of at most 8 MiB, each with its SHA-256 in a manifest
// that is written last. Loading checks every piece: a missing, short or altered piece means the entry is
// corrupt; it is deleted and the loader fetches the model again, so a bad entry is never used.
// Why pieces: IndexedDB handles moderate values well and giant ones badly, and a piece can be hashed with
// crypto.subtle in one call.

import type { ConvertedTensor } from '../hub/convert.ts';
import { openLorabookDb, type LorabookDb } from './db.ts';
import {
  entryKey,
  MANIFEST_VERSION,
  type FileManifest,
  type PartRecord,
  type TensorManifest,
  type WeightManifest,
} from './manifest.ts';
import { pieceProblem, sha256Hex, splitPieces } from './pieces.ts';
import { toQuotaError } from './quota.ts';

export const PART_BYTES = 8 * 1024 * 1024;

const pad4 = (n: number) => Math.ceil(n / 4) * 4;

/** The NF4 statistics of a tensor as bytes (absmax; or q, absmax2, code), and back. */
function encodeAux(t: ConvertedTensor): Uint8Array {
  const q = t.nf4;
  if (!q) return new Uint8Array(0);
  if (q.absmax) return new Uint8Array(q.absmax.buffer, q.absmax.byteOffset, q.absmax.byteLength).slice();
  const n = q.nested!;
  const out = new Uint8Array(pad4(n.q.length) + 4 * n.absmax2.length + 4 * n.code.length);
  out.set(n.q, 0);
  new Float32Array(out.buffer, pad4(n.q.length), n.absmax2.length).set(n.absmax2);
  new Float32Array(out.buffer, pad4(n.q.length) + 4 * n.absmax2.length, n.code.length).set(n.code);
  return out;
}

function decodeTensor(m: TensorManifest, data: Uint8Array, aux: Uint8Array): ConvertedTensor {
  const base = { name: m.name, shape: m.shape, sourceDtype: m.sourceDtype, storage: m.storage, data };
  if (!m.nf4) return { ...base, nf4: null };
  const { blocksize, blocks, nested } = m.nf4;
  if (!nested)
    return { ...base, nf4: { blocksize, absmax: new Float32Array(aux.buffer, aux.byteOffset, blocks), nested: null } };
  const at = aux.byteOffset;
  return {
    ...base,
    nf4: {
      blocksize,
      absmax: null,
      nested: {
        q: aux.subarray(0, blocks),
        absmax2: new Float32Array(aux.buffer, at + pad4(blocks), nested.groups),
        offset: nested.offset,
        blocksize: nested.blocksize,
        code: new Float32Array(aux.buffer, at + pad4(blocks) + 4 * nested.groups, nested.codeLength),
      },
    },
  };
}

export interface CachedModel {
  manifest: WeightManifest;
  tensors: Map<string, ConvertedTensor>;
  files: Map<string, Uint8Array>;
}

export type CacheLoad =
  { status: 'hit'; model: CachedModel } | { status: 'miss' } | { status: 'corrupt'; reason: string };

export interface CachedModelSummary {
  key: string;
  repo: string;
  sha: string;
  revision: string;
  storage: string;
  bytes: number;
  createdAt: number;
}

/** Writes one model entry piece by piece; `commit` writes the manifest (nothing loads before it). */
export class CacheWriter {
  private readonly files: FileManifest[] = [];
  private readonly tensors: TensorManifest[] = [];
  private total = 0;

  constructor(
    private readonly db: LorabookDb,
    readonly key: string,
    private readonly info: { repo: string; sha: string; revision: string; storage: string },
  ) {}

  private async putParts(name: string, segments: Uint8Array[]): Promise<PartRecord[]> {
    const parts: PartRecord[] = [];
    const pieces = splitPieces(segments, PART_BYTES);
    const hashes = await Promise.all(pieces.map(sha256Hex));
    try {
      const tx = this.db.transaction('chunks', 'readwrite');
      pieces.forEach((p, i) => {
        void tx.store.put({ bytes: p.slice().buffer }, [this.key, name, i]);
        parts.push({ bytes: p.length, sha256: hashes[i] });
      });
      await tx.done;
    } catch (e) {
      throw toQuotaError(
        e,
        pieces.reduce((a, p) => a + p.length, 0),
      );
    }
    for (const p of parts) this.total += p.bytes;
    return parts;
  }

  async putFile(path: string, bytes: Uint8Array): Promise<void> {
    this.files.push({ path, bytes: bytes.length, parts: await this.putParts(`f:${path}`, [bytes]) });
  }

  async putTensor(t: ConvertedTensor): Promise<void> {
    const aux = encodeAux(t);
    const parts = await this.putParts(`t:${t.name}`, [t.data, aux]);
    const q = t.nf4;
    this.tensors.push({
      name: t.name,
      shape: t.shape,
      sourceDtype: t.sourceDtype,
      storage: t.storage,
      dataBytes: t.data.length,
      auxBytes: aux.length,
      nf4: q
        ? {
            blocksize: q.blocksize,
            blocks: q.absmax ? q.absmax.length : q.nested!.q.length,
            nested: q.nested
              ? {
                  offset: q.nested.offset,
                  blocksize: q.nested.blocksize,
                  groups: q.nested.absmax2.length,
                  codeLength: q.nested.code.length,
                }
              : null,
          }
        : null,
      parts,
    });
  }

  async commit(): Promise<WeightManifest> {
    const manifest: WeightManifest = {
      version: MANIFEST_VERSION,
      key: this.key,
      ...this.info,
      createdAt: Date.now(),
      totalBytes: this.total,
      files: this.files,
      tensors: this.tensors,
    };
    try {
      await this.db.put('manifests', manifest, this.key);
    } catch (e) {
      throw toQuotaError(e, 0);
    }
    return manifest;
  }
}

export class WeightCache {
  private constructor(readonly db: LorabookDb) {}

  static async open(dbName?: string): Promise<WeightCache> {
    return new WeightCache(await openLorabookDb(dbName));
  }

  /** Starts writing an entry: anything left under its key (a crashed write) is removed first. */
  async begin(repo: string, sha: string, revision: string, storage: string): Promise<CacheWriter> {
    const key = entryKey(repo, sha, storage);
    await this.delete(key);
    return new CacheWriter(this.db, key, { repo, sha, revision, storage });
  }

  async setRef(repo: string, revision: string, sha: string): Promise<void> {
    await this.db.put('refs', { repo, revision, sha, at: Date.now() }, `${repo}@${revision}`);
  }

  /** The commit a revision last resolved to (for loading while offline). */
  async ref(repo: string, revision: string): Promise<string | null> {
    return (await this.db.get('refs', `${repo}@${revision}`))?.sha ?? null;
  }

  private async readParts(
    name: string,
    key: string,
    parts: PartRecord[],
    out: Uint8Array[],
    sizes: number[],
  ): Promise<string | null> {
    let seg = 0;
    let at = 0;
    for (let i = 0; i < parts.length; i++) {
      const rec = await this.db.get('chunks', [key, name, i]);
      const bytes = rec && new Uint8Array(rec.bytes);
      const problem = await pieceProblem(`piece ${i} of ${name}`, bytes, parts[i]);
      if (problem || !bytes) return problem;
      while (seg < sizes.length && at === sizes[seg]) {
        seg++;
        at = 0;
      }
      if (seg >= sizes.length || at + bytes.length > sizes[seg]) return `pieces of ${name} do not add up`;
      out[seg].set(bytes, at);
      at += bytes.length;
    }
    return null;
  }

  /** The entry if it is complete and every piece checks out; a corrupt entry is deleted. */
  async load(repo: string, sha: string, storage: string): Promise<CacheLoad> {
    const key = entryKey(repo, sha, storage);
    const manifest = await this.db.get('manifests', key);
    if (!manifest) return { status: 'miss' };
    const tensors = new Map<string, ConvertedTensor>();
    const files = new Map<string, Uint8Array>();
    let problem: string | null = manifest.version === MANIFEST_VERSION ? null : `manifest version ${manifest.version}`;
    for (const f of manifest.files) {
      if (problem) break;
      const bytes = new Uint8Array(f.bytes);
      problem = await this.readParts(`f:${f.path}`, key, f.parts, [bytes], [f.bytes]);
      files.set(f.path, bytes);
    }
    for (const t of manifest.tensors) {
      if (problem) break;
      const data = new Uint8Array(t.dataBytes);
      const aux = new Uint8Array(t.auxBytes);
      problem = await this.readParts(`t:${t.name}`, key, t.parts, [data, aux], [t.dataBytes, t.auxBytes]);
      if (!problem) tensors.set(t.name, decodeTensor(t, data, aux));
    }
    if (problem) {
      await this.delete(key);
      return { status: 'corrupt', reason: problem };
    }
    return { status: 'hit', model: { manifest, tensors, files } };
  }

  /** Every complete cached model, with its size. */
  async list(): Promise<CachedModelSummary[]> {
    const all = await this.db.getAll('manifests');
    return all.map((m) => ({
      key: m.key,
      repo: m.repo,
      sha: m.sha,
      revision: m.revision,
      storage: m.storage,
      bytes: m.totalBytes,
      createdAt: m.createdAt,
    }));
  }

  /** Deletes an entry: the manifest first (so it stops loading), then its pieces. */
  async delete(key: string): Promise<void> {
    await this.db.delete('manifests', key);
    await this.db.delete('chunks', IDBKeyRange.bound([key], [key, []]));
  }

  /** Removes pieces that belong to no manifest (writes interrupted by a crash). Returns the keys swept. */
  async sweep(): Promise<string[]> {
    const keep = new Set(await this.db.getAllKeys('manifests'));
    const orphans = new Set<string>();
    let cursor = await this.db.transaction('chunks').store.openKeyCursor();
    while (cursor) {
      const k = cursor.key[0];
      if (!keep.has(k)) orphans.add(k);
      cursor = await cursor.continue();
    }
    for (const k of orphans) await this.db.delete('chunks', IDBKeyRange.bound([k], [k, []]));
    return [...orphans];
  }
}
