// Turns a dataset source (a string, a Blob/File, a byte stream) into batches of lines, decoding UTF-8 as
// it streams so a 100 MB file never exists as one string and the caller can report progress and yield to
// the event loop between batches. Why line batches: every reader here (JSONL, CSV/TSV, JSON arrays,
// plain text) is a line-at-a-time state machine, and one await per batch instead of per line keeps a
// million-line file fast. A UTF-8 BOM is dropped; CRLF and LF both end a line; a line split across two
// chunks is joined without quadratic string growth.

export type DataSource = string | Blob | ReadableStream<Uint8Array> | Uint8Array;

export interface LineBatch {
  /** The lines, without their line terminators. */
  lines: string[];
  /** 1-based line number of lines[0]. */
  firstLine: number;
  /** Bytes (or, for a string source, characters) consumed so far. */
  done: number;
  /** Total bytes or characters, when known. */
  total: number | null;
}

/** Size of the pieces a string source is cut into, so a huge string is also handled incrementally. */
const STRING_PIECE = 1 << 20;

async function* chunksOf(source: DataSource): AsyncGenerator<{ text: string; done: number; total: number | null }> {
  if (typeof source === 'string') {
    const body = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
    for (let i = 0; i < body.length; i += STRING_PIECE) {
      const end = Math.min(body.length, i + STRING_PIECE);
      yield { text: body.slice(i, end), done: end, total: body.length };
    }
    return;
  }
  // TextDecoder drops a leading BOM by default (ignoreBOM: false) and keeps a multi-byte character
  // that straddles two chunks for the next call when `stream: true`.
  const decoder = new TextDecoder('utf-8');
  if (source instanceof Uint8Array) {
    yield { text: decoder.decode(source), done: source.byteLength, total: source.byteLength };
    return;
  }
  const total = source instanceof Blob ? source.size : null;
  const stream = source instanceof Blob ? source.stream() : source;
  const reader = stream.getReader();
  let done = 0;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      done += r.value.byteLength;
      yield { text: decoder.decode(r.value, { stream: true }), done, total };
    }
  } finally {
    reader.releaseLock();
  }
  const tail = decoder.decode();
  if (tail.length > 0) yield { text: tail, done, total };
}

/** Streams `source` as batches of lines. The last line is emitted even without a final newline. */
export async function* readLines(source: DataSource): AsyncGenerator<LineBatch> {
  let pending: string[] = [];
  let lineNo = 1;
  let last = { done: 0, total: null as number | null };
  for await (const chunk of chunksOf(source)) {
    last = chunk;
    const lines: string[] = [];
    const firstLine = lineNo;
    let start = 0;
    for (;;) {
      const nl = chunk.text.indexOf('\n', start);
      if (nl < 0) break;
      pending.push(chunk.text.slice(start, nl));
      const line = pending.length === 1 ? pending[0] : pending.join('');
      pending = [];
      lines.push(line.endsWith('\r') ? line.slice(0, -1) : line);
      lineNo++;
      start = nl + 1;
    }
    if (start < chunk.text.length) pending.push(chunk.text.slice(start));
    if (lines.length > 0) yield { lines, firstLine, done: chunk.done, total: chunk.total };
  }
  if (pending.length > 0) {
    const line = pending.join('');
    yield { lines: [line.endsWith('\r') ? line.slice(0, -1) : line], firstLine: lineNo, ...last };
  }
}

/** The same split for a string already in memory, synchronously (small inputs, tests, the engine). */
export function splitLines(text: string): string[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}
