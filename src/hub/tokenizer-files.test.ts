// Tokenizers come through the same loader and cache as the weights: the files a load returns build a
// transformers.js tokenizer directly, without the library's own network code.

import { PreTrainedTokenizer } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { loadFromFiles } from './loader.ts';
import { tinyModel } from './test-fixtures.ts';

describe('tokenizer files through the loader', () => {
  it('builds a tokenizer from the loaded tokenizer.json and tokenizer_config.json', async () => {
    const model = tinyModel(5);
    const picked = Object.entries(model.files).map(([path, bytes]) => ({
      path,
      blob: new Blob([bytes as Uint8Array<ArrayBuffer>]),
    }));
    const m = await loadFromFiles('tiny', picked, { storage: 'f16', storageManager: null });
    const json = (p: string) => JSON.parse(new TextDecoder().decode(m.files.get(p)));
    const tok = new PreTrainedTokenizer(json('tokenizer.json'), json('tokenizer_config.json'));
    expect(tok.encode('hello lora world', { add_special_tokens: false })).toEqual([1, 3, 2]);
    expect(tok.encode('book unknown', { add_special_tokens: false })).toEqual([4, 0]);
  });
});
