// Pieces to token ids with a per-token "trained" flag, truncation to a token budget, and the per-token
// view for teaching. The text of consecutive pieces is tokenized as one string, exactly as
// apply_chat_template(tokenize=True) would, so training sees the ids inference sees; each token is then
// mapped back to the bytes it covers (exact for byte-level BPE: GPT-2, Llama 3, Qwen, SmolLM) and is
// trained when any of its bytes belongs to a trained piece. A token that straddles a boundary (">\n"
// after a plain-text <|im_end|>, "\n\n" where a header's newline meets an answer that starts with one)
// is trained, as Hugging Face's assistant masks do. Where bytes cannot be mapped (non-byte-level
// tokenizers, text the normaliser changes), each piece is tokenized on its own instead.
// trained[t] = 1 means token t is a loss target: the model, reading tokens 0..t-1, is trained to predict
// it (so token 0 never is).

import type { DatasetError } from '../errors.ts';
import type { Piece } from './chat-template.ts';
import { TemplateMismatch } from './chat-template.ts';
import { noteIn, previewOf, type CleaningReport } from './clean.ts';
import { rowError } from './record.ts';
import type { Example } from './shapes.ts';
import { examplePieces, type TemplateOptions } from './templates.ts';
import { utf8Length, type TextTokenizer } from './tokenizer.ts';

export interface TokenizedExample {
  /** The row of the source file this example came from. */
  row: number;
  ids: Uint32Array;
  /** 1 where the token is a loss target, 0 where it is masked. */
  trained: Uint8Array;
  /** Classification rows: the label (evaluation scores the label strings after the prompt). */
  label?: string;
  /**
   * Prompt/completion, alpaca and classification rows in the raw style: the token range [start, end) of
   * the completion text (EOS excluded); tokens before `start` are the prompt.
   */
  completion?: [number, number];
}

interface Tokens {
  ids: number[];
  trained: number[];
  roles: string[];
}

/** Byte end of every token, or null when the tokenizer cannot say or the bytes do not add up. */
function byteEnds(ids: readonly number[], tok: TextTokenizer, totalBytes: number): number[] | null {
  const ends: number[] = [];
  let at = 0;
  for (const id of ids) {
    const b = tok.tokenBytes(id);
    if (b === null) return null;
    at += b;
    ends.push(at);
  }
  return at === totalBytes ? ends : null;
}

/** Tokenizes a run of text pieces as one string; flags come from the pieces each token overlaps. */
function tokenizeRun(run: readonly Piece[], tok: TextTokenizer, out: Tokens): void {
  const texts = run.map((p) => p.text ?? '');
  const ids = tok.encode(texts.join(''));
  const starts: number[] = [];
  let total = 0;
  for (const t of texts) {
    starts.push(total);
    total += utf8Length(t);
  }
  const ends = byteEnds(ids, tok, total);
  if (ends === null) {
    for (const p of run) push(out, tok.encode(p.text ?? ''), p);
    return;
  }
  let first = 0; // the first piece that may overlap the current token
  let from = 0;
  ids.forEach((id, k) => {
    const to = ends[k];
    while (first < run.length - 1 && starts[first + 1] <= from) first++;
    let trained = false;
    let role = run[first].role;
    for (let q = first; q < run.length && starts[q] < to; q++) {
      if (run[q].train && (q === run.length - 1 || starts[q + 1] > from)) {
        if (!trained) role = run[q].role;
        trained = true;
      }
    }
    out.ids.push(id);
    out.trained.push(trained ? 1 : 0);
    out.roles.push(role);
    from = to;
  });
}

function push(out: Tokens, ids: readonly number[], p: Piece): void {
  for (const id of ids) {
    out.ids.push(id);
    out.trained.push(p.train ? 1 : 0);
    out.roles.push(p.role);
  }
}

export function tokenizePieces(pieces: readonly Piece[], tok: TextTokenizer): Tokens {
  const out: Tokens = { ids: [], trained: [], roles: [] };
  let run: Piece[] = [];
  const flush = () => {
    if (run.length > 0) tokenizeRun(run, tok, out);
    run = [];
  };
  for (const p of pieces) {
    if (p.ids) {
      flush();
      push(out, p.ids, p);
    } else if ((p.text ?? '').length > 0) run.push(p);
  }
  flush();
  if (out.trained.length > 0) out.trained[0] = 0;
  return out;
}

export function tokenizeExample(e: Example, tok: TextTokenizer, opts: TemplateOptions = {}): TokenizedExample {
  const { ids, trained, roles } = tokenizePieces(examplePieces(e, tok, opts), tok);
  const t: TokenizedExample = { row: e.row, ids: Uint32Array.from(ids), trained: Uint8Array.from(trained) };
  if (e.kind === 'classification') t.label = e.label;
  const start = roles.indexOf('completion');
  if (start >= 0) t.completion = [start, roles.lastIndexOf('completion') + 1];
  return t;
}

/** The free-text field that 'truncate-prompt' may shorten, per shape (null: the row has no prompt to cut). */
function promptField(e: Example): { get: string; set: (text: string) => Example } | null {
  switch (e.kind) {
    case 'classification':
      return { get: e.text, set: (text) => ({ ...e, text }) };
    case 'prompt-completion':
      return { get: e.prompt, set: (prompt) => ({ ...e, prompt }) };
    case 'alpaca':
      return e.input.trim() !== ''
        ? { get: e.input, set: (input) => ({ ...e, input }) }
        : { get: e.instruction, set: (instruction) => ({ ...e, instruction }) };
    default:
      return null;
  }
}

/** Cut at a UTF-16 index without splitting a surrogate pair. */
function cutAt(s: string, n: number): string {
  const c = s.charCodeAt(n - 1);
  return s.slice(0, c >= 0xd800 && c <= 0xdbff ? n - 1 : n);
}

/**
 * 'truncate-prompt': the longest head of the prompt's free text (the email, the prompt, the alpaca input)
 * with which the whole example fits in maxLength tokens, the template around it (e.g. the trailing
 * "\nLabel:") and the completion kept whole. The text is cut, then tokenized again, so the ids are the
 * ones a tokenizer gives for the cut text. Null when even an empty prompt text does not fit.
 */
function truncatePrompt(
  e: Example,
  tok: TextTokenizer,
  opts: TemplateOptions,
  maxLength: number,
  first: TokenizedExample,
): TokenizedExample | null {
  const field = promptField(e);
  if (!field) return null;
  const text = field.get;
  const at = (n: number) => tokenizeExample(field.set(cutAt(text, n)), tok, opts);
  const empty = at(0);
  if (empty.ids.length > maxLength) return null;
  // Bracket: `lo` chars fit (tokens tLo), `hi` chars do not (tHi). Interpolation search on the token count
  // (tokens grow about linearly with characters), bisection once the bracket is small.
  let [lo, tLo, fit] = [0, empty.ids.length, empty];
  let [hi, tHi] = [text.length, first.ids.length];
  while (hi - lo > 1) {
    const guess = lo + Math.round(((hi - lo) * (maxLength - tLo)) / Math.max(1, tHi - tLo));
    const mid = hi - lo > 16 ? Math.min(hi - 1, Math.max(lo + 1, guess)) : Math.floor((lo + hi) / 2);
    const m = at(mid);
    if (m.ids.length <= maxLength) [lo, tLo, fit] = [mid, m.ids.length, m];
    else [hi, tHi] = [mid, m.ids.length];
  }
  return fit;
}

export interface TokenizeOptions extends TemplateOptions {
  /** Token budget per example. */
  maxLength?: number;
  /**
   * What to do with an example over the budget: drop it (default), keep its first maxLength tokens
   * ('truncate'), or shorten the prompt's text from its end so that the completion stays whole
   * ('truncate-prompt': long emails to classify; rows without a prompt text, or whose completion alone
   * is over the budget, are dropped and counted in `droppedOverBudget`).
   */
  overLength?: 'drop' | 'truncate' | 'truncate-prompt';
  /** For error messages. */
  file?: string;
  rowWord?: 'line' | 'element';
  badRows?: 'stop' | 'skip';
}

export interface TokenizeResult {
  examples: TokenizedExample[];
  /** Rows the chat template could not render or map back (per-row DatasetErrors). */
  errors: DatasetError[];
  /** Rows over the budget that were dropped (all of them with 'drop'; with 'truncate-prompt', those it could not cut to fit). */
  droppedOverBudget: number;
}

/**
 * Tokenizes examples; rows over the budget and rows with nothing left to train are counted in `report`
 * (the cleaning report, whose `kept` is updated) and dropped or truncated as asked.
 */
export function tokenizeExamples(
  examples: readonly Example[],
  tok: TextTokenizer,
  opts: TokenizeOptions,
  report?: CleaningReport,
): TokenizeResult {
  const out: TokenizedExample[] = [];
  const errors: DatasetError[] = [];
  let droppedOverBudget = 0;
  const file = opts.file ?? 'dataset';
  for (const e of examples) {
    let t: TokenizedExample;
    try {
      t = tokenizeExample(e, tok, opts);
    } catch (err) {
      // Jinja errors (raise_exception in a template) and TemplateMismatch are about this row's content.
      if (!(err instanceof Error)) throw err;
      const what = err instanceof TemplateMismatch ? 'cannot be mapped back to its messages' : 'rejects it';
      const problem = `the chat template ${what}: ${err.message}`;
      const where = `${opts.rowWord ?? 'line'} ${e.row}`;
      const de = rowError(
        file,
        where,
        e.row,
        e.kind === 'chat' ? 'messages' : null,
        'a conversation the chat template accepts',
        problem,
      );
      if ((opts.badRows ?? 'stop') === 'stop') throw de;
      errors.push(de);
      continue;
    }
    if (opts.maxLength !== undefined && t.ids.length > opts.maxLength) {
      if (report) noteIn(report.overBudget, { row: e.row, preview: previewOf(e), tokens: t.ids.length });
      const how = opts.overLength ?? 'drop';
      const cut =
        how === 'truncate'
          ? truncateTokens(t, opts.maxLength)
          : how === 'truncate-prompt'
            ? truncatePrompt(e, tok, opts, opts.maxLength, t)
            : null;
      if (!cut) {
        droppedOverBudget++;
        continue;
      }
      t = cut;
    }
    if (!t.trained.some((x) => x === 1)) {
      if (report) noteIn(report.nothingToTrain, { row: e.row, preview: previewOf(e), tokens: t.ids.length });
      continue;
    }
    out.push(t);
  }
  if (report) report.kept = out.length;
  return { examples: out, errors, droppedOverBudget };
}

/** 'truncate': the first maxLength tokens (a completion range is clipped, or forgotten when cut away). */
function truncateTokens(t: TokenizedExample, maxLength: number): TokenizedExample {
  const out: TokenizedExample = { row: t.row, ids: t.ids.slice(0, maxLength), trained: t.trained.slice(0, maxLength) };
  if (t.label !== undefined) out.label = t.label;
  if (t.completion && t.completion[0] < maxLength)
    out.completion = [t.completion[0], Math.min(t.completion[1], maxLength)];
  return out;
}

export interface TokenViewRow {
  index: number;
  id: number;
  /** The token decoded on its own (a partial UTF-8 character shows as U+FFFD). */
  text: string;
  /** The vocabulary entry as stored (e.g. "Ġthe", "<|im_end|>"). */
  piece: string;
  /** Whether the model is trained to predict this token. */
  trained: boolean;
  /** The message role or template part the token belongs to (when known). */
  role?: string;
}

/** The per-token view of an already tokenized example (without roles). */
export function viewTokens(t: TokenizedExample, tok: TextTokenizer): TokenViewRow[] {
  return [...t.ids].map((id, index) => ({
    index,
    id,
    text: tok.decode([id]),
    piece: tok.piece(id),
    trained: t.trained[index] === 1,
  }));
}

/** Token by token: text, id, trained or masked, and where it came from. For teaching. */
export function tokenView(e: Example, tok: TextTokenizer, opts: TemplateOptions = {}): TokenViewRow[] {
  const { ids, trained, roles } = tokenizePieces(examplePieces(e, tok, opts), tok);
  return ids.map((id, index) => ({
    index,
    id,
    text: tok.decode([id]),
    piece: tok.piece(id),
    trained: trained[index] === 1,
    role: roles[index],
  }));
}
