// The built-in model's text: documents (Moby-Dick chapters, State of the Union addresses) split into
// training and held-out by a fixed rule on their names, and cut into chunks of about 1,500 characters at
// word starts. Chunks are what pretraining samples from and what is tokenized, one at a time: a test that
// replays a few steps or evaluates the held-out set tokenizes a few hundred chunks, not 13 MB of text.
// Pure functions over strings; reading the npm packages is the Node side's job (scripts/builtin-corpus.ts).

export interface CorpusDocument {
  /** "moby-dick/chapter_12", "sotu/1861_abraham_lincoln_r", ... */
  id: string;
  text: string;
}

export interface Chunk {
  doc: string;
  /** The first chunk of a document (pretraining puts <|endoftext|> before it). */
  first: boolean;
  text: string;
}

/** Held out: every tenth document counted in name order (the 8th, 18th, ...), from each source. */
export function isHeldOut(indexInSource: number): boolean {
  return indexInSource % 10 === 7;
}

export function splitCorpus(docs: readonly CorpusDocument[]): { train: CorpusDocument[]; heldOut: CorpusDocument[] } {
  const train: CorpusDocument[] = [];
  const heldOut: CorpusDocument[] = [];
  const seen = new Map<string, number>();
  for (const d of docs) {
    const source = d.id.split('/')[0];
    const i = seen.get(source) ?? 0;
    seen.set(source, i + 1);
    (isHeldOut(i) ? heldOut : train).push(d);
  }
  return { train, heldOut };
}

export const CHUNK_CHARS = 1500;

/** Cuts a document before a space at or after every CHUNK_CHARS characters; a short tail joins the last chunk. */
export function chunkDocument(doc: CorpusDocument, chars = CHUNK_CHARS): Chunk[] {
  const t = doc.text;
  const cuts = [0];
  for (;;) {
    const at = t.indexOf(' ', cuts[cuts.length - 1] + chars);
    if (at < 0 || t.length - at < (chars * 4) / 5) break;
    cuts.push(at);
  }
  cuts.push(t.length);
  const out: Chunk[] = [];
  for (let i = 0; i + 1 < cuts.length; i++)
    out.push({ doc: doc.id, first: i === 0, text: t.slice(cuts[i], cuts[i + 1]) });
  return out;
}

export const chunkCorpus = (docs: readonly CorpusDocument[]): Chunk[] => docs.flatMap((d) => chunkDocument(d));
