// Bytes stored as pieces: a long buffer split into pieces of a bounded size, each with its SHA-256, so a
// reader can tell a missing, short or altered piece from a good one. Shared by the weight cache and the
// checkpoint store. Why pieces: IndexedDB handles moderate values well and giant ones badly, and a piece
// can be hashed with crypto.subtle in one call.

import type { PartRecord } from './manifest.ts';

/** SHA-256 of the bytes as lowercase hex (crypto.subtle: browsers, workers and Node 20). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Views (no copies) of at most `pieceBytes` each, segment by segment (a piece never spans two segments). */
export function splitPieces(segments: readonly Uint8Array[], pieceBytes: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const s of segments) for (let o = 0; o < s.length; o += pieceBytes) out.push(s.subarray(o, o + pieceBytes));
  return out;
}

/** What is wrong with a piece read back (null when it matches its record). */
export async function pieceProblem(
  what: string,
  bytes: Uint8Array | undefined,
  want: PartRecord,
): Promise<string | null> {
  if (!bytes) return `${what} is missing`;
  if (bytes.length !== want.bytes) return `${what} has ${bytes.length} bytes, not ${want.bytes}`;
  if ((await sha256Hex(bytes)) !== want.sha256) return `${what} does not match its SHA-256`;
  return null;
}
