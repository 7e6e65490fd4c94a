// The whole data pipeline in one call, in the order a careful practitioner would run it: read (streamed,
// bad rows stopped at or set aside), recognise the shape, clean (normalise, drop empties and duplicates),
// template and tokenize (masks, token budget), then split train/validation/test with the seed. Splitting
// after cleaning keeps duplicates from straddling train and test; splitting after tokenization makes the
// fractions hold for the rows that are actually trained on. The result is plain data (structured-cloneable)
// with everything the UI shows: format, shape, bad rows, the cleaning report, the class balance.

import { DatasetError } from '../errors.ts';
import { cleanExamples, type CleanOptions, type CleaningReport } from './clean.ts';
import type { DataSource } from './lines.ts';
import { readDataset, type BadRowPolicy, type DatasetFormat } from './read.ts';
import { toExamples, type Example, type FieldMap, type ShapeName } from './shapes.ts';
import { permutation, STREAM } from './shuffle.ts';
import { splitItems, type SplitName, type Splits } from './split.ts';
import { templateUsed, type TemplateUsed } from './templates.ts';
import { tokenizeExamples, type TokenizeOptions, type TokenizeResult, type TokenizedExample } from './tokenize.ts';
import type { TextUnit } from './plain-text.ts';
import type { TextTokenizer } from './tokenizer.ts';

export interface PrepareOptions extends Omit<TokenizeOptions, 'file' | 'badRows' | 'rowWord'> {
  file: string;
  format?: DatasetFormat | 'auto';
  textUnit?: TextUnit;
  delimiter?: string;
  shape?: ShapeName | 'auto';
  fields?: FieldMap;
  /** 'stop' (default) throws the first bad row; 'skip' keeps the good rows and reports the bad ones. */
  badRows?: BadRowPolicy;
  clean?: CleanOptions;
  seed: number;
  fractions?: readonly [number, number, number];
  /** Stratify by label (default: on for classification data). */
  stratify?: boolean;
  /** Keep a seeded random subset of this many rows, in file order, before cleaning (0 or absent = all). */
  limitRows?: number;
  onProgress?: (done: number, total: number | null) => void;
  signal?: AbortSignal;
}

export interface SplitStats {
  examples: number;
  tokens: number;
  trainedTokens: number;
  /** Classification only: rows per label. */
  labels: Record<string, number>;
}

export interface PreparedDataset {
  file: string;
  format: DatasetFormat;
  shape: ShapeName;
  shapeCounts: Partial<Record<ShapeName | 'none', number>>;
  template: TemplateUsed;
  badRows: { count: number; errors: DatasetError[] };
  cleaning: CleaningReport;
  splits: Splits<TokenizedExample>;
  stats: Record<SplitName, SplitStats>;
}

export async function prepareDataset(
  source: DataSource,
  tok: TextTokenizer,
  opts: PrepareOptions,
): Promise<PreparedDataset> {
  const read = await readDataset(source, opts);
  opts.signal?.throwIfAborted();
  if (opts.limitRows && opts.limitRows > 0 && read.records.length > opts.limitRows) {
    const keep = permutation(read.records.length, opts.seed, STREAM.subset).slice(0, opts.limitRows).sort();
    read.records = Array.from(keep, (i) => read.records[i]);
  }
  const rowWord = read.format === 'json' ? 'element' : 'line';
  const shaped = toExamples(read.records, { ...opts, rowWord });
  const { examples: cleaned, report } = cleanExamples(shaped.examples, opts.clean);
  const tokenized = await tokenizeInBatches(cleaned, tok, { ...opts, rowWord }, report, opts.signal);
  const errors = [...read.errors, ...shaped.errors, ...tokenized.errors].sort((a, b) => a.row - b.row);
  const badCount = read.badRowCount + shaped.errors.length + tokenized.errors.length;
  if (tokenized.examples.length === 0) {
    throw new DatasetError(
      `${opts.file}: no usable rows are left after reading and cleaning`,
      opts.file,
      1,
      null,
      'at least one usable row',
    );
  }
  // Pair tokenized rows with their examples (for labels) by source row.
  const byRow = new Map<number, Example>(cleaned.map((e) => [e.row, e]));
  const stratify = opts.stratify ?? shaped.shape === 'classification';
  const labelOf = (t: TokenizedExample) => {
    const e = byRow.get(t.row);
    return e?.kind === 'classification' ? e.label : '';
  };
  const splits = splitItems(tokenized.examples, {
    seed: opts.seed,
    fractions: opts.fractions,
    stratum: stratify ? labelOf : null,
  });
  const statsOf = (xs: TokenizedExample[]): SplitStats => {
    const s: SplitStats = { examples: xs.length, tokens: 0, trainedTokens: 0, labels: {} };
    for (const t of xs) {
      s.tokens += t.ids.length;
      for (const x of t.trained) s.trainedTokens += x;
      if (shaped.shape === 'classification') {
        const l = labelOf(t);
        s.labels[l] = (s.labels[l] ?? 0) + 1;
      }
    }
    return s;
  };
  return {
    file: opts.file,
    format: read.format,
    shape: shaped.shape,
    shapeCounts: shaped.shapeCounts,
    template: templateUsed(shaped.shape === 'sharegpt' ? 'chat' : (cleaned[0]?.kind ?? 'text'), tok, opts),
    badRows: { count: badCount, errors },
    cleaning: report,
    splits,
    stats: { train: statsOf(splits.train), validation: statsOf(splits.validation), test: statsOf(splits.test) },
  };
}

const TOKENIZE_BATCH = 64;
const YIELD_EVERY_MS = 30;

/**
 * tokenizeExamples in batches, the same result as one call: between batches the signal is checked and,
 * every few milliseconds, the event loop gets a turn (so a cancel sent to the worker can arrive).
 */
async function tokenizeInBatches(
  examples: readonly Example[],
  tok: TextTokenizer,
  opts: TokenizeOptions,
  report: CleaningReport,
  signal?: AbortSignal,
): Promise<TokenizeResult> {
  const out: TokenizeResult = { examples: [], errors: [], droppedOverBudget: 0 };
  let lastYield = performance.now();
  for (let at = 0; at < examples.length; at += TOKENIZE_BATCH) {
    signal?.throwIfAborted();
    const part = tokenizeExamples(examples.slice(at, at + TOKENIZE_BATCH), tok, opts, report);
    out.examples.push(...part.examples);
    out.errors.push(...part.errors);
    out.droppedOverBudget += part.droppedOverBudget;
    if (performance.now() - lastYield > YIELD_EVERY_MS) {
      await new Promise((r) => setTimeout(r, 0));
      lastYield = performance.now();
    }
  }
  signal?.throwIfAborted();
  report.kept = out.examples.length; // each batch set it to its own count
  return out;
}
