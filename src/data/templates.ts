// From an example to pieces of text marked trained or masked, per shape and template choice:
//   chat rows            the model's own chat template (through transformers.js), ChatML when it has none,
//                        or a custom Jinja template; assistant turns trained, every other turn masked.
//   prompt/completion,   'raw' style (default): [BOS] prompt + completion + EOS, with the alpaca prompt of
//   alpaca, classification  Stanford Alpaca and a "Text: … Label:" prompt for classification; prompt masked.
//                        'chat' style: the same as a user turn and an assistant turn through the chat template.
//   text                 [BOS] text + EOS, all trained (continued pretraining / style).
// `loss: 'all'` trains on every token instead (the switch the issue asks for).

import { chatPieces, CHATML_TEMPLATE, type Piece } from './chat-template.ts';
import type { ChatMessage, Example } from './shapes.ts';
import type { TextTokenizer } from './tokenizer.ts';

export type LossMask = 'completion-only' | 'all';

export interface TemplateOptions {
  /** 'model' (default): the tokenizer's own, ChatML if it has none; 'chatml'; or a Jinja template string. */
  chatTemplate?: 'model' | 'chatml' | (string & {});
  /** How prompt/completion, alpaca and classification rows are laid out (default 'raw'). */
  instructionStyle?: 'raw' | 'chat';
  loss?: LossMask;
  /** Added as a system turn to chats that have none (and to 'chat'-style instruction rows). */
  systemPrompt?: string | null;
  /** Append EOS after raw completions and texts (default true), so the model learns to stop. */
  appendEos?: boolean;
}

export type TemplateUsed = 'model' | 'chatml' | 'custom' | 'raw';

/** The Jinja template chat rows will use, and its name for the report. */
export function resolveChatTemplate(tok: TextTokenizer, opts: TemplateOptions): { jinja: string; used: TemplateUsed } {
  const choice = opts.chatTemplate ?? 'model';
  if (choice === 'model')
    return tok.chatTemplate ? { jinja: tok.chatTemplate, used: 'model' } : { jinja: CHATML_TEMPLATE, used: 'chatml' };
  if (choice === 'chatml') return { jinja: CHATML_TEMPLATE, used: 'chatml' };
  return { jinja: choice, used: 'custom' };
}

export const ALPACA_PROMPT =
  'Below is an instruction that describes a task, paired with an input that provides further context. ' +
  'Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n';
export const ALPACA_PROMPT_NO_INPUT =
  'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n' +
  '### Instruction:\n{instruction}\n\n### Response:\n';

export function alpacaPrompt(instruction: string, input: string): string {
  const t = input.trim() === '' ? ALPACA_PROMPT_NO_INPUT : ALPACA_PROMPT;
  return t.replace('{instruction}', instruction).replace('{input}', input);
}

export function classificationPrompt(text: string): string {
  return `Text: ${text}\nLabel:`;
}

/** The (prompt, completion) of a non-chat example; null for plain text. */
function promptCompletion(e: Example): [string, string] | null {
  switch (e.kind) {
    case 'prompt-completion':
      return [e.prompt, e.completion];
    case 'alpaca':
      return [alpacaPrompt(e.instruction, e.input), e.output];
    case 'classification':
      return [classificationPrompt(e.text), ` ${e.label}`];
    default:
      return null;
  }
}

/** The user turn of a chat-style instruction row: without alpaca's preamble. */
function asUserTurn(e: Example): [string, string] | null {
  switch (e.kind) {
    case 'prompt-completion':
      return [e.prompt, e.completion];
    case 'alpaca':
      return [e.input.trim() === '' ? e.instruction : `${e.instruction}\n\n${e.input}`, e.output];
    case 'classification':
      return [`Classify this text.\n\n${e.text}`, e.label];
    default:
      return null;
  }
}

export function examplePieces(e: Example, tok: TextTokenizer, opts: TemplateOptions = {}): Piece[] {
  const all = (opts.loss ?? 'completion-only') === 'all';
  const eos: Piece[] =
    (opts.appendEos ?? true) && tok.eosId !== null ? [{ ids: [tok.eosId], train: true, role: 'eos' }] : [];
  const bos: Piece[] = tok.prefixIds.length > 0 ? [{ ids: tok.prefixIds, train: all, role: 'bos' }] : [];
  const chat = (messages: ChatMessage[]): Piece[] => {
    const withSystem =
      opts.systemPrompt && !messages.some((m) => m.role === 'system')
        ? [{ role: 'system' as const, content: opts.systemPrompt }, ...messages]
        : messages;
    const { jinja } = resolveChatTemplate(tok, opts);
    return chatPieces(withSystem, tok, { template: jinja, trainOn: all ? 'all' : 'assistant' });
  };
  if (e.kind === 'chat') return chat(e.messages);
  if (e.kind === 'text') return [...bos, { text: e.text, train: true, role: 'text' }, ...eos];
  if (opts.instructionStyle === 'chat') {
    const [user, assistant] = asUserTurn(e)!;
    return chat([
      { role: 'user', content: user },
      { role: 'assistant', content: assistant },
    ]);
  }
  const [prompt, completion] = promptCompletion(e)!;
  return [
    ...bos,
    { text: prompt, train: all, role: 'prompt' },
    { text: completion, train: true, role: 'completion' },
    ...eos,
  ];
}

/** The template the examples of this shape will be laid out with, for the report. */
export function templateUsed(kind: Example['kind'], tok: TextTokenizer, opts: TemplateOptions): TemplateUsed {
  if (kind === 'text' || (kind !== 'chat' && opts.instructionStyle !== 'chat')) return 'raw';
  return resolveChatTemplate(tok, opts).used;
}
