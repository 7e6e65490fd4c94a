// Share links: a notebook survives the round trip exactly (recorded losses bit for bit), the same notebook
// always gives the same link, inline data is bounded, and every kind of damage gives a ShareLinkError with
// its reason (and, for schema failures, the failing field's path) instead of a notebook.

import { deflateSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { ShareLinkError, VerifiedFetchError } from '../errors.ts';
import { crc32 } from './crc32.ts';
import { fetchVerified, sha256Hex } from './hash.ts';
import {
  MAX_FRAGMENT_CHARS,
  MAX_INFLATED_BYTES,
  decodeNotebookFragment,
  encodeNotebookFragment,
  fromBase64Url,
  isShareFragment,
  localSourceCells,
  shareUrl,
  toBase64Url,
} from './link.ts';
import type { Notebook } from './notebook.ts';
import { sampleNotebook, sampleTrainConfig } from './test-notebook.ts';

/** Frames arbitrary bytes as a v1 link the way the codec does (so the schema layer can be reached). */
function frameJson(json: Uint8Array, body = deflateSync(json, { level: 9 }), declared = json.length): string {
  const framed = new Uint8Array(12 + body.length);
  const view = new DataView(framed.buffer);
  view.setUint32(0, body.length, true);
  view.setUint32(4, declared, true);
  view.setUint32(8, crc32(json), true);
  framed.set(body, 12);
  return `nb=v1.${toBase64Url(framed)}`;
}
const frameValue = (value: unknown) => frameJson(new TextEncoder().encode(JSON.stringify(value)));

function reasonOf(fn: () => unknown): { reason: string; path: string | null; message: string } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ShareLinkError);
    const s = e as ShareLinkError;
    return { reason: s.reason, path: s.path, message: s.message };
  }
  throw new Error('expected a ShareLinkError, got a notebook');
}

/** Deterministic incompressible text (an LCG's bytes as hex). */
function noise(chars: number, seed = 1): string {
  let x = seed >>> 0;
  let s = '';
  while (s.length < chars) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    s += (x >>> 24).toString(16).padStart(2, '0');
  }
  return s.slice(0, chars);
}

describe('share link codec', () => {
  it('round-trips a notebook exactly, losses bit for bit', () => {
    const nb = sampleNotebook();
    const frag = encodeNotebookFragment(nb);
    expect(frag.startsWith('nb=v1.')).toBe(true);
    expect(isShareFragment(`#${frag}`)).toBe(true);
    const back = decodeNotebookFragment(`#${frag}`);
    expect(back).toEqual(nb);
    const sent = nb.recordedLosses?.train ?? [];
    const got = back.recordedLosses?.train ?? [];
    expect(got.length).toBe(sent.length);
    for (let i = 0; i < sent.length; i++) expect(Object.is(got[i], sent[i])).toBe(true);
    // Float32 values as the trainer records them survive exactly too.
    const f32 = [...new Float32Array([6.9314718, 2.3025851, 1e-7, 0.1])];
    const nb2 = sampleNotebook({ recordedLosses: { train: f32 } });
    expect(decodeNotebookFragment(encodeNotebookFragment(nb2)).recordedLosses?.train).toEqual(f32);
  });

  it('gives the same link for the same notebook, whatever the key order', () => {
    const a = sampleNotebook();
    const b: Notebook = Object.fromEntries(Object.entries(structuredClone(a)).reverse()) as unknown as Notebook;
    b.cells = b.cells.map((c) => Object.fromEntries(Object.entries(c).reverse()) as unknown as typeof c);
    expect(encodeNotebookFragment(b)).toBe(encodeNotebookFragment(a));
    expect(Object.keys(b)).not.toEqual(Object.keys(a));
    // A different notebook gives a different link.
    expect(encodeNotebookFragment(sampleNotebook({ title: 'other' }))).not.toBe(encodeNotebookFragment(a));
    const url = shareUrl(a, 'http://127.0.0.1:4173/?x=1#old');
    expect(url).toBe(`http://127.0.0.1:4173/?x=1#${encodeNotebookFragment(a)}`);
  });

  it("names the cells whose source stays on the sharer's machine", () => {
    const nb = sampleNotebook();
    expect(localSourceCells(nb)).toEqual([]);
    nb.cells[1] = { id: 'model', type: 'model', source: { kind: 'local', name: 'my-model' } };
    expect(localSourceCells(nb)).toEqual(['model']);
  });

  it('keeps the first N recorded losses', () => {
    const losses = Array.from({ length: 500 }, (_, i) => 5 - i / 200);
    const nb = sampleNotebook({ recordedLosses: { train: losses } });
    expect(decodeNotebookFragment(encodeNotebookFragment(nb)).recordedLosses?.train).toEqual(losses.slice(0, 200));
    expect(decodeNotebookFragment(encodeNotebookFragment(nb, { maxLosses: 20 })).recordedLosses?.train).toEqual(
      losses.slice(0, 20),
    );
  });

  it('carries inline rows up to 8 KB compressed and refuses more, naming the field', () => {
    const withText = (text: string) => {
      const nb = sampleNotebook();
      const cell = nb.cells[2];
      if (cell.type !== 'dataset') throw new Error('fixture');
      cell.config.source = { kind: 'inline', name: 'noise.txt', text };
      return nb;
    };
    const small = withText(noise(12_000)); // hex noise deflates to about half: ~6 KB
    expect(decodeNotebookFragment(encodeNotebookFragment(small))).toEqual(small);
    const big = reasonOf(() => encodeNotebookFragment(withText(noise(20_000))));
    expect(big).toMatchObject({ reason: 'too-large', path: 'cells[2].config.source.text' });
    // A hand-made link with the same oversized inline rows is refused on opening as well.
    const forged = frameValue(withText(noise(20_000)));
    expect(reasonOf(() => decodeNotebookFragment(forged))).toMatchObject({ reason: 'too-large' });
  });

  it('refuses to encode an invalid notebook (a NaN learning rate), naming the field', () => {
    const nb = sampleNotebook();
    nb.cells[3] = { id: 'train', type: 'train', config: sampleTrainConfig({ lr: NaN }) };
    expect(reasonOf(() => encodeNotebookFragment(nb))).toMatchObject({ reason: 'invalid', path: 'cells[3].config.lr' });
  });
});

describe('damaged and hostile links', () => {
  const good = encodeNotebookFragment(sampleNotebook());
  const bytesOf = (frag: string) => fromBase64Url(frag.slice('nb=v1.'.length));
  const withBytes = (b: Uint8Array) => `nb=v1.${toBase64Url(b)}`;

  it('a flipped byte anywhere in the body is corrupt', () => {
    const bytes = bytesOf(good);
    for (const at of [12, 13, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const b = bytes.slice();
      b[at] ^= 0x10;
      expect(reasonOf(() => decodeNotebookFragment(withBytes(b))).reason, `byte ${at}`).toBe('corrupt');
    }
    // A flipped checksum byte, and a character that base64url does not have.
    const c = bytes.slice();
    c[9] ^= 1;
    expect(reasonOf(() => decodeNotebookFragment(withBytes(c))).reason).toBe('corrupt');
    expect(reasonOf(() => decodeNotebookFragment(good.slice(0, 40) + '!' + good.slice(41))).reason).toBe('corrupt');
  });

  it('a link cut anywhere is truncated', () => {
    for (const keep of [good.length - 1, good.length - 2, good.length - 3, good.length - 40, 30, 12, 7, 6]) {
      expect(reasonOf(() => decodeNotebookFragment(good.slice(0, keep))).reason, `kept ${keep}`).toBe('truncated');
    }
  });

  it('an oversized fragment is refused before it is decoded', () => {
    const huge = `nb=v1.${'A'.repeat(MAX_FRAGMENT_CHARS)}`;
    expect(reasonOf(() => decodeNotebookFragment(huge)).reason).toBe('too-large');
    // A header that declares more than the inflated limit.
    const b = bytesOf(good);
    new DataView(b.buffer).setUint32(4, MAX_INFLATED_BYTES + 1, true);
    expect(reasonOf(() => decodeNotebookFragment(withBytes(b))).reason).toBe('too-large');
  });

  it('a zip bomb stops at the inflate cap', () => {
    const zeros = new Uint8Array(24 * 1024 * 1024);
    const body = deflateSync(zeros, { level: 9 });
    const bomb = frameJson(new TextEncoder().encode('{}'), body, 2);
    expect(bomb.length).toBeLessThan(MAX_FRAGMENT_CHARS);
    expect(reasonOf(() => decodeNotebookFragment(bomb)).reason).toBe('too-large');
  });

  it('another format version is a version error', () => {
    expect(reasonOf(() => decodeNotebookFragment(good.replace('nb=v1.', 'nb=v2.'))).reason).toBe('version');
    expect(reasonOf(() => decodeNotebookFragment(frameValue({ ...sampleNotebook(), version: 2 }))).reason).toBe(
      'version',
    );
  });

  it('wrong types and values are invalid, with the failing field named', () => {
    const cases: [string, (nb: Record<string, unknown> & Notebook) => void, string][] = [
      ['an unknown cell type', (nb) => ((nb.cells[4] as { type: string }).type = 'shell'), 'cells[4].type'],
      [
        'a NaN lr (null in JSON)',
        (nb) => ((nb.cells[3] as { config: { lr: unknown } }).config.lr = null),
        'cells[3].config.lr',
      ],
      [
        'a negative step count',
        (nb) => ((nb.cells[3] as { config: { maxSteps: unknown } }).config.maxSteps = -1),
        'cells[3].config.maxSteps',
      ],
      [
        'a string where a number goes',
        (nb) => ((nb.cells[3] as { config: { seq: unknown } }).config.seq = '128'),
        'cells[3].config.seq',
      ],
      ['an unknown key', (nb) => (nb.extra = 1), 'extra'],
      ['a duplicate cell id', (nb) => (nb.cells[1].id = 'intro'), 'cells[1].id'],
      ['losses of a missing cell', (nb) => (nb.recordedLosses = { nope: [1] }), 'recordedLosses.nope'],
      [
        'a hidden cell that does not exist',
        (nb) => (nb.lesson = { readOnly: true, hideConfig: ['x'], hideControls: [] }),
        'lesson.hideConfig[0]',
      ],
      [
        'a javascript: dataset URL',
        (nb) =>
          ((nb.cells[2] as { config: { source: unknown } }).config.source = {
            kind: 'url',
            url: 'javascript:alert(1)',
            sha256: 'a'.repeat(64),
            name: 'x',
          }),
        'cells[2].config.source.url',
      ],
      ['an overlong title', (nb) => (nb.title = 'x'.repeat(201)), 'title'],
    ];
    for (const [what, change, path] of cases) {
      const nb = structuredClone(sampleNotebook()) as Record<string, unknown> & Notebook;
      change(nb);
      const r = reasonOf(() => decodeNotebookFragment(frameValue(nb)));
      expect(r.reason, what).toBe('invalid');
      expect(r.path, what).toBe(path);
      expect(r.message, what).toContain(path);
    }
  });

  it('markdown with a script is not an error at parse time (it is rendered sanitized)', () => {
    const nb = sampleNotebook();
    nb.cells[0] = { id: 'intro', type: 'markdown', source: '<script>alert(1)</script><img src=x onerror=alert(1)>' };
    expect(decodeNotebookFragment(encodeNotebookFragment(nb))).toEqual(nb);
  });
});

describe('fetchVerified', () => {
  const data = new TextEncoder().encode('{"text":"hello"}\n');
  const serve =
    (body: Uint8Array, status = 200): typeof fetch =>
    () =>
      Promise.resolve(new Response(status === 200 ? body.slice() : null, { status }));

  it('hashes with SHA-256', async () => {
    expect(await sha256Hex(new TextEncoder().encode('abc'))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('returns the data when its hash matches and throws when it changed', async () => {
    const sha = await sha256Hex(data);
    expect(await fetchVerified('https://example.test/d.jsonl', sha, { fetch: serve(data) })).toEqual(data);
    const changed = data.slice();
    changed[3] ^= 1;
    const err = await fetchVerified('https://example.test/d.jsonl', sha, { fetch: serve(changed) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(VerifiedFetchError);
    expect(err).toMatchObject({ reason: 'mismatch', expectedSha256: sha, actualSha256: await sha256Hex(changed) });
    const missing = await fetchVerified('https://example.test/d.jsonl', sha, { fetch: serve(data, 404) }).catch(
      (e: unknown) => e,
    );
    expect(missing).toMatchObject({ reason: 'http', status: 404 });
    const big = await fetchVerified('https://example.test/d.jsonl', sha, { fetch: serve(data), maxBytes: 4 }).catch(
      (e: unknown) => e,
    );
    expect(big).toMatchObject({ reason: 'too-large' });
  });
});
