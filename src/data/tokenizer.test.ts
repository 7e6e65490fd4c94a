import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deserializeError, serializeError } from '../errors.ts';
import { loadTokenizerFromFiles, loadTokenizerFromHub, TokenizerLoadError, utf8Length } from './tokenizer.ts';

/** A tiny word-level tokenizer.json, enough for transformers.js to build a tokenizer. */
const tinyJson = {
  version: '1.0',
  added_tokens: [
    { id: 0, content: '<eos>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
  ],
  normalizer: null,
  pre_tokenizer: { type: 'Whitespace' },
  post_processor: null,
  decoder: null,
  model: { type: 'WordLevel', vocab: { '<eos>': 0, hello: 1, world: 2, '[UNK]': 3 }, unk_token: '[UNK]' },
};
const tinyConfig = { tokenizer_class: 'PreTrainedTokenizerFast', eos_token: '<eos>' };

async function loadError(p: Promise<unknown>): Promise<TokenizerLoadError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(TokenizerLoadError);
  return e as TokenizerLoadError;
}

describe('loading a tokenizer from files', () => {
  it('builds one from tokenizer.json and tokenizer_config.json (text, bytes, Blob or parsed JSON)', async () => {
    for (const json of [tinyJson, JSON.stringify(tinyJson), new TextEncoder().encode(JSON.stringify(tinyJson))]) {
      const tok = await loadTokenizerFromFiles({
        'tokenizer.json': json,
        'tokenizer_config.json': new Blob([JSON.stringify(tinyConfig)]),
      });
      expect(tok.encode('hello world')).toEqual([1, 2]);
      expect(tok.eosId).toBe(0);
      expect(tok.chatTemplate).toBeNull();
      expect(tok.tokenBytes(1)).toBeNull(); // not byte-level: mapping falls back to per-piece tokenization
    }
  });

  it('names the missing file and what it holds', async () => {
    let e = await loadError(loadTokenizerFromFiles({ 'tokenizer_config.json': tinyConfig }, 'my-model'));
    expect(e.file).toBe('tokenizer.json');
    expect(e.message).toBe(
      'my-model: cannot load the tokenizer: tokenizer.json is missing (it holds the vocabulary, merges and pre-tokenizer)',
    );
    e = await loadError(loadTokenizerFromFiles({ 'tokenizer.json': tinyJson }, 'my-model'));
    expect(e.file).toBe('tokenizer_config.json');
    expect(e.message).toMatch(
      /tokenizer_config\.json is missing \(it holds the special tokens and the chat template\)/,
    );
  });

  it('says which file is not valid JSON, and keeps its class across a boundary', async () => {
    const e = await loadError(
      loadTokenizerFromFiles({ 'tokenizer.json': '{"model": ', 'tokenizer_config.json': '{}' }),
    );
    expect(e.file).toBe('tokenizer.json');
    expect(e.message).toMatch(/^local files: tokenizer\.json is not valid JSON/);
    const back = deserializeError(JSON.parse(JSON.stringify(serializeError(e))) as ReturnType<typeof serializeError>);
    expect(back.message).toBe(e.message);
    expect(back).toBeInstanceOf(TokenizerLoadError);
    expect((back as TokenizerLoadError).file).toBe('tokenizer.json');
  });
});

describe('loading a tokenizer by model id', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lorabook-tok-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a local model folder without tokenizer files gives a clear error, never the library internals', async () => {
    const { env } = await import('@huggingface/transformers');
    const saved = { remote: env.allowRemoteModels, local: env.localModelPath };
    env.allowRemoteModels = false;
    env.localModelPath = dir;
    try {
      writeFileSync(join(dir, 'README.md'), 'no tokenizer here');
      const e = await loadError(loadTokenizerFromHub('empty-model'));
      expect(e.source).toBe('empty-model');
      expect(e.message).toMatch(/^empty-model@main: tokenizer\.json or tokenizer_config\.json was not found/);
    } finally {
      env.allowRemoteModels = saved.remote;
      env.localModelPath = saved.local;
    }
  });
});

describe('utf8Length', () => {
  it('counts bytes of one-, two-, three- and four-byte characters', () => {
    for (const s of ['', 'a', 'é', '日本', '🙂', 'a🙂é日'])
      expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
  });
});
