// Share links: a notebook as canonical JSON, deflated (fflate), base64url-encoded into the URL fragment
// as `#nb=v1.<payload>`. Why the fragment: it never reaches a server and has no header-size limits.
// Opening a link checks everything before anything is built: the fragment's size, the framing (declared
// length and CRC-32, so a cut or flipped byte is caught), the inflated size (inflated with a cap, so a
// zip bomb stops early), the format version and the schema (src/share/schema.ts). Any failure is a
// ShareLinkError with its reason; a partial notebook is never returned.

import { deflateSync, Inflate } from 'fflate';
import { ShareLinkError } from '../errors.ts';
import { crc32 } from './crc32.ts';
import { NOTEBOOK_VERSION, type Notebook } from './notebook.ts';
import { validateNotebook } from './schema.ts';

/** The prefix of a share fragment, after '#'. */
export const FRAGMENT_KEY = 'nb';
/** The link format's version (the `v1.` in the fragment). */
export const LINK_VERSION = 1;
/** The longest fragment accepted, in characters (without '#'). */
export const MAX_FRAGMENT_CHARS = 64 * 1024;
/** The largest inflated JSON accepted, in bytes. */
export const MAX_INFLATED_BYTES = 512 * 1024;
/** Inline dataset rows travel in a link only up to this many bytes once deflated. */
export const MAX_INLINE_COMPRESSED_BYTES = 8 * 1024;
/** Recorded losses kept per train cell by default. */
export const DEFAULT_MAX_LOSSES = 200;

/** Bytes before the deflated body: its length, the inflated length and the JSON's CRC-32 (u32 LE each). */
const HEADER_BYTES = 12;
/** Input slice fed to the inflater at a time, so a zip bomb is stopped within ~1 MB of output. */
const INFLATE_SLICE = 1024;

export interface EncodeOptions {
  /** Keep the first N recorded losses of each train cell (default DEFAULT_MAX_LOSSES). */
  maxLosses?: number;
}

const fail = (reason: ShareLinkError['reason'], message: string, path: string | null = null): never => {
  throw new ShareLinkError(message, reason, path);
};

/** JSON with every object's keys sorted, so the same notebook always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, x: unknown) => {
    if (x === null || typeof x !== 'object' || Array.isArray(x)) return x;
    const o = x as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, o[k]]),
    );
  });
}

/** The notebook as it travels: recorded losses cut to the first `maxLosses` of each train cell. */
function forLink(nb: Notebook, maxLosses: number): Notebook {
  if (!nb.recordedLosses) return nb;
  const losses = Object.fromEntries(Object.entries(nb.recordedLosses).map(([k, l]) => [k, l.slice(0, maxLosses)]));
  return { ...nb, recordedLosses: losses };
}

function checkInlineData(nb: Notebook): void {
  for (const [i, c] of nb.cells.entries()) {
    if (c.type !== 'dataset' || c.config.source?.kind !== 'inline') continue;
    const size = deflateSync(new TextEncoder().encode(c.config.source.text), { level: 9 }).length;
    if (size > MAX_INLINE_COMPRESSED_BYTES) {
      fail(
        'too-large',
        `The inline dataset "${c.config.source.name}" is ${size} bytes compressed; a link carries at most ` +
          `${MAX_INLINE_COMPRESSED_BYTES}. Reference it by URL with its SHA-256 instead.`,
        `cells[${i}].config.source.text`,
      );
    }
  }
}

function validated(value: unknown): Notebook {
  const r = validateNotebook(value);
  if (!r.ok) {
    return fail('invalid', `The notebook's field ${r.problem.path} is not valid: ${r.problem.message}`, r.problem.path);
  }
  return r.notebook;
}

/** The fragment (without '#') that carries the notebook: `nb=v1.<payload>`. Throws ShareLinkError. */
export function encodeNotebookFragment(nb: Notebook, opts: EncodeOptions = {}): string {
  const checked = validated(JSON.parse(JSON.stringify(forLink(nb, opts.maxLosses ?? DEFAULT_MAX_LOSSES))));
  checkInlineData(checked);
  const json = new TextEncoder().encode(canonicalJson(checked));
  if (json.length > MAX_INFLATED_BYTES) {
    fail('too-large', `The notebook is ${json.length} bytes as JSON; a link carries at most ${MAX_INFLATED_BYTES}`);
  }
  const body = deflateSync(json, { level: 9 });
  const framed = new Uint8Array(HEADER_BYTES + body.length);
  const view = new DataView(framed.buffer);
  view.setUint32(0, body.length, true);
  view.setUint32(4, json.length, true);
  view.setUint32(8, crc32(json), true);
  framed.set(body, HEADER_BYTES);
  const fragment = `${FRAGMENT_KEY}=v${LINK_VERSION}.${toBase64Url(framed)}`;
  if (fragment.length > MAX_FRAGMENT_CHARS) {
    fail('too-large', `The link would be ${fragment.length} characters; at most ${MAX_FRAGMENT_CHARS} are allowed`);
  }
  return fragment;
}

/** A full URL: `base` with its fragment replaced by the notebook's. */
export function shareUrl(nb: Notebook, base: string, opts?: EncodeOptions): string {
  const u = new URL(base);
  u.hash = encodeNotebookFragment(nb, opts);
  return u.toString();
}

/**
 * Cells whose source is a file on the sharer's machine (a picked model folder or dataset file): the link
 * carries only its name, so whoever opens it must pick their own copy. The UI warns before sharing.
 */
export function localSourceCells(nb: Notebook): string[] {
  return nb.cells
    .filter(
      (c) =>
        (c.type === 'model' && c.source?.kind === 'local') ||
        (c.type === 'dataset' && c.config.source?.kind === 'local'),
    )
    .map((c) => c.id);
}

/** True when a location.hash (with or without '#') looks like a share link (it may still fail to parse). */
export function isShareFragment(hash: string): boolean {
  return hash.replace(/^#/, '').startsWith(`${FRAGMENT_KEY}=`);
}

/** The notebook in a fragment (with or without '#'); throws ShareLinkError with its reason. */
export function decodeNotebookFragment(hash: string): Notebook {
  const frag = hash.replace(/^#/, '');
  if (frag.length > MAX_FRAGMENT_CHARS) {
    fail('too-large', `The link is ${frag.length} characters; at most ${MAX_FRAGMENT_CHARS} are accepted`);
  }
  if (!frag.startsWith(`${FRAGMENT_KEY}=`)) fail('corrupt', 'This is not a lorabook share link (no "#nb=")');
  const m = /^v(\d{1,6})\.(.*)$/s.exec(frag.slice(FRAGMENT_KEY.length + 1));
  if (!m) return fail('corrupt', 'The share link has no format version ("v1.")');
  if (Number(m[1]) !== LINK_VERSION) {
    fail('version', `The share link is format v${m[1]}; this lorabook opens v${LINK_VERSION} links`);
  }
  const bytes = fromBase64Url(m[2]);
  if (bytes.length < HEADER_BYTES) fail('truncated', 'The share link is cut short (its header is incomplete)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bodyLength = view.getUint32(0, true);
  const jsonLength = view.getUint32(4, true);
  const body = bytes.subarray(HEADER_BYTES);
  if (body.length < bodyLength) {
    fail('truncated', `The share link is cut short: ${body.length} of ${bodyLength} bytes are there`);
  }
  if (body.length > bodyLength) fail('corrupt', 'The share link has bytes past its end: it was altered');
  if (jsonLength > MAX_INFLATED_BYTES) {
    fail('too-large', `The shared notebook is ${jsonLength} bytes; at most ${MAX_INFLATED_BYTES} are accepted`);
  }
  const json = inflateCapped(body, MAX_INFLATED_BYTES);
  if (json.length !== jsonLength || crc32(json) !== view.getUint32(8, true)) {
    fail('corrupt', 'The share link is damaged: its checksum does not match (it was altered or mistyped)');
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch {
    return fail('corrupt', 'The share link is damaged: its content is not valid JSON');
  }
  const version = (value as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version !== NOTEBOOK_VERSION) {
    fail('version', `The shared notebook is version ${version}; this lorabook opens version ${NOTEBOOK_VERSION}`);
  }
  const nb = validated(value);
  checkInlineData(nb);
  return nb;
}

/** Inflates raw DEFLATE data, stopping with 'too-large' as soon as the output passes `cap` bytes. */
function inflateCapped(data: Uint8Array, cap: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let ended = false;
  const inf = new Inflate((chunk, final) => {
    total += chunk.length;
    if (total > cap) fail('too-large', `The shared notebook inflates past ${cap} bytes: refused`);
    chunks.push(chunk);
    if (final) ended = true;
  });
  try {
    for (let at = 0; at < data.length; at += INFLATE_SLICE) {
      const end = Math.min(at + INFLATE_SLICE, data.length);
      inf.push(data.subarray(at, end), end === data.length);
    }
  } catch (e) {
    if (e instanceof ShareLinkError) throw e;
    fail('corrupt', `The share link is damaged: its compressed data is invalid (${String((e as Error).message)})`);
  }
  if (!ended) fail('corrupt', 'The share link is damaged: its compressed data ends early');
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

/** base64url without padding. */
export function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const k = Math.min(3, bytes.length - i) + 1;
    for (let j = 0; j < k; j++) s += B64[(n >> (18 - 6 * j)) & 63];
  }
  return s;
}

/** Strict base64url (no padding, no other characters): 'corrupt' or 'truncated' otherwise. */
export function fromBase64Url(s: string): Uint8Array {
  if (s.length % 4 === 1) fail('truncated', 'The share link is cut short (its data ends mid-character)');
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    const k = Math.min(4, s.length - i);
    for (let j = 0; j < 4; j++) {
      const c = j < k ? s.charCodeAt(i + j) : 65;
      const d = c < 128 ? B64_INDEX[c] : -1;
      if (d < 0) fail('corrupt', `The share link holds a character that cannot be in it ("${s[i + j]}")`);
      n = (n << 6) | d;
    }
    for (let j = 0; j < k - 1; j++) out[o++] = (n >> (16 - 8 * j)) & 255;
  }
  return out;
}
