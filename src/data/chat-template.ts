// Which characters of a rendered chat are trained. The model's Jinja chat template is run twice: once on
// the conversation with every message's content replaced by a unique sentinel (the template's skeleton),
// once on the real conversation. The skeleton's literal text between sentinels is the scaffolding (role
// headers, end-of-turn tokens, BOS); the real rendering is matched against it piece by piece, so each
// message's content is found exactly as the template rendered it (trimmed, rewritten, wherever it went),
// never by searching for the raw content, which could match inside a header. Assistant content is trained,
// and so is the end-of-turn special token right after it (<|im_end|>, <|eot_id|>): the model must learn to
// stop. Everything else (system and user turns, headers, generation prompts) is masked, unless the caller
// trains on everything.

import type { TemplateMessage, TextTokenizer } from './tokenizer.ts';

/** A run of text (or of ids) that is either all trained or all masked. */
export interface Piece {
  text?: string;
  ids?: readonly number[];
  train: boolean;
  /** The message role this piece belongs to, or 'template' for scaffolding. */
  role: string;
}

/** ChatML, for models without a chat template of their own. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** The template did something lorabook cannot map back to messages; the message says what. */
export class TemplateMismatch extends Error {
  override name = 'TemplateMismatch';
}

const sentinel = (i: number) => `\uE000${i}\uE001`;

/** The end-of-turn marker (optional blanks, then a special token) at the start of `s`, or ''. */
function leadingEndMarker(s: string, markers: readonly string[]): string {
  const blanks = /^[ \t]*/.exec(s)![0];
  const rest = s.slice(blanks.length);
  for (const m of markers) if (m.length > 0 && rest.startsWith(m)) return blanks + m;
  return '';
}

export interface ChatPiecesOptions {
  /** A Jinja template; the tokenizer's own when omitted. */
  template?: string;
  /** 'assistant' trains assistant turns only (the default); 'all' trains every token. */
  trainOn?: 'assistant' | 'all';
}

export function chatPieces(messages: TemplateMessage[], tok: TextTokenizer, opts: ChatPiecesOptions = {}): Piece[] {
  const render = (ms: TemplateMessage[]) => tok.renderChat(ms, { template: opts.template, addGenerationPrompt: false });
  const skeleton = render(messages.map((m, i) => ({ role: m.role, content: sentinel(i) })));
  const real = render(messages);
  const all = opts.trainOn === 'all';

  // Where each message's sentinel sits in the skeleton (a template may drop a message, never repeat one).
  const found: { msg: number; at: number }[] = [];
  messages.forEach((_, i) => {
    const at = skeleton.indexOf(sentinel(i));
    if (at < 0) return;
    if (skeleton.indexOf(sentinel(i), at + 1) >= 0)
      throw new TemplateMismatch(`the chat template renders message ${i} twice`);
    found.push({ msg: i, at });
  });
  found.sort((a, b) => a.at - b.at);
  for (let k = 1; k < found.length; k++) {
    if (found[k].msg < found[k - 1].msg) throw new TemplateMismatch('the chat template reorders the messages');
  }
  const literals: string[] = [];
  let from = 0;
  for (const f of found) {
    literals.push(skeleton.slice(from, f.at));
    from = f.at + sentinel(f.msg).length;
  }
  literals.push(skeleton.slice(from));

  const markers = [...tok.specialTokens, '<|im_end|>'].sort((a, b) => b.length - a.length);
  const pieces: Piece[] = [];
  const push = (text: string, train: boolean, role: string) => {
    if (text.length > 0) pieces.push({ text, train: all || train, role });
  };
  if (!real.startsWith(literals[0])) {
    throw new TemplateMismatch('the chat template renders this conversation differently from its skeleton');
  }
  push(literals[0], false, 'template');
  let cursor = literals[0].length;
  for (let k = 0; k < found.length; k++) {
    const role = messages[found[k].msg].role;
    const next = literals[k + 1];
    const last = k === found.length - 1;
    let end: number;
    if (last) {
      end = real.length - next.length;
      if (end < cursor || !real.endsWith(next)) {
        throw new TemplateMismatch('the chat template renders the end of this conversation differently');
      }
    } else {
      if (next.length === 0) throw new TemplateMismatch('the chat template puts two messages side by side');
      end = real.indexOf(next, cursor);
      if (end < 0) {
        throw new TemplateMismatch(`the chat template renders message ${found[k].msg} in a way that cannot be located`);
      }
    }
    const assistant = role === 'assistant';
    push(real.slice(cursor, end), assistant, role);
    const marker = assistant ? leadingEndMarker(next, markers) : '';
    push(marker, true, role);
    push(next.slice(marker.length), false, 'template');
    cursor = end + next.length;
  }
  return pieces;
}
