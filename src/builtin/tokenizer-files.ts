// tokenizer.json and tokenizer_config.json for a byte-level BPE model, in the layout Hugging Face
// `tokenizers` writes for GPT-2-style tokenizers, so transformers (Python) and transformers.js load them
// unchanged. Special tokens follow ChatML: <|endoftext|> is BOS, EOS and PAD of the base model, and
// <|im_start|>/<|im_end|> with a ChatML chat template make it ready for chat fine-tuning.

import { CHATML_TEMPLATE } from '../data/chat-template.ts';
import { BYTE_TO_CHAR } from './byte-level.ts';
import type { BpeModel } from './bpe-train.ts';

export const SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;

/** A token's vocabulary string: its bytes in the byte-level alphabet. */
export const pieceOf = (bytes: Uint8Array): string => Array.from(bytes, (b) => BYTE_TO_CHAR[b]).join('');

export interface TokenizerFilesJson {
  tokenizer: Record<string, unknown>;
  config: Record<string, unknown>;
  /** Ids of the special tokens, by content. */
  specialIds: Record<(typeof SPECIAL_TOKENS)[number], number>;
}

export function tokenizerFiles(bpe: BpeModel, modelMaxLength: number): TokenizerFilesJson {
  const vocab: Record<string, number> = {};
  bpe.tokens.forEach((t, id) => {
    const p = pieceOf(t);
    if (p in vocab) throw new Error(`duplicate vocabulary entry ${p}`);
    vocab[p] = id;
  });
  const first = bpe.tokens.length;
  const specialIds = Object.fromEntries(
    SPECIAL_TOKENS.map((s, i) => [s, first + i]),
  ) as TokenizerFilesJson['specialIds'];
  const added = SPECIAL_TOKENS.map((content, i) => ({
    id: first + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
    post_processor: { type: 'ByteLevel', ...byteLevel, trim_offsets: false },
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: bpe.merges.map(([a, b]) => `${pieceOf(bpe.tokens[a])} ${pieceOf(bpe.tokens[b])}`),
    },
  };
  const config = {
    add_bos_token: false,
    add_eos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries(added.map(({ id, ...rest }) => [String(id), rest])),
    additional_special_tokens: ['<|im_start|>', '<|im_end|>'],
    bos_token: '<|endoftext|>',
    eos_token: '<|endoftext|>',
    pad_token: '<|endoftext|>',
    unk_token: null,
    chat_template: CHATML_TEMPLATE,
    clean_up_tokenization_spaces: false,
    model_max_length: modelMaxLength,
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
  return { tokenizer, config, specialIds };
}
