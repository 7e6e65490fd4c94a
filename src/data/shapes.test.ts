import { describe, expect, it } from 'vitest';
import { DatasetError } from '../errors.ts';
import type { RawRecord } from './record.ts';
import { recogniseShape, toExamples } from './shapes.ts';

const recs = (...fields: Record<string, unknown>[]): RawRecord[] => fields.map((f, i) => ({ row: i + 1, fields: f }));

describe('shape recognition', () => {
  it('recognises each shape from its field names', () => {
    expect(recogniseShape({ text: 'a' })).toBe('text');
    expect(recogniseShape({ text: 'a', label: 'b' })).toBe('classification');
    expect(recogniseShape({ prompt: 'a', completion: 'b' })).toBe('prompt-completion');
    expect(recogniseShape({ instruction: 'a', input: '', output: 'b' })).toBe('alpaca');
    expect(recogniseShape({ instruction: 'a', output: 'b' })).toBe('alpaca');
    expect(recogniseShape({ messages: [] })).toBe('chat');
    expect(recogniseShape({ conversations: [] })).toBe('sharegpt');
    expect(recogniseShape({ question: 'a' })).toBeNull();
    expect(recogniseShape({ sms: 'a', class: 'b' }, { text: 'sms', label: 'class' })).toBe('classification');
  });

  it('converts every shape to typed examples', () => {
    const r = toExamples(recs({ text: 'plain' }), { file: 'f' });
    expect(r.examples).toEqual([{ kind: 'text', row: 1, text: 'plain' }]);
    expect(toExamples(recs({ prompt: 'P', completion: 'C' }), { file: 'f' }).examples[0]).toEqual({
      kind: 'prompt-completion',
      row: 1,
      prompt: 'P',
      completion: 'C',
    });
    expect(toExamples(recs({ instruction: 'I', output: 'O' }), { file: 'f' }).examples[0]).toEqual({
      kind: 'alpaca',
      row: 1,
      instruction: 'I',
      input: '',
      output: 'O',
    });
    expect(toExamples(recs({ text: 'T', label: 1 }, { text: 'U', label: true }), { file: 'f' }).examples).toEqual([
      { kind: 'classification', row: 1, text: 'T', label: '1' },
      { kind: 'classification', row: 2, text: 'U', label: 'true' },
    ]);
  });

  it('reads OpenAI messages (system turns, content parts) and ShareGPT conversations as chat', () => {
    const chat = toExamples(
      recs({
        messages: [
          { role: 'system', content: 'S' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Hi ' },
              { type: 'text', text: 'there' },
            ],
          },
          { role: 'assistant', content: 'Yo' },
          { role: 'developer', content: 'D' },
        ],
      }),
      { file: 'f' },
    );
    expect(chat.shape).toBe('chat');
    expect(chat.examples[0]).toEqual({
      kind: 'chat',
      row: 1,
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'Hi there' },
        { role: 'assistant', content: 'Yo' },
        { role: 'system', content: 'D' },
      ],
    });
    const share = toExamples(
      recs({
        conversations: [
          { from: 'system', value: 'S' },
          { from: 'human', value: 'Q' },
          { from: 'gpt', value: 'A' },
        ],
      }),
      { file: 'f' },
    );
    expect(share.shape).toBe('sharegpt');
    expect(share.examples[0]).toEqual({
      kind: 'chat',
      row: 1,
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'Q' },
        { role: 'assistant', content: 'A' },
      ],
    });
  });

  it('takes an explicit shape and field names over recognition', () => {
    const r = toExamples(recs({ sms: 'win money', class: 'spam' }), {
      file: 'f.csv',
      fields: { text: 'sms', label: 'class' },
    });
    expect(r.shape).toBe('classification');
    expect(r.examples[0]).toEqual({ kind: 'classification', row: 1, text: 'win money', label: 'spam' });
    const asText = toExamples(recs({ text: 'a', label: 'x' }), { file: 'f', shape: 'text' });
    expect(asText.examples[0]).toEqual({ kind: 'text', row: 1, text: 'a' });
  });
});

describe('malformed rows', () => {
  const fail = (records: RawRecord[], opts = {}) => {
    try {
      toExamples(records, { file: 'd.jsonl', ...opts });
    } catch (e) {
      expect(e).toBeInstanceOf(DatasetError);
      return e as DatasetError;
    }
    throw new Error('expected a DatasetError');
  };

  it('names the column and the expected type', () => {
    let e = fail(recs({ text: 'ok' }, { text: 5 }));
    expect([e.row, e.column, e.expected]).toEqual([2, 'text', 'a string']);
    expect(e.message).toBe('d.jsonl, line 2, column "text": expected a string, got a number');
    e = fail(recs({ text: 'a', label: { x: 1 } }));
    expect([e.column, e.message]).toEqual([
      'label',
      'd.jsonl, line 1, column "label": expected a label, got an object',
    ]);
    e = fail(recs({ messages: 'hi' }));
    expect([e.column, e.expected]).toEqual(['messages', 'an array of messages']);
    e = fail(
      recs({
        messages: [
          { role: 'user', content: 'a' },
          { role: 'wizard', content: 'b' },
        ],
      }),
    );
    expect(e.column).toBe('messages[1].role');
    expect(e.message).toMatch(/unknown role "wizard"/);
    e = fail(recs({ messages: [{ role: 'user', content: 7 }] }));
    expect(e.column).toBe('messages[0].content');
    e = fail(recs({ messages: [] }));
    expect(e.expected).toBe('at least one message');
    e = fail(recs({ conversations: [{ from: 'human', value: 'q' }, 'gpt: a'] }));
    expect(e.column).toBe('conversations[1]');
  });

  it('mixed shapes: the majority shape wins and the other rows are errors naming both', () => {
    const records = recs(
      { prompt: 'a', completion: 'b' },
      { text: 'stray' },
      { prompt: 'c', completion: 'd' },
      { prompt: 'e' },
    );
    const r = toExamples(records, { file: 'mix.jsonl', badRows: 'skip' });
    expect(r.shape).toBe('prompt-completion');
    expect(r.shapeCounts).toEqual({ 'prompt-completion': 2, text: 1, none: 1 });
    expect(r.examples.map((x) => x.row)).toEqual([1, 3]);
    expect(r.errors.map((x) => x.row)).toEqual([2, 4]);
    expect(r.errors[0].message).toBe(
      "mix.jsonl, line 2: this row lacks prompt, completion of the dataset's prompt-completion shape (its fields: text)",
    );
    expect(r.errors[1].message).toMatch(/lacks completion/);
    const stop = fail(records);
    expect(stop.row).toBe(2);
  });

  it('says "element" for JSON arrays', () => {
    const e = fail(recs({ text: 1 }), { rowWord: 'element' });
    expect(e.message).toBe('d.jsonl, element 1, column "text": expected a string, got a number');
  });
});
