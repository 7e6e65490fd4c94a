// The tokenizer as the data pipeline sees it: encode without added specials, the ids a tokenizer adds
// around a text by default (BOS for Llama-style ones, nothing for Qwen), EOS/PAD, the special-token
// strings, and the model's own chat template. `TextTokenizer` is implemented over transformers.js'
// PreTrainedTokenizer, loaded from local files (a folder the user picked, or files a package ships) or
// from the Hub; a missing or unreadable file is a TokenizerLoadError that names it, instead of the
// library's internal message ("Cannot read properties of undefined (reading 'tokenizer_class')").

import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { TokenizerLoadError } from '../errors.ts';

export interface TemplateMessage {
  role: string;
  content: string;
}

export interface TextTokenizer {
  /** Token ids of `text`; special-token strings in it (e.g. <|im_end|>) become their ids; nothing is added. */
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** The vocabulary entry of one id (byte-level pieces such as "Ġthe" as stored). */
  piece(id: number): string;
  /**
   * How many UTF-8 bytes of the encoded text one token stands for, when the tokenizer can say exactly
   * (byte-level BPE: GPT-2, Llama 3, Qwen, SmolLM); null when it cannot (e.g. SentencePiece models).
   */
  tokenBytes(id: number): number | null;
  /** Ids the tokenizer adds before / after a text by default (e.g. [BOS]); often empty. */
  readonly prefixIds: readonly number[];
  readonly suffixIds: readonly number[];
  readonly eosId: number | null;
  readonly padId: number | null;
  /** Strings of the special tokens (BOS/EOS/PAD and additional ones such as <|im_end|>, <|eot_id|>). */
  readonly specialTokens: readonly string[];
  /** The model's Jinja chat template, or null when it has none. */
  readonly chatTemplate: string | null;
  /** Renders messages through a Jinja chat template (the model's own unless `template` is given). */
  renderChat(messages: TemplateMessage[], opts?: { template?: string; addGenerationPrompt?: boolean }): string;
}

// TokenizerLoadError lives with the other typed errors so it keeps its class across the worker boundary.
export { TokenizerLoadError };

interface Decoder {
  type?: string;
  decoders?: Decoder[];
}

function isByteLevel(d: Decoder | null | undefined): boolean {
  return !!d && (d.type === 'ByteLevel' || (d.type === 'Sequence' && (d.decoders ?? []).some(isByteLevel)));
}

export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Wraps a transformers.js tokenizer. */
export function fromTransformers(tok: PreTrainedTokenizer): TextTokenizer {
  const around = tok.encode('a', { add_special_tokens: true });
  const core = tok.encode('a', { add_special_tokens: false });
  const at = around.findIndex((_, i) => core.every((c, k) => around[i + k] === c));
  const prefixIds = at < 0 ? [] : around.slice(0, at);
  const suffixIds = at < 0 ? [] : around.slice(at + core.length);
  const internals = tok as unknown as {
    _tokenizer?: { id_to_token?: (id: number) => string | undefined };
    _tokenizerJSON?: { decoder?: Decoder | null; added_tokens?: { id: number; content: string }[] };
  };
  const inner = internals._tokenizer;
  const byteLevel = isByteLevel(internals._tokenizerJSON?.decoder) && typeof inner?.id_to_token === 'function';
  const added = new Map<number, number>();
  for (const t of internals._tokenizerJSON?.added_tokens ?? []) added.set(t.id, utf8Length(t.content));
  const template = typeof tok.chat_template === 'string' ? tok.chat_template : null;
  return {
    encode: (text) => (text.length === 0 ? [] : tok.encode(text, { add_special_tokens: false })),
    decode: (ids) =>
      ids.length === 0 ? '' : tok.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
    piece: (id) => inner?.id_to_token?.(id) ?? tok.decode([id]),
    // In byte-level BPE every character of a (non-added) vocabulary entry stands for one byte.
    tokenBytes: (id) => (byteLevel ? (added.get(id) ?? inner!.id_to_token!(id)?.length ?? null) : null),
    prefixIds,
    suffixIds,
    eosId: tok.eos_token_id ?? null,
    padId: tok.pad_token_id ?? tok.eos_token_id ?? null,
    specialTokens: [...tok.all_special_tokens],
    chatTemplate: template,
    renderChat(messages, opts = {}) {
      return tok.apply_chat_template(messages, {
        tokenize: false,
        add_generation_prompt: opts.addGenerationPrompt ?? false,
        ...(opts.template !== undefined ? { chat_template: opts.template } : {}),
      }) as string;
    },
  };
}

/** What a tokenizer folder holds; values are file contents (text, bytes, Blob) or parsed JSON. */
export type TokenizerFiles = Record<string, string | Blob | Uint8Array | object>;

const REQUIRED_FILES: Record<string, string> = {
  'tokenizer.json': 'the vocabulary, merges and pre-tokenizer',
  'tokenizer_config.json': 'the special tokens and the chat template',
};

async function jsonOf(source: string, file: string, v: TokenizerFiles[string]): Promise<object> {
  let text: string;
  if (typeof v === 'string') text = v;
  else if (v instanceof Blob) text = await v.text();
  else if (v instanceof Uint8Array) text = new TextDecoder().decode(v);
  else return v;
  try {
    return JSON.parse(text) as object;
  } catch (e) {
    const reason = `not valid JSON (${(e as Error).message})`;
    throw new TokenizerLoadError(`${source}: ${file} is ${reason}`, source, file, reason);
  }
}

/** Loads a tokenizer from its files (tokenizer.json and tokenizer_config.json; other files are ignored). */
export async function loadTokenizerFromFiles(files: TokenizerFiles, source = 'local files'): Promise<TextTokenizer> {
  for (const [file, holds] of Object.entries(REQUIRED_FILES)) {
    if (files[file] === undefined) {
      const reason = `${file} is missing (it holds ${holds})`;
      throw new TokenizerLoadError(`${source}: cannot load the tokenizer: ${reason}`, source, file, reason);
    }
  }
  const json = await jsonOf(source, 'tokenizer.json', files['tokenizer.json']);
  const config = await jsonOf(source, 'tokenizer_config.json', files['tokenizer_config.json']);
  const { PreTrainedTokenizer } = await import('@huggingface/transformers');
  try {
    return fromTransformers(new PreTrainedTokenizer(json, config));
  } catch (e) {
    const reason = (e as Error).message;
    throw new TokenizerLoadError(
      `${source}: tokenizer.json could not be read: ${reason}`,
      source,
      'tokenizer.json',
      reason,
    );
  }
}

/**
 * Loads a tokenizer by model id through transformers.js (the Hub, or env.localModelPath when the host set
 * it up for local models). Errors name the model and say what is missing.
 */
export async function loadTokenizerFromHub(modelId: string, revision = 'main'): Promise<TextTokenizer> {
  const { AutoTokenizer } = await import('@huggingface/transformers');
  try {
    return fromTransformers(await AutoTokenizer.from_pretrained(modelId, { revision }));
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    const missing = /tokenizer_class|could not locate|not found|404|ENOENT/i.test(msg);
    const reason = missing
      ? `tokenizer.json or tokenizer_config.json was not found for this model (${msg})`
      : `the tokenizer could not be loaded (${msg})`;
    throw new TokenizerLoadError(`${modelId}@${revision}: ${reason}`, modelId, null, reason);
  }
}
