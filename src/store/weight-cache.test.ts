// The weight cache in Node over fake-indexeddb (the real browser IndexedDB is proven in
// weight-cache.browser.test.ts): a second load with the server gone uses the cache; corrupt, partial and
// orphaned entries are detected and never used; quota is checked before the weights download; list and
// delete. The Hub is the local test server.

import 'fake-indexeddb/auto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { QuotaExceeded } from '../errors.ts';
import { loadFromHub, type LoadEvent, type LoadOptions } from '../hub/loader.ts';
import { HubTestServer } from '../hub/test-server.ts';
import { COMMIT_A, tinyModel, tinyRepo } from '../hub/test-fixtures.ts';
import { storedWeightBytes } from '../plan/memory.ts';
import { closeLorabookDb } from './db.ts';
import { entryKey } from './manifest.ts';
import { requestPersistence } from './quota.ts';
import { WeightCache } from './weight-cache.ts';

const model = tinyModel(3);
const server = new HubTestServer([tinyRepo('test-org/tiny-llama', model)]);
let endpoint = '';
let dbCount = 0;
let cache: WeightCache;

beforeAll(async () => {
  endpoint = await server.start();
});
afterAll(() => server.stop());
beforeEach(async () => {
  server.clear();
  cache = await WeightCache.open(`lorabook-test-${++dbCount}`);
});

const opts = (o: Partial<LoadOptions> = {}): LoadOptions => ({
  endpoint,
  storage: 'nf4',
  cache,
  storageManager: null,
  retries: 2,
  backoffMs: 1,
  ...o,
});

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

describe('weight cache', () => {
  it('stores a model once and reloads it from IndexedDB with the network gone', async () => {
    const first = await loadFromHub('test-org/tiny-llama', opts());
    expect(first.fromCache).toBe(false);
    const [entry] = await cache.list();
    expect(entry).toMatchObject({ repo: 'test-org/tiny-llama', sha: COMMIT_A, storage: 'nf4', revision: 'main' });
    expect(entry.bytes).toBeGreaterThan(storedWeightBytes(first.spec, 'nf4'));

    // A fresh connection (as after a page reload) and a fetch that fails: nothing may reach the network.
    await closeLorabookDb(`lorabook-test-${dbCount}`);
    cache = await WeightCache.open(`lorabook-test-${dbCount}`);
    const blocked: typeof fetch = () => Promise.reject(new TypeError('network blocked'));
    const events: LoadEvent[] = [];
    const again = await loadFromHub('test-org/tiny-llama', opts({ fetch: blocked, onEvent: (e) => events.push(e) }));
    expect(again.fromCache).toBe(true);
    expect(again.sha).toBe(COMMIT_A);
    expect(events).toContainEqual(expect.objectContaining({ type: 'resolved', offline: true }));
    expect(events).toContainEqual(expect.objectContaining({ type: 'cache', status: 'hit' }));
    for (const [name, t] of first.tensors) {
      const c = again.tensors.get(name)!;
      expect(c.storage).toBe(t.storage);
      expect(same(c.data, t.data)).toBe(true);
      if (t.nf4?.nested) {
        expect(Array.from(c.nf4!.nested!.q)).toEqual(Array.from(t.nf4.nested.q));
        expect(Array.from(c.nf4!.nested!.absmax2)).toEqual(Array.from(t.nf4.nested.absmax2));
        expect(c.nf4!.nested!.offset).toBe(t.nf4.nested.offset);
      }
    }
    expect(new TextDecoder().decode(again.files.get('tokenizer.json'))).toContain('WordLevel');
  });

  it('keeps storage types apart: f16 and NF4 of one commit are two entries', async () => {
    await loadFromHub('test-org/tiny-llama', opts({ storage: 'f16' }));
    await loadFromHub('test-org/tiny-llama', opts({ storage: 'nf4' }));
    expect((await cache.list()).map((e) => e.storage).sort()).toEqual(['f16', 'nf4']);
    server.clear();
    const m = await loadFromHub('test-org/tiny-llama', opts({ storage: 'f16' }));
    expect(m.fromCache).toBe(true);
    // Online, the revision is resolved again (one API request), but no file is fetched.
    expect(server.log.map((r) => r.url.split('?')[0])).toEqual([`/api/models/test-org/tiny-llama/revision/main`]);
  });

  it('detects a corrupt piece, discards the entry and fetches the model again', async () => {
    const first = await loadFromHub('test-org/tiny-llama', opts());
    const key = entryKey('test-org/tiny-llama', COMMIT_A, 'nf4');
    const part = [key, 't:model.layers.0.mlp.up_proj.weight', 0] as [string, string, number];
    const rec = (await cache.db.get('chunks', part))!;
    const bad = new Uint8Array(rec.bytes.slice(0));
    bad[5] ^= 0xff;
    await cache.db.put('chunks', { bytes: bad.buffer }, part);

    server.clear();
    const events: LoadEvent[] = [];
    const again = await loadFromHub('test-org/tiny-llama', opts({ onEvent: (e) => events.push(e) }));
    expect(again.fromCache).toBe(false);
    expect(events).toContainEqual(expect.objectContaining({ type: 'cache', status: 'corrupt' }));
    expect(server.log.some((r) => r.url.startsWith('/cdn/'))).toBe(true);
    const t = again.tensors.get('model.layers.0.mlp.up_proj.weight')!;
    expect(same(t.data, first.tensors.get(t.name)!.data)).toBe(true);
    // The refetched entry is whole again.
    expect((await cache.load('test-org/tiny-llama', COMMIT_A, 'nf4')).status).toBe('hit');
  });

  it('treats a missing piece or a write without manifest as absent, and sweeps orphans', async () => {
    await loadFromHub('test-org/tiny-llama', opts());
    const key = entryKey('test-org/tiny-llama', COMMIT_A, 'nf4');
    await cache.db.delete('chunks', [key, 't:model.norm.weight', 0]);
    const r = await cache.load('test-org/tiny-llama', COMMIT_A, 'nf4');
    expect(r).toMatchObject({ status: 'corrupt' });
    expect(await cache.list()).toEqual([]);

    // A crash mid-write: pieces, no manifest.
    const w = await cache.begin('test-org/other', COMMIT_A, 'main', 'f16');
    await w.putFile('config.json', new Uint8Array([1, 2, 3]));
    expect((await cache.load('test-org/other', COMMIT_A, 'f16')).status).toBe('miss');
    expect(await cache.sweep()).toEqual([entryKey('test-org/other', COMMIT_A, 'f16')]);
    expect(await cache.db.count('chunks')).toBe(0);
  });

  it('checks the quota before the weights download and says what to delete', async () => {
    await loadFromHub('test-org/tiny-llama', opts({ storage: 'f16' }));
    server.clear();
    let persisted = false;
    const tight = {
      estimate: async () => ({ usage: 1000, quota: 2000 }),
      persist: async () => (persisted = true),
      persisted: async () => persisted,
    };
    const err = await loadFromHub('test-org/tiny-llama', opts({ storageManager: tight })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuotaExceeded);
    expect(err).toMatchObject({ availableBytes: 1000 });
    expect((err as Error).message).toMatch(/test-org\/tiny-llama \(f16\)/);
    expect(server.log.some((r) => r.url.includes('safetensors') || r.url.startsWith('/cdn/'))).toBe(false);

    const roomy = { ...tight, estimate: async () => ({ usage: 0, quota: 1e9 }) };
    await loadFromHub('test-org/tiny-llama', opts({ storageManager: roomy }));
    expect(persisted).toBe(true);
    expect(await requestPersistence(roomy)).toBe(true);
  });

  it('lists cached models with sizes and deletes one', async () => {
    await loadFromHub('test-org/tiny-llama', opts({ storage: 'f16' }));
    await loadFromHub('test-org/tiny-llama', opts({ storage: 'f32' }));
    const list = await cache.list();
    expect(list).toHaveLength(2);
    const f32 = list.find((e) => e.storage === 'f32')!;
    const f16 = list.find((e) => e.storage === 'f16')!;
    expect(f32.bytes).toBeGreaterThan(f16.bytes);
    await cache.delete(f32.key);
    expect((await cache.list()).map((e) => e.storage)).toEqual(['f16']);
    expect((await cache.load('test-org/tiny-llama', COMMIT_A, 'f32')).status).toBe('miss');
  });
});
