// Token budgets: 'truncate-prompt' shortens the prompt's text from its end and keeps the template's tail
// ("\nLabel:") and the completion whole; a row whose completion alone is over the budget is dropped and
// counted. Classification rows keep their label and the token range of their completion.

import { describe, expect, it } from 'vitest';
import { classificationPrompt } from './templates.ts';
import type { Example } from './shapes.ts';
import { charTokenizer } from './test-tokenizer.ts';
import { tokenizeExamples } from './tokenize.ts';

const tok = charTokenizer({ bos: true });
const email = (row: number, text: string, label: string): Example => ({ kind: 'classification', row, text, label });

describe("tokenizeExamples with overLength 'truncate-prompt'", () => {
  it('cuts the end of the email, keeps "\\nLabel:" and the label whole, and fills the budget', () => {
    const text = 'Subject: cheap pills\n\nBuy now, limited offer, click here!';
    const r = tokenizeExamples([email(3, text, 'spam')], tok, { maxLength: 32, overLength: 'truncate-prompt' });
    expect(r.droppedOverBudget).toBe(0);
    const [t] = r.examples;
    expect(t.ids.length).toBe(32); // the char tokenizer: every character is one token, so the cut is exact
    // BOS + "Text: <head of the email>\nLabel:" + " spam" + EOS
    const head = text.slice(0, 32 - 1 - classificationPrompt('').length - ' spam'.length - 1);
    expect(tok.decode([...t.ids])).toBe(`<s>${classificationPrompt(head)} spam</s>`);
    expect(t.label).toBe('spam');
    expect(t.completion).toEqual([32 - 6, 32 - 1]);
    expect(tok.decode([...t.ids.slice(...t.completion!)])).toBe(' spam');
    expect(tok.decode([...t.ids].filter((_, i) => t.trained[i] === 1))).toBe(' spam</s>');
  });

  it('leaves rows within the budget as they are; drops and counts rows whose completion alone is too long', () => {
    const rows = [
      email(1, 'short', 'ham'),
      email(2, 'x'.repeat(50), 'a-very-long-label-indeed'),
      email(4, 'y'.repeat(60), 'ham'),
    ];
    const report = { count: 0, examples: [] };
    const r = tokenizeExamples(
      rows,
      tok,
      { maxLength: 30, overLength: 'truncate-prompt' },
      {
        input: 3,
        kept: 3,
        whitespaceNormalized: { count: 0, examples: [] },
        empty: { count: 0, examples: [] },
        exactDuplicates: { count: 0, examples: [] },
        normalizedDuplicates: { count: 0, examples: [] },
        overBudget: report,
        nothingToTrain: { count: 0, examples: [] },
      },
    );
    expect(r.examples.map((e) => e.row)).toEqual([1, 4]);
    expect(r.droppedOverBudget).toBe(1);
    expect(report.count).toBe(2); // both long rows were over the budget; one could be cut
    expect(tok.decode([...r.examples[0].ids])).toBe(`<s>${classificationPrompt('short')} ham</s>`);
    expect(r.examples[1].ids.length).toBe(30);
  });

  it("'drop' drops every row over the budget; 'truncate' keeps the first tokens and clips the completion", () => {
    const rows = [email(1, 'z'.repeat(40), 'spam')];
    expect(tokenizeExamples(rows, tok, { maxLength: 20 }).droppedOverBudget).toBe(1);
    const long = [email(1, 'abc', 'spam')]; // BOS + 16 + 5 + EOS = 23 tokens
    const cut = tokenizeExamples(long, tok, { maxLength: 18, overLength: 'truncate' }).examples[0];
    expect(cut.ids.length).toBe(18);
    expect(cut.completion).toEqual([17, 18]);
  });

  it('keeps the whole prompt/completion row and cuts a prompt-completion prompt the same way', () => {
    const pc: Example = { kind: 'prompt-completion', row: 9, prompt: 'Q: ' + 'w'.repeat(40) + '?', completion: ' yes' };
    const [t] = tokenizeExamples([pc], tok, { maxLength: 16, overLength: 'truncate-prompt' }).examples;
    expect(tok.decode([...t.ids])).toBe('<s>Q: wwwwwww yes</s>');
    expect(t.label).toBeUndefined();
    expect(t.completion).toEqual([11, 15]);
    // text rows have no prompt to cut: dropped
    const text: Example = { kind: 'text', row: 1, text: 'q'.repeat(40) };
    expect(tokenizeExamples([text], tok, { maxLength: 16, overLength: 'truncate-prompt' }).droppedOverBudget).toBe(1);
  });
});
