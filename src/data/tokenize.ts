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
  const { ids, trained } = tokenizePieces(examplePieces(e, tok, opts), tok);
  return { row: e.row, ids: Uint32Array.from(ids), trained: Uint8Array.from(trained) };
}

export interface TokenizeOptions extends TemplateOptions {
  /** Token budget per example. */
  maxLength?: number;
  /** What to do with an example over the budget: drop it (default) or keep its first maxLength tokens. */
  overLength?: 'drop' | 'truncate';
  /** For error messages. */
  file?: string;
  rowWord?: 'line' | 'element';
  badRows?: 'stop' | 'skip';
}

export interface TokenizeResult {
  examples: TokenizedExample[];
  /** Rows the chat template could not render or map back (per-row DatasetErrors). */
  errors: DatasetError[];
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
      if ((opts.overLength ?? 'drop') === 'drop') continue;
      t = { row: t.row, ids: t.ids.slice(0, opts.maxLength), trained: t.trained.slice(0, opts.maxLength) };
    }
    if (!t.trained.some((x) => x === 1)) {
      if (report) noteIn(report.nothingToTrain, { row: e.row, preview: previewOf(e), tokens: t.ids.length });
      continue;
    }
    out.push(t);
  }
  if (report) report.kept = out.length;
  return { examples: out, errors };
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
