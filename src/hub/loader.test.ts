// The Hub loader against a local server in the Hub's URL layout (127.0.0.1; no test reaches the internet):
// revision resolution, redirects, Range resume after drops, truncation and stalls, retries, cancellation,
// gated and missing models, f32/f16/NF4 conversion while streaming, sharded checkpoints, local files.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HubError } from '../errors.ts';
import { f32ToF16Bits } from '../gpu/f16.ts';
import { blockScales, dequantize4bit, quantize4bit } from '../quant/blockwise4.ts';
import { storedWeightBytes } from '../plan/memory.ts';
import { download } from './download.ts';
import { loadFromFiles, loadFromHub, type LoadEvent } from './loader.ts';
import { resolveHubModel } from './source.ts';
import { HubTestServer } from './test-server.ts';
import { COMMIT_A, tinyModel, tinyRepo } from './test-fixtures.ts';
import { sha256Hex } from './sha256.ts';

const model = tinyModel(1);
const sharded = tinyModel(2, true);
const big = new Uint8Array(300_000).map((_, i) => (i * 31 + (i >> 8)) & 255);

const server = new HubTestServer([
  tinyRepo('test-org/tiny-llama', model),
  tinyRepo('test-org/tiny-sharded', sharded),
  tinyRepo('test-org/gated-llama', model, { gated: true }),
  { id: 'test-org/blob', refs: { main: COMMIT_A }, files: { 'data.bin': big } },
  { ...tinyRepo('static/tiny-llama', sharded), noApi: true },
]);
let endpoint = '';
const fast = { retries: 4, backoffMs: 1, stallMs: 300 };

beforeAll(async () => {
  endpoint = await server.start();
});
afterAll(() => server.stop());
beforeEach(() => server.clear());

const f32Bytes = (v: Float32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** Byte equality without vitest's element-by-element deep diff (slow on large arrays). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

describe('revision resolution', () => {
  it('resolves a branch, a tag and a commit to the same sha with the file listing', async () => {
    for (const rev of ['main', 'v1.0', COMMIT_A]) {
      const src = await resolveHubModel('test-org/tiny-llama', rev, { endpoint, ...fast });
      expect(src.sha).toBe(COMMIT_A);
      expect([...src.files.keys()].sort()).toEqual(Object.keys(model.files).sort());
      expect(src.files.get('model.safetensors')?.sha256).toBe(sha256Hex(model.files['model.safetensors']));
    }
  });

  it('names missing models and revisions (404) and gated ones (401) in typed errors', async () => {
    const fail = (repo: string, rev = 'main', token?: string) =>
      resolveHubModel(repo, rev, { endpoint, token, ...fast }).then(
        () => null,
        (e: unknown) => e,
      );
    const missing = await fail('test-org/nope');
    expect(missing).toBeInstanceOf(HubError);
    expect(missing).toMatchObject({ reason: 'not-found', status: 404 });
    expect(await fail('test-org/tiny-llama', 'no-such-branch')).toMatchObject({ reason: 'not-found', status: 404 });
    const gated = await fail('test-org/gated-llama');
    expect(gated).toMatchObject({ reason: 'gated', status: 401 });
    expect((gated as Error).message).toMatch(/access token/);
    expect(await fail('test-org/gated-llama', 'main', 'hf_token')).toBeNull();
    expect(await fail('not a repo id')).toMatchObject({ reason: 'not-found' });
  });
});

describe('downloads', () => {
  const url = () => `${endpoint}/test-org/blob/resolve/main/data.bin`;
  const fetchAll = async (o: Parameters<typeof download>[3] = {}) => {
    const parts: Uint8Array[] = [];
    const res = await download(url(), 'data.bin', (c) => void parts.push(c.slice()), { ...fast, ...o });
    const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return { out, res };
  };

  it('streams with progress (bytes, rate, ETA) and checks the ETag SHA-256', async () => {
    const seen: number[] = [];
    const { out, res } = await fetchAll({ onProgress: (p) => seen.push(p.received) });
    expect(same(out, big)).toBe(true);
    expect(res.sha256).toBe(sha256Hex(big));
    expect(res.etag).toBe(`"${sha256Hex(big)}"`);
    expect(seen.at(-1)).toBe(big.length);
  });

  it('resumes with a Range request after a connection dropped mid-file', async () => {
    server.inject({ kind: 'drop', match: /cdn/, after: 100_000 });
    const { out } = await fetchAll();
    expect(same(out, big)).toBe(true);
    const ranged = server.log.filter((r) => r.url.startsWith('/cdn/') && r.range);
    expect(ranged).toHaveLength(1);
    expect(ranged[0].status).toBe(206);
    expect(Number(/bytes=(\d+)-/.exec(ranged[0].range!)![1])).toBeGreaterThan(0);
  });

  it('resumes after a truncated body, a stalled body and a server error', async () => {
    server.inject(
      { kind: 'truncate', match: /cdn/, after: 1234 },
      { kind: 'stall', match: /cdn/, after: 5000, stallMs: 2000 },
      { kind: 'status', match: /cdn/, status: 503 },
    );
    const { out } = await fetchAll({ expectedSize: big.length });
    expect(same(out, big)).toBe(true);
    const cdn = server.log.filter((r) => r.url.startsWith('/cdn/'));
    expect(cdn.map((r) => r.fault)).toEqual(['truncate', 'stall', 'status', null]);
    expect(cdn.slice(1).every((r) => r.range !== null)).toBe(true);
  });

  it('waits out a slow answer', async () => {
    server.inject({ kind: 'slow', match: /cdn/, delayMs: 150 });
    expect(same((await fetchAll()).out, big)).toBe(true);
  });

  it('gives up after the retries with a network error, and stops on 404 and 401 at once', async () => {
    server.inject({ kind: 'status', match: /cdn/, status: 500, times: 10 });
    await expect(fetchAll()).rejects.toMatchObject({ reason: 'network' });
    expect(server.log.filter((r) => r.url.startsWith('/cdn/'))).toHaveLength(5); // the first try and 4 retries
    server.clear();
    server.inject({ kind: 'status', match: /cdn/, status: 404 });
    await expect(fetchAll()).rejects.toMatchObject({ reason: 'not-found', status: 404 });
    server.inject({ kind: 'status', match: /cdn/, status: 401 });
    await expect(fetchAll()).rejects.toMatchObject({ reason: 'gated', status: 401 });
  });

  it('is cancelled by its AbortSignal', async () => {
    const ctl = new AbortController();
    server.inject({ kind: 'stall', match: /cdn/, after: 1000, stallMs: 5000 });
    const p = fetchAll({ signal: ctl.signal, stallMs: 10_000 });
    setTimeout(() => ctl.abort(), 100);
    await expect(p).rejects.toMatchObject({ reason: 'cancelled' });
  });

  it('refuses bytes that do not match the expected SHA-256', async () => {
    await expect(fetchAll({ expectedSha256: '0'.repeat(64) })).rejects.toMatchObject({ reason: 'integrity' });
  });

  it('notices a file that changed between a drop and the resumed request (ETag / If-Range)', async () => {
    const repo = server.layout.repos.find((r) => r.id === 'test-org/blob')!;
    server.inject({ kind: 'drop', match: /cdn/, after: 50_000 });
    const p = fetchAll({
      onProgress: (pr) => {
        if (pr.received >= 50_000) repo.files['data.bin'] = big.map((b) => b ^ 1);
      },
    });
    await expect(p).rejects.toMatchObject({ reason: 'changed' });
    repo.files['data.bin'] = big;
  });
});

describe('loading a model', () => {
  it('follows the redirect of large files and converts bf16 to f32 exactly', async () => {
    const events: LoadEvent[] = [];
    const m = await loadFromHub('test-org/tiny-llama', {
      endpoint,
      storage: 'f32',
      storageManager: null,
      onEvent: (e) => events.push(e),
      ...fast,
    });
    expect(m.sha).toBe(COMMIT_A);
    expect(m.spec.hiddenSize).toBe(64);
    for (const [name, w] of model.weights) {
      const t = m.tensors.get(name)!;
      expect(t.storage).toBe('f32');
      expect(same(t.data, f32Bytes(w))).toBe(true);
    }
    expect(new TextDecoder().decode(m.files.get('tokenizer.json'))).toContain('WordLevel');
    expect(m.files.has('generation_config.json')).toBe(true);
    const weightRequests = server.log.filter((r) => r.url.includes('safetensors') || r.url.startsWith('/cdn/'));
    expect(weightRequests.map((r) => r.status)).toEqual([302, 200]);
    const dl = events.filter((e) => e.type === 'download');
    expect(dl.at(-1)).toMatchObject({ received: model.files['model.safetensors'].length });
    expect(events.filter((e) => e.type === 'tensor')).toHaveLength(model.weights.size);
  });

  it('stores f16 as the bf16 values rounded to nearest even', async () => {
    const m = await loadFromHub('test-org/tiny-llama', { endpoint, storage: 'f16', storageManager: null, ...fast });
    for (const [name, w] of model.weights) {
      const t = m.tensors.get(name)!;
      const h = new Uint16Array(t.data.buffer, t.data.byteOffset, t.data.length / 2);
      expect(Array.from(h)).toEqual(Array.from(w, f32ToF16Bits));
    }
  });

  it('quantizes linear weights to NF4 while streaming (bitsandbytes bytes), the rest to f16', async () => {
    const m = await loadFromHub('test-org/tiny-llama', { endpoint, storage: 'nf4', storageManager: null, ...fast });
    let bytes = 0;
    for (const [name, w] of model.weights) {
      const t = m.tensors.get(name)!;
      const linear = /layers\.\d+\..*_proj\.weight$/.test(name);
      expect(t.storage).toBe(linear ? 'nf4' : 'f16');
      bytes += t.data.length;
      if (!linear) continue;
      const ref = quantize4bit(w, t.shape);
      expect(same(t.data, ref.packed)).toBe(true);
      const nested = t.nf4!.nested!;
      bytes += nested.q.length + 4 * nested.absmax2.length + 4 * nested.code.length + 4;
      // Dequantized: within half the widest NF4 gap of each block's absmax (plus the nested error).
      const back = dequantize4bit({ ...ref, absmax: null, nested });
      const scales = blockScales(ref);
      let worst = 0;
      for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(back[i] - w[i]) - 0.16 * scales[i >> 6]);
      expect(worst).toBeLessThan(1e-3);
    }
    expect(bytes).toBe(storedWeightBytes(m.spec, 'nf4'));
  });

  it('loads a sharded checkpoint through its index, surviving a drop in the second shard', async () => {
    server.inject({ kind: 'drop', match: /cdn/, after: 20_000, times: 1 });
    const m = await loadFromHub('test-org/tiny-sharded', { endpoint, storage: 'f32', storageManager: null, ...fast });
    expect(m.files.has('model.safetensors.index.json')).toBe(true);
    for (const [name, w] of sharded.weights) expect(same(m.tensors.get(name)!.data, f32Bytes(w))).toBe(true);
    expect(server.log.some((r) => r.range !== null && r.status === 206)).toBe(true);
  });

  it('reports a missing shard as not found and a gated model as gated', async () => {
    server.inject({ kind: 'status', match: /model-00002/, status: 404 });
    await expect(
      loadFromHub('test-org/tiny-sharded', { endpoint, storage: 'f32', storageManager: null, ...fast }),
    ).rejects.toMatchObject({ reason: 'not-found', status: 404 });
    await expect(
      loadFromHub('test-org/gated-llama', { endpoint, storageManager: null, ...fast }),
    ).rejects.toMatchObject({
      reason: 'gated',
    });
  });

  it('loads from a static Hub-shaped folder without the listing API (files probed with HEAD)', async () => {
    const m = await loadFromHub('static/tiny-llama', { endpoint, storage: 'f32', storageManager: null, ...fast });
    expect(m.sha).toBe(COMMIT_A); // from X-Repo-Commit
    for (const [name, w] of sharded.weights) expect(same(m.tensors.get(name)!.data, f32Bytes(w))).toBe(true);
    expect(server.log.filter((r) => r.method === 'HEAD').length).toBeGreaterThan(5);
    await expect(loadFromHub('static/nothing', { endpoint, storageManager: null, ...fast })).rejects.toMatchObject({
      reason: 'not-found',
    });
  });

  it('imports picked local files (a folder) with no network', async () => {
    const picked = Object.entries(model.files).map(([path, bytes]) => ({
      path: `tiny-llama/${path}`,
      blob: new Blob([bytes as Uint8Array<ArrayBuffer>]),
    }));
    const before = server.log.length;
    const m = await loadFromFiles('tiny-llama', picked, { storage: 'f32', storageManager: null });
    expect(m.repo).toBe('local/tiny-llama');
    for (const [name, w] of model.weights) expect(same(m.tensors.get(name)!.data, f32Bytes(w))).toBe(true);
    expect(server.log.length).toBe(before);
  });
});

describe('events', () => {
  it('become engine progress events with rate and ETA', async () => {
    const { toEngineEvent } = await import('./events.ts');
    const e = toEngineEvent({
      type: 'download',
      file: 'model.safetensors',
      received: 2 ** 20,
      total: 2 ** 22,
      bytesPerSecond: 2 ** 20,
      etaSeconds: 3,
    });
    expect(e).toEqual({
      type: 'progress',
      task: 'download model.safetensors, 1.0 MB/s, 3 s left',
      done: 2 ** 20,
      total: 2 ** 22,
      unit: 'bytes',
    });
    expect(toEngineEvent({ type: 'cache', status: 'corrupt', detail: 'piece 0' })).toMatchObject({
      type: 'log',
      level: 'warn',
    });
  });
});
