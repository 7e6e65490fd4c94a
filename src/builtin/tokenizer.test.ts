// The built-in tokenizer: the BPE trainer's rules on small texts, and the committed files: they load in
// transformers.js (AutoTokenizer from a local folder, and the data pipeline's loader), round-trip text
// they never saw, carry the ChatML specials and template, and are what the script still produces.

import { AutoTokenizer, env, PreTrainedTokenizer } from '@huggingface/transformers';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chatPieces } from '../data/chat-template.ts';
import { loadTokenizerFromFiles } from '../data/tokenizer.ts';
import { countWords, trainBpe } from './bpe-train.ts';
import { builtinChunks, MODEL_DIR, readModelJson } from './builtin-files.ts';
import { BUILTIN_NAME, MODEL_CONFIG } from './recipe.ts';
import { SPECIAL_TOKENS, tokenizerFiles } from './tokenizer-files.ts';

const tricky = [
  'Call me Ishmael.',
  "  two  spaces,\ttabs\n\nand newlines\n  — it's “quoted” café 1861 ½ 🐋 日本 ",
  "I'll say I'VE won't",
  '<|im_start|>user\nhi<|im_end|>',
];

describe('BPE trainer', () => {
  it('merges the most frequent pair first, deterministically, within pre-tokenized words', () => {
    const counts = countWords(['the the the then there a b', 'the cat']);
    const bpe = trainBpe(counts, 4);
    const piece = (id: number) => new TextDecoder().decode(bpe.tokens[id]);
    // "th" and "he" both occur 6 times ("the" twice, " the" twice, " then", " there"), " t" only 4 times:
    // the tie goes to the smaller pair of ids, ("h", "e") before ("t", "h").
    expect([piece(256), piece(257)]).toEqual(['he', 'the']);
    // It stops early once no pair occurs twice.
    expect(trainBpe(counts, 100).merges.length).toBeLessThan(10);
    expect(trainBpe(counts, 4)).toEqual(bpe);
    // Pre-tokenization keeps merges inside words: no token spans "e t".
    expect(bpe.tokens.map((t) => new TextDecoder().decode(t))).not.toContain('e t');
  });

  it('writes files that transformers.js loads and that round-trip any text', () => {
    const bpe = trainBpe(countWords(['hello world, hello lora ' + tricky.join(' ')]), 40);
    const files = tokenizerFiles(bpe, 64);
    const tok = new PreTrainedTokenizer(files.tokenizer, files.config);
    for (const s of tricky) {
      const ids = tok.encode(s, { add_special_tokens: true });
      expect(tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false })).toBe(s);
    }
    expect(tok.encode('<|endoftext|>', { add_special_tokens: false })).toEqual([files.specialIds['<|endoftext|>']]);
  });
});

describe('the committed lorabook-tiny tokenizer', () => {
  it('loads with AutoTokenizer from the local folder and round-trips held-out text', async () => {
    const saved = { local: env.localModelPath, remote: env.allowRemoteModels };
    env.localModelPath = dirname(MODEL_DIR) + '/';
    env.allowRemoteModels = false;
    try {
      const tok = await AutoTokenizer.from_pretrained(BUILTIN_NAME);
      expect(tok.encode('<|im_end|>', { add_special_tokens: false })).toEqual([MODEL_CONFIG.vocab_size - 1]);
      const { heldOutChunks } = builtinChunks();
      let bytes = 0;
      let tokens = 0;
      for (const s of [...tricky, ...heldOutChunks.filter((_, i) => i % 16 === 0).map((c) => c.text)]) {
        const ids = tok.encode(s, { add_special_tokens: true });
        expect(tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false })).toBe(s);
        bytes += new TextEncoder().encode(s).length;
        tokens += ids.length;
      }
      // BPE earns its keep: well over two bytes per token on unseen prose (bytes alone would be 1).
      expect(bytes / tokens).toBeGreaterThan(2.5);
    } finally {
      env.localModelPath = saved.local;
      env.allowRemoteModels = saved.remote;
    }
  });

  it('has <|endoftext|> as BOS/EOS/PAD and a ChatML template the chat masks understand', async () => {
    const tok = await loadTokenizerFromFiles({
      'tokenizer.json': readModelJson('tokenizer.json'),
      'tokenizer_config.json': readModelJson('tokenizer_config.json'),
    });
    expect(SPECIAL_TOKENS.map((s) => tok.encode(s))).toEqual([[1021], [1022], [1023]]);
    expect(tok.eosId).toBe(MODEL_CONFIG.eos_token_id);
    expect(tok.padId).toBe(MODEL_CONFIG.pad_token_id);
    expect(tok.prefixIds).toEqual([]);
    const messages = [
      { role: 'user', content: 'Who is Ishmael?' },
      { role: 'assistant', content: 'A sailor.' },
    ];
    expect(tok.renderChat(messages)).toBe(
      '<|im_start|>user\nWho is Ishmael?<|im_end|>\n<|im_start|>assistant\nA sailor.<|im_end|>\n',
    );
    const trained = chatPieces(messages, tok)
      .filter((p) => p.train)
      .map((p) => p.text ?? tok.decode(p.ids ?? []))
      .join('');
    expect(trained).toBe('A sailor.<|im_end|>');
  });

  it('is what scripts/train-tokenizer.ts produces from the training documents (held-out ones kept out)', () => {
    const { train, heldOut } = builtinChunks();
    const trainIds = new Set(train.map((d) => d.id));
    expect(heldOut.length).toBeGreaterThan(30);
    expect(heldOut.some((d) => trainIds.has(d.id))).toBe(false);
    const bpe = trainBpe(countWords(train.map((d) => d.text)), MODEL_CONFIG.vocab_size - 256 - SPECIAL_TOKENS.length);
    const files = tokenizerFiles(bpe, MODEL_CONFIG.max_position_embeddings);
    expect(files.tokenizer).toEqual(readModelJson('tokenizer.json'));
    expect(files.config).toEqual(readModelJson('tokenizer_config.json'));
  });
});
