// A byte-level BPE trainer (the algorithm of GPT-2 and Hugging Face `tokenizers`' BpeTrainer): count the
// pre-tokenized words of the training text, start from the 256 bytes, and repeatedly merge the most
// frequent adjacent pair of symbols into a new symbol until the vocabulary is full. Pair counts are
// updated only in the words a merge touches, so 765 merges over ~10 MB of text take seconds.
// Ties go to the smallest (left id, right id) pair, so the result is a pure function of the text.

import { preTokenize } from './byte-level.ts';

export interface BpeModel {
  /** Symbol id → its bytes (ids 0..255 are the bytes themselves, then one id per merge). */
  tokens: Uint8Array[];
  /** Merges in rank order, as pairs of symbol ids; merge i creates symbol 256 + i. */
  merges: [number, number][];
}

/** Word → occurrences, over all texts. */
export function countWords(texts: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of preTokenize(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
  return counts;
}

const pairKey = (a: number, b: number) => a * 65536 + b;

/** Learns `numMerges` merges from word counts (fewer when no pair occurs twice). */
export function trainBpe(wordCounts: ReadonlyMap<string, number>, numMerges: number): BpeModel {
  const enc = new TextEncoder();
  // Sorted words: the iteration order (and so every tie) does not depend on the map's insertion order.
  const entries = [...wordCounts.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const words: number[][] = entries.map(([w]) => Array.from(enc.encode(w)));
  const freq = entries.map(([, c]) => c);
  const pairs = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const add = (wi: number, sign: number) => {
    const w = words[wi];
    for (let i = 0; i + 1 < w.length; i++) {
      const k = pairKey(w[i], w[i + 1]);
      pairs.set(k, (pairs.get(k) ?? 0) + sign * freq[wi]);
      if (sign > 0) {
        let s = where.get(k);
        if (!s) where.set(k, (s = new Set()));
        s.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) add(wi, 1);

  const tokens: Uint8Array[] = [];
  for (let b = 0; b < 256; b++) tokens.push(Uint8Array.of(b));
  const merges: [number, number][] = [];
  for (let m = 0; m < numMerges; m++) {
    let best = -1;
    let bestCount = 1;
    for (const [k, c] of pairs)
      if (c > bestCount || (c === bestCount && best >= 0 && k < best)) [best, bestCount] = [k, c];
    if (best < 0) break;
    const a = Math.floor(best / 65536);
    const b = best % 65536;
    const id = tokens.length;
    const joined = new Uint8Array(tokens[a].length + tokens[b].length);
    joined.set(tokens[a]);
    joined.set(tokens[b], tokens[a].length);
    tokens.push(joined);
    merges.push([a, b]);
    for (const wi of [...(where.get(best) ?? [])].sort((x, y) => x - y)) {
      add(wi, -1);
      const w = words[wi];
      const out: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          out.push(id);
          i++;
        } else out.push(w[i]);
      }
      words[wi] = out;
      add(wi, 1);
    }
    pairs.delete(best);
    where.delete(best);
    for (const [k, c] of pairs) if (c === 0) pairs.delete(k);
  }
  return { tokens, merges };
}
