// Classification metrics from true and predicted labels: accuracy, per-class precision/recall/F1 with
// their support, macro-F1 (the unweighted mean of the classes' F1, scikit-learn's average='macro'), and
// the majority baseline (the accuracy of always answering the most frequent true label). A class that is
// never predicted has precision 0 (scikit-learn's zero_division=0), and so F1 0.

import type { ClassMetrics } from './run-types.ts';

export interface ClassificationMetrics {
  accuracy: number;
  macroF1: number;
  perClass: Record<string, ClassMetrics>;
  majorityBaseline: number;
}

export function classificationMetrics(
  truth: readonly string[],
  predicted: readonly string[],
  labels: readonly string[],
): ClassificationMetrics {
  if (truth.length !== predicted.length)
    throw new RangeError(`${truth.length} true labels but ${predicted.length} predictions`);
  if (truth.length === 0) throw new RangeError('classification metrics need at least one example');
  const known = new Set(labels);
  for (const l of [...truth, ...predicted]) if (!known.has(l)) throw new RangeError(`unknown label "${l}"`);
  let correct = 0;
  const tp = new Map<string, number>();
  const predictedCount = new Map<string, number>();
  const support = new Map<string, number>();
  const inc = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  truth.forEach((t, i) => {
    const p = predicted[i];
    inc(support, t);
    inc(predictedCount, p);
    if (t === p) {
      correct++;
      inc(tp, t);
    }
  });
  const perClass: Record<string, ClassMetrics> = {};
  let f1Sum = 0;
  for (const l of labels) {
    const hit = tp.get(l) ?? 0;
    const pc = predictedCount.get(l) ?? 0;
    const sc = support.get(l) ?? 0;
    const precision = pc > 0 ? hit / pc : 0;
    const recall = sc > 0 ? hit / sc : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[l] = { precision, recall, f1, support: sc };
    f1Sum += f1;
  }
  return {
    accuracy: correct / truth.length,
    macroF1: f1Sum / labels.length,
    perClass,
    majorityBaseline: Math.max(...support.values()) / truth.length,
  };
}
