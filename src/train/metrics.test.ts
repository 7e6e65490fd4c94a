// Classification metrics against a confusion matrix worked out by hand.

import { describe, expect, it } from 'vitest';
import { classificationMetrics } from './metrics.ts';

describe('classificationMetrics', () => {
  it('matches a hand-computed three-class confusion matrix', () => {
    // rows = truth, columns = predicted (a, b, c):
    //   a: 5 1 0   (support 6)
    //   b: 2 3 1   (support 6)
    //   c: 0 0 3   (support 3)
    const pairs: [string, string, number][] = [
      ['a', 'a', 5],
      ['a', 'b', 1],
      ['b', 'a', 2],
      ['b', 'b', 3],
      ['b', 'c', 1],
      ['c', 'c', 3],
    ];
    const truth: string[] = [];
    const pred: string[] = [];
    for (const [t, p, n] of pairs) {
      for (let i = 0; i < n; i++) {
        truth.push(t);
        pred.push(p);
      }
    }
    const m = classificationMetrics(truth, pred, ['a', 'b', 'c']);
    expect(m.accuracy).toBeCloseTo(11 / 15, 15);
    // a: P = 5/7, R = 5/6, F1 = 2·(5/7)(5/6)/((5/7)+(5/6)) = 10/13
    expect(m.perClass.a.precision).toBeCloseTo(5 / 7, 15);
    expect(m.perClass.a.recall).toBeCloseTo(5 / 6, 15);
    expect(m.perClass.a.f1).toBeCloseTo(10 / 13, 15);
    // b: P = 3/4, R = 1/2, F1 = 3/5
    expect(m.perClass.b.f1).toBeCloseTo(3 / 5, 15);
    // c: P = 3/4, R = 1, F1 = 6/7
    expect(m.perClass.c).toEqual({ precision: 0.75, recall: 1, f1: expect.closeTo(6 / 7, 15) as number, support: 3 });
    expect(m.macroF1).toBeCloseTo((10 / 13 + 3 / 5 + 6 / 7) / 3, 15);
    expect(m.majorityBaseline).toBeCloseTo(6 / 15, 15);
  });

  it('always guessing the majority: accuracy = baseline, the other class scores F1 0', () => {
    const truth = ['ham', 'ham', 'ham', 'spam'];
    const m = classificationMetrics(truth, ['ham', 'ham', 'ham', 'ham'], ['ham', 'spam']);
    expect(m.accuracy).toBe(0.75);
    expect(m.majorityBaseline).toBe(0.75);
    expect(m.perClass.spam).toEqual({ precision: 0, recall: 0, f1: 0, support: 1 });
    expect(m.perClass.ham.f1).toBeCloseTo(6 / 7, 15);
    expect(m.macroF1).toBeCloseTo(3 / 7, 15);
  });

  it('rejects unknown labels and mismatched lengths', () => {
    expect(() => classificationMetrics(['a'], ['x'], ['a'])).toThrow(/unknown label "x"/);
    expect(() => classificationMetrics(['a'], [], ['a'])).toThrow(RangeError);
  });
});
