// A character-level TextTokenizer for fast tests of everything after tokenization (packing, batching,
// loaders, the pipeline) without loading an 11 MB tokenizer.json: one id per code point (+100), a few
// special tokens, an optional BOS it adds by default, and ChatML as its only chat template. The real-model
// behaviour (Qwen3, Llama 3) is tested on their own tokenizer files.

import { CHATML_TEMPLATE } from './chat-template.ts';
import { utf8Length, type TemplateMessage, type TextTokenizer } from './tokenizer.ts';

const SPECIALS = ['<pad>', '<s>', '</s>', '<|im_start|>', '<|im_end|>'];
const SPECIAL_RE = /(<pad>|<s>|<\/s>|<\|im_start\|>|<\|im_end\|>)/;

export function charTokenizer(opts: { bos?: boolean; chatTemplate?: boolean } = {}): TextTokenizer {
  const chatml = (messages: TemplateMessage[], addGenerationPrompt: boolean) =>
    messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('') +
    (addGenerationPrompt ? '<|im_start|>assistant\n' : '');
  return {
    encode(text) {
      const ids: number[] = [];
      for (const part of text.split(SPECIAL_RE)) {
        const s = SPECIALS.indexOf(part);
        if (s >= 0) ids.push(s);
        else for (const ch of part) ids.push(ch.codePointAt(0)! + 100);
      }
      return ids;
    },
    decode: (ids) => ids.map((id) => (id < 100 ? SPECIALS[id] : String.fromCodePoint(id - 100))).join(''),
    piece: (id) => (id < 100 ? SPECIALS[id] : String.fromCodePoint(id - 100)),
    tokenBytes: (id) => utf8Length(id < 100 ? SPECIALS[id] : String.fromCodePoint(id - 100)),
    prefixIds: opts.bos ? [1] : [],
    suffixIds: [],
    eosId: 2,
    padId: 0,
    specialTokens: SPECIALS,
    chatTemplate: opts.chatTemplate ? CHATML_TEMPLATE : null,
    renderChat(messages, o = {}) {
      if (o.template !== undefined && o.template !== CHATML_TEMPLATE)
        throw new Error('the test tokenizer only renders ChatML');
      return chatml(messages, o.addGenerationPrompt ?? false);
    },
  };
}
