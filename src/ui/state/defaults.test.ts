// The dataset cell's default for rows over the token budget, checked by what the tokenizer then does with a
// long row of each shape: classification, prompt/completion and alpaca rows keep their completion whole
// ('truncate-prompt'), chat and plain-text rows are kept by their head ('truncate'), where the other
// choice would lose the label or drop the row. And the setting follows a change of shape or built-in
// dataset unless the user chose it.

import { describe, expect, it } from 'vitest';
import type { Example, ShapeName } from '../../data/shapes.ts';
import { charTokenizer } from '../../data/test-tokenizer.ts';
import { tokenizeExamples } from '../../data/tokenize.ts';
import type { DatasetCellConfig } from '../../share/notebook.ts';
import { cellShape, DEFAULT_DATASET, overLengthAfter, overLengthFor } from './defaults.ts';

const tok = charTokenizer({ bos: true, chatTemplate: true });
const BUDGET = 320; // room for alpaca's preamble (about 190 characters, one token each here)
const long = 'w'.repeat(1000);

/** A row of each shape whose prompt (or first turn, or text) is far over the budget. */
const LONG_ROWS: Record<Exclude<ShapeName, 'sharegpt'>, Example> = {
  classification: { kind: 'classification', row: 1, text: `Subject: offer\n\n${long}`, label: 'spam' },
  'prompt-completion': { kind: 'prompt-completion', row: 2, prompt: `Q: ${long}?`, completion: ' yes' },
  alpaca: { kind: 'alpaca', row: 3, instruction: 'Summarise.', input: long, output: 'Short.' },
  chat: {
    kind: 'chat',
    row: 4,
    messages: [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: long },
      { role: 'assistant', content: 'Done.' },
    ],
  },
  text: { kind: 'text', row: 5, text: long },
};

/** The trained text of a tokenized row, or null when the row was dropped. */
function trainedText(e: Example, overLength: DatasetCellConfig['overLength']): string | null {
  const r = tokenizeExamples([e], tok, { maxLength: BUDGET, overLength });
  if (r.examples.length === 0) return null;
  const [t] = r.examples;
  expect(t.ids.length).toBeLessThanOrEqual(BUDGET);
  return tok.decode([...t.ids].filter((_, i) => t.trained[i] === 1));
}

describe('rows over the token budget, by shape', () => {
  it('the default dataset (spam/ham, classification under auto) keeps the label of a long e-mail', () => {
    const shape = cellShape(DEFAULT_DATASET);
    expect(shape).toBe('classification');
    expect(DEFAULT_DATASET.overLength).toBe(overLengthFor(shape!));
    expect(trainedText(LONG_ROWS.classification, DEFAULT_DATASET.overLength)).toBe(' spam</s>');
    // what the old default did: the label is cut off with the end of the e-mail, nothing is left to train
    expect(trainedText(LONG_ROWS.classification, 'truncate')).toBeNull();
  });

  it('completion shapes keep their completion whole; chat and text rows are kept by their head, not dropped', () => {
    const want: Record<keyof typeof LONG_ROWS, string> = {
      classification: ' spam</s>',
      'prompt-completion': ' yes</s>',
      alpaca: 'Short.</s>',
      chat: 'Hello!<|im_end|>', // the first exchange survives; the long turn and its answer are cut
      text: long.slice(0, BUDGET - 1), // after BOS, every token of the text's head is a target
    };
    for (const [shape, row] of Object.entries(LONG_ROWS) as [keyof typeof LONG_ROWS, Example][]) {
      expect(trainedText(row, overLengthFor(shape)), shape).toBe(want[shape]);
    }
    // 'truncate-prompt' has no prompt to shorten in chat and text rows: it would drop them
    expect(trainedText(LONG_ROWS.chat, 'truncate-prompt')).toBeNull();
    expect(trainedText(LONG_ROWS.text, 'truncate-prompt')).toBeNull();
    expect(overLengthFor('sharegpt')).toBe(overLengthFor('chat'));
  });
});

describe('overLengthAfter', () => {
  const cfg = (over: Partial<DatasetCellConfig>): DatasetCellConfig => ({ ...DEFAULT_DATASET, ...over });
  const sotu = { kind: 'builtin' as const, id: 'sotu' };
  const upload = { kind: 'local' as const, name: 'rows.jsonl' };

  it('follows the shape when the setting was the default', () => {
    const before = cfg({});
    expect(overLengthAfter(before, cfg({ source: sotu }))).toBe('truncate'); // sotu reads as text under auto
    expect(overLengthAfter(cfg({ source: sotu, overLength: 'truncate' }), before)).toBe('truncate-prompt');
    expect(overLengthAfter(before, cfg({ shape: 'chat' }))).toBe('truncate');
    expect(overLengthAfter(cfg({ shape: 'text', overLength: 'truncate' }), cfg({ shape: 'alpaca' }))).toBe(
      'truncate-prompt',
    );
  });

  it("keeps a user's choice, and the setting while the shape is unknown", () => {
    expect(overLengthAfter(cfg({ overLength: 'drop' }), cfg({ overLength: 'drop', source: sotu }))).toBe('drop');
    const chosen = cfg({ overLength: 'truncate' }); // not classification's default: chosen
    expect(overLengthAfter(chosen, { ...chosen, shape: 'alpaca' })).toBe('truncate');
    // an upload under auto: the shape is known only once read, so nothing changes yet
    expect(cellShape(cfg({ source: upload }))).toBeNull();
    expect(overLengthAfter(cfg({}), cfg({ source: upload }))).toBe('truncate-prompt');
    // from unknown to a chosen shape: a default follows, 'drop' (never a default) stays
    expect(overLengthAfter(cfg({ source: upload }), cfg({ source: upload, shape: 'text' }))).toBe('truncate');
    const dropped = cfg({ source: upload, overLength: 'drop' });
    expect(overLengthAfter(dropped, { ...dropped, shape: 'text' })).toBe('drop');
  });
});
