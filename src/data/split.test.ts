import { describe, expect, it } from 'vitest';
import type { Example } from './shapes.ts';
import { labelCounts, splitExamples, splitItems } from './split.ts';
import { permutation } from './shuffle.ts';

const items = Array.from({ length: 1000 }, (_, i) => i);

describe('seeded permutations', () => {
  it('are permutations, differ by seed and stream, and have fixed known answers', () => {
    const p = permutation(10, 42, 1);
    expect([...p].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect([...p]).not.toEqual([...permutation(10, 43, 1)]);
    expect([...p]).not.toEqual([...permutation(10, 42, 2)]);
    // Pinned so any change of the shuffle (or a machine that computed it differently) is caught.
    expect([...permutation(10, 42, 1)]).toEqual([9, 4, 8, 2, 3, 6, 7, 0, 5, 1]);
    expect([...permutation(8, 2 ** 40 + 7, 3, 5)]).toEqual([5, 3, 6, 4, 0, 2, 1, 7]);
  });
});

describe('splits', () => {
  it('are 80/10/10 by default, disjoint, complete and in file order', () => {
    const s = splitItems(items, { seed: 1 });
    expect([s.train.length, s.validation.length, s.test.length]).toEqual([800, 100, 100]);
    expect([...s.train, ...s.validation, ...s.test].sort((a, b) => a - b)).toEqual(items);
    for (const part of [s.train, s.validation, s.test]) expect(part).toEqual([...part].sort((a, b) => a - b));
  });

  it('the same seed gives the same split; another seed another', () => {
    const a = splitItems(items, { seed: 7 });
    expect(splitItems(items, { seed: 7 })).toEqual(a);
    expect(splitItems(items, { seed: 8 }).test).not.toEqual(a.test);
    expect(a.test.slice(0, 8)).toEqual([3, 6, 12, 21, 29, 31, 51, 58]);
  });

  it('takes other fractions and rejects bad ones', () => {
    const s = splitItems(items.slice(0, 10), { seed: 1, fractions: [0.5, 0.5, 0] });
    expect([s.train.length, s.validation.length, s.test.length]).toEqual([5, 5, 0]);
    expect(() => splitItems(items, { seed: 1, fractions: [0.8, 0.1, 0.2] })).toThrow(RangeError);
    expect(() => splitItems(items, { seed: 1, fractions: [1.1, -0.1, 0] })).toThrow(RangeError);
    expect(() => splitItems(items, { seed: -1 })).toThrow(RangeError);
  });

  it('classification rows are stratified: every split keeps the class balance', () => {
    // 69% ham, 31% spam, in a pattern a plain shuffle would not split evenly by chance alone
    const rows: Example[] = Array.from({ length: 1000 }, (_, i) => ({
      kind: 'classification',
      row: i + 1,
      text: `t${i}`,
      label: i % 100 < 69 ? 'ham' : 'spam',
    }));
    const s = splitExamples(rows, { seed: 3 });
    const c = labelCounts(s);
    expect(c).toEqual({
      train: { ham: 552, spam: 248 },
      validation: { ham: 69, spam: 31 },
      test: { ham: 69, spam: 31 },
    });
    const flat = splitExamples(rows, { seed: 3, stratify: false });
    expect(flat.test.length).toBe(100);
  });
});
