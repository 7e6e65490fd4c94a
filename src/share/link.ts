// Share links: a notebook as canonical JSON, deflated (fflate), base64url-encoded into the URL fragment
// as `#nb=v1.<payload>`. Why the fragment: it never reaches a server and has no header-size limits.
// Opening a link checks everything before anything is built: the fragment's size, the framing (declared
// length and CRC-32, so a cut or flipped byte is caught), the inflated size (inflated with a cap, so a
// zip bomb stops early), the format version and the schema (src/share/schema.ts). Any failure is a
// ShareLinkError with its reason; a partial notebook is never returned.

import type { Notebook } from './notebook.ts';

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

export interface EncodeOptions {
  /** Keep the first N recorded losses of each train cell (default DEFAULT_MAX_LOSSES). */
  maxLosses?: number;
}

/** The fragment (without '#') that carries the notebook: `nb=v1.<payload>`. Throws ShareLinkError. */
export function encodeNotebookFragment(nb: Notebook, opts?: EncodeOptions): string {
  void nb;
  void opts;
  throw new Error('not implemented');
}

/** A full URL: `base` with its fragment replaced by the notebook's. */
export function shareUrl(nb: Notebook, base: string, opts?: EncodeOptions): string {
  const u = new URL(base);
  u.hash = encodeNotebookFragment(nb, opts);
  return u.toString();
}

/** True when a location.hash (with or without '#') looks like a share link (it may still fail to parse). */
export function isShareFragment(hash: string): boolean {
  return hash.replace(/^#/, '').startsWith(`${FRAGMENT_KEY}=`);
}

/** The notebook in a fragment (with or without '#'); throws ShareLinkError with its reason. */
export function decodeNotebookFragment(hash: string): Notebook {
  void hash;
  throw new Error('not implemented');
}
