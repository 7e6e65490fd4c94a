// Cleaning, deterministic and reported: every text field has its whitespace normalised (NFC, LF line ends,
// no trailing spaces, at most one blank line in a row, trimmed; indentation kept for code), then rows whose
// trained part is empty are dropped, then duplicates: exact ones (identical as read) and normalised ones
// (identical once Unicode is NFC and every whitespace run is one space; case is kept, so "Spam" and "spam"
// differ). The first occurrence is kept. Tokenization adds the rows over the token budget to the same
// report. The report has counts and a few examples of each, for the UI.

import type { Example } from './shapes.ts';
import { preview } from './record.ts';

export interface CleanExample {
  row: number;
  preview: string;
  /** For duplicates: the row of the copy that was kept. */
  duplicateOf?: number;
  /** For rows over the budget: their token count. */
  tokens?: number;
}

export interface CleanCategory {
  count: number;
  examples: CleanExample[];
}

export interface CleaningReport {
  input: number;
  kept: number;
  /** Rows whose text the whitespace normalisation changed (they are kept). */
  whitespaceNormalized: CleanCategory;
  empty: CleanCategory;
  exactDuplicates: CleanCategory;
  normalizedDuplicates: CleanCategory;
  /** Filled by tokenization: rows longer than the token budget (dropped, or cut when truncating). */
  overBudget: CleanCategory;
  /** Filled by tokenization: rows left with no trained token (e.g. truncation cut the whole answer). */
  nothingToTrain: CleanCategory;
}

export interface CleanOptions {
  /** Normalise whitespace in the kept text (default true). Duplicate detection normalises regardless. */
  normalizeWhitespace?: boolean;
  /** Drop exact and normalised duplicates (default true). */
  dedupe?: boolean;
  /** Examples kept per category in the report (default 3). */
  examplesPerCategory?: number;
}

/** NFC, LF line ends, no zero-width characters, no trailing spaces, ≤ 1 blank line in a row, trimmed. */
export function normalizeWhitespace(s: string): string {
  return s
    .normalize('NFC')
    .replace(/\r\n?/g, '\n')
    .replace(/\u200b|\u200c|\u200d|\u2060|\ufeff/g, '')
    .replace(/[\u00a0\u2000-\u200a\u202f\u205f\u3000]/g, ' ')
    .replace(/[ \t\f\v]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** The key under which two texts count as the same: NFC and every whitespace run as one space. */
export function duplicateKey(s: string): string {
  return s
    .normalize('NFC')
    .replace(/\u200b|\u200c|\u200d|\u2060|\ufeff/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Applies f to every text field of an example. */
export function mapText(e: Example, f: (s: string) => string): Example {
  switch (e.kind) {
    case 'text':
      return { ...e, text: f(e.text) };
    case 'prompt-completion':
      return { ...e, prompt: f(e.prompt), completion: f(e.completion) };
    case 'alpaca':
      return { ...e, instruction: f(e.instruction), input: f(e.input), output: f(e.output) };
    case 'classification':
      return { ...e, text: f(e.text), label: f(e.label) };
    case 'chat':
      return { ...e, messages: e.messages.map((m) => ({ role: m.role, content: f(m.content) })) };
  }
}

/** The example's content as one string (row number excluded), for keys and previews. */
export function contentOf(e: Example): string {
  switch (e.kind) {
    case 'text':
      return e.text;
    case 'prompt-completion':
      return `${e.prompt}\u0000${e.completion}`;
    case 'alpaca':
      return `${e.instruction}\u0000${e.input}\u0000${e.output}`;
    case 'classification':
      return `${e.text}\u0000${e.label}`;
    case 'chat':
      return e.messages.map((m) => `${m.role}\u0001${m.content}`).join('\u0000');
  }
}

/** Whether the part a model would be trained on is empty. */
export function isEmpty(e: Example): boolean {
  switch (e.kind) {
    case 'text':
      return e.text.trim() === '';
    case 'prompt-completion':
      return e.completion.trim() === '';
    case 'alpaca':
      return e.instruction.trim() === '' || e.output.trim() === '';
    case 'classification':
      return e.text.trim() === '' || e.label.trim() === '';
    case 'chat':
      return !e.messages.some((m) => m.role === 'assistant' && m.content.trim() !== '');
  }
}

export const previewOf = (e: Example) => preview(contentOf(e).replaceAll('\u0000', ' | ').replaceAll('\u0001', ': '));

/** Counts one row in a report category, keeping the first few as examples. */
export function noteIn(c: CleanCategory, x: CleanExample, keep = 3): void {
  c.count++;
  if (c.examples.length < keep) c.examples.push(x);
}

export function cleanExamples(
  input: readonly Example[],
  opts: CleanOptions = {},
): { examples: Example[]; report: CleaningReport } {
  const per = opts.examplesPerCategory ?? 3;
  const cat = (): CleanCategory => ({ count: 0, examples: [] });
  const report: CleaningReport = {
    input: input.length,
    kept: 0,
    whitespaceNormalized: cat(),
    empty: cat(),
    exactDuplicates: cat(),
    normalizedDuplicates: cat(),
    overBudget: cat(),
    nothingToTrain: cat(),
  };
  const note = (c: CleanCategory, x: CleanExample) => noteIn(c, x, per);
  const exact = new Map<string, number>();
  const normalized = new Map<string, number>();
  const out: Example[] = [];
  for (const raw of input) {
    let e = raw;
    if (opts.normalizeWhitespace ?? true) {
      e = mapText(raw, normalizeWhitespace);
      if (contentOf(e) !== contentOf(raw)) note(report.whitespaceNormalized, { row: raw.row, preview: previewOf(raw) });
    }
    if (isEmpty(e)) {
      note(report.empty, { row: raw.row, preview: previewOf(raw) });
      continue;
    }
    if (opts.dedupe ?? true) {
      const rawKey = `${raw.kind}\u0002${contentOf(raw)}`;
      const normKey = `${raw.kind}\u0002${contentOf(mapText(raw, duplicateKey))}`;
      const exactOf = exact.get(rawKey);
      if (exactOf !== undefined) {
        note(report.exactDuplicates, { row: raw.row, preview: previewOf(raw), duplicateOf: exactOf });
        continue;
      }
      const normOf = normalized.get(normKey);
      if (normOf !== undefined) {
        exact.set(rawKey, normOf); // a later exact copy of this row points at the kept one too
        note(report.normalizedDuplicates, { row: raw.row, preview: previewOf(raw), duplicateOf: normOf });
        continue;
      }
      exact.set(rawKey, raw.row);
      normalized.set(normKey, raw.row);
    }
    out.push(e);
  }
  report.kept = out.length;
  return { examples: out, report };
}
