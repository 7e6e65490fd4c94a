// The weight cache in a real browser (headless Chromium's IndexedDB and navigator.storage): the first load
// streams a tiny Llama from an in-page Hub (the same layout and headers the Node test server serves) and
// stores it; then, on a fresh database connection as after a reload, with fetch blocked for everyone,
// the same model id and revision load from the cache, byte for byte, and the tokenizer files with it.

import { afterEach, describe, expect, it } from 'vitest';
import { HubLayout } from '../hub/hub-layout.ts';
import { loadFromHub } from '../hub/loader.ts';
import { COMMIT_A, tinyModel, tinyRepo } from '../hub/test-fixtures.ts';
import { closeLorabookDb } from './db.ts';
import { defaultStorage } from './quota.ts';
import { WeightCache } from './weight-cache.ts';

const DB = `lorabook-browser-test-${Date.now()}`;
const originalFetch = globalThis.fetch;

afterEach(async () => {
  globalThis.fetch = originalFetch;
  await closeLorabookDb(DB);
  await new Promise<void>((resolve) => {
    const r = indexedDB.deleteDatabase(DB);
    r.onsuccess = r.onerror = r.onblocked = () => resolve();
  });
});

describe('weight cache in Chromium', () => {
  it('reloads a model from IndexedDB with the network blocked', async () => {
    const model = tinyModel(7);
    const origin = 'https://hub.test';
    const hub = new HubLayout([tinyRepo('test-org/tiny-llama', model)]);
    let requests = 0;
    const hubFetch = hub.fetch(origin);
    const counted: typeof fetch = (input, init) => {
      requests++;
      return hubFetch(input, init);
    };
    const storage = defaultStorage();
    expect(storage).not.toBeNull(); // the real navigator.storage: quota is checked against it

    const cache = await WeightCache.open(DB);
    const first = await loadFromHub('test-org/tiny-llama', {
      endpoint: origin,
      fetch: counted,
      cache,
      storage: 'nf4',
      backoffMs: 1,
    });
    expect(first.fromCache).toBe(false);
    expect(requests).toBeGreaterThan(4);
    expect(await cache.list()).toHaveLength(1);

    // "Reload": a new connection, and no network for anyone in the page.
    await closeLorabookDb(DB);
    const blocked = () => Promise.reject(new TypeError('network blocked by the test'));
    globalThis.fetch = blocked;
    const before = requests;
    const cache2 = await WeightCache.open(DB);
    const again = await loadFromHub('test-org/tiny-llama', {
      endpoint: origin,
      fetch: blocked,
      cache: cache2,
      storage: 'nf4',
      retries: 0,
    });
    expect(requests).toBe(before);
    expect(again.fromCache).toBe(true);
    expect(again.sha).toBe(COMMIT_A);
    expect(again.tensors.size).toBe(first.tensors.size);
    for (const [name, t] of first.tensors) {
      const c = again.tensors.get(name)!;
      expect(c.storage).toBe(t.storage);
      expect(c.data.length).toBe(t.data.length);
      expect(c.data.every((b, i) => b === t.data[i])).toBe(true);
    }
    const tok = JSON.parse(new TextDecoder().decode(again.files.get('tokenizer.json')));
    expect(tok.model.type).toBe('WordLevel');
  });

  it('a load cancelled mid-way leaves no half-written entry behind', async () => {
    const hub = new HubLayout([tinyRepo('test-org/tiny-llama', tinyModel(8))]);
    const cache = await WeightCache.open(DB);
    const controller = new AbortController();
    let tensors = 0;
    await expect(
      loadFromHub('test-org/tiny-llama', {
        endpoint: 'https://hub.test',
        fetch: hub.fetch('https://hub.test'),
        cache,
        storage: 'nf4',
        backoffMs: 1,
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'tensor' && ++tensors === 2) controller.abort();
        },
      }),
    ).rejects.toThrow();
    expect(tensors).toBeGreaterThanOrEqual(2);
    expect(await cache.list()).toHaveLength(0);
    expect(await cache.sweep()).toEqual([]); // no orphaned pieces were left to sweep
  });
});
