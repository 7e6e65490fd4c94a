import { describe, expect, it } from 'vitest';
import { cleanExamples, duplicateKey, normalizeWhitespace } from './clean.ts';
import type { Example } from './shapes.ts';

const text = (row: number, t: string): Example => ({ kind: 'text', row, text: t });

describe('whitespace normalisation', () => {
  it('NFC, LF, no trailing blanks, at most one blank line, trimmed; indentation kept', () => {
    expect(normalizeWhitespace('  Cafe\u0301 \r\nline  \t\r\n\r\n\r\n\r\n  indented\u00a0x\u200b ')).toBe(
      'Café\nline\n\n  indented x',
    );
    expect(duplicateKey(' a \n\t b ')).toBe('a b');
    expect(duplicateKey('Cafe\u0301')).toBe(duplicateKey('Caf\u00e9'));
    expect(duplicateKey('Spam')).not.toBe(duplicateKey('spam'));
  });
});

describe('cleaning', () => {
  it('counts exact and normalised duplicates, empties and normalised rows, with examples', () => {
    const rows: Example[] = [
      text(1, 'hello world'),
      text(2, 'hello world'), // exact duplicate of 1
      text(3, 'hello   world\n'), // normalised duplicate (whitespace)
      text(4, 'Hello world'), // case differs: kept
      text(5, 'Caf\u00e9'), // NFC
      text(6, 'Cafe\u0301'), // NFD: normalised duplicate of 5
      text(7, '   \n\t'), // empty
      text(8, ''), // empty
      text(9, 'hello   world\n'), // exact copy of 3, which was a duplicate of 1
      text(10, 'tail  '),
    ];
    const { examples, report } = cleanExamples(rows);
    expect(examples.map((e) => e.row)).toEqual([1, 4, 5, 10]);
    expect(examples.map((e) => (e.kind === 'text' ? e.text : ''))).toEqual([
      'hello world',
      'Hello world',
      'Café',
      'tail',
    ]);
    expect(report.input).toBe(10);
    expect(report.kept).toBe(4);
    expect(report.exactDuplicates.count).toBe(2);
    expect(report.exactDuplicates.examples).toEqual([
      { row: 2, preview: 'hello world', duplicateOf: 1 },
      { row: 9, preview: 'hello world', duplicateOf: 1 },
    ]);
    expect(report.normalizedDuplicates.count).toBe(2);
    expect(report.normalizedDuplicates.examples.map((x) => [x.row, x.duplicateOf])).toEqual([
      [3, 1],
      [6, 5],
    ]);
    expect(report.empty.count).toBe(2);
    expect(report.empty.examples.map((x) => x.row)).toEqual([7, 8]);
    // rows 3, 6, 7, 9, 10 had whitespace or Unicode changed
    expect(report.whitespaceNormalized.count).toBe(5);
    expect(report.whitespaceNormalized.examples).toHaveLength(3);
    expect(report.overBudget.count).toBe(0);
  });

  it('what counts as empty depends on the shape', () => {
    const rows: Example[] = [
      { kind: 'prompt-completion', row: 1, prompt: 'p', completion: ' ' },
      { kind: 'prompt-completion', row: 2, prompt: '', completion: 'c' },
      { kind: 'alpaca', row: 3, instruction: 'i', input: '', output: '' },
      { kind: 'classification', row: 4, text: 't', label: '' },
      {
        kind: 'chat',
        row: 5,
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: '  ' },
        ],
      },
      {
        kind: 'chat',
        row: 6,
        messages: [
          { role: 'user', content: '' },
          { role: 'assistant', content: 'a' },
        ],
      },
    ];
    const { examples, report } = cleanExamples(rows);
    expect(examples.map((e) => e.row)).toEqual([2, 6]);
    expect(report.empty.count).toBe(4);
  });

  it('chat duplicates compare role and content; labels are part of a classification row', () => {
    const m = (row: number, a: string): Example => ({
      kind: 'chat',
      row,
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: a },
      ],
    });
    const { report } = cleanExamples([
      m(1, 'a'),
      m(2, 'a '),
      m(3, 'b'),
      { kind: 'classification', row: 4, text: 'x', label: 'spam' },
      { kind: 'classification', row: 5, text: 'x', label: 'ham' },
    ]);
    expect(report.normalizedDuplicates.count).toBe(1);
    expect(report.kept).toBe(4);
  });

  it('can keep duplicates and raw whitespace when asked, and is deterministic', () => {
    const rows = [text(1, 'a  b'), text(2, 'a  b')];
    const { examples } = cleanExamples(rows, { dedupe: false, normalizeWhitespace: false });
    expect(examples).toEqual(rows);
    expect(cleanExamples(rows)).toEqual(cleanExamples(rows));
  });
});
