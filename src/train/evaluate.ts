// Evaluation of a model on a split, with dropout off and no backward. Loss: the mean per-token loss over
// every trained token of the split (summed in float64 from the kernel's per-token losses), and its
// perplexity. Classification (labels given): each example's score for a label is the sum of the
// log-probabilities of the label's tokens right after the example's prompt, as the model sees
// `prompt + " " + label` in the raw classification template; the prediction is the best-scoring label
// (ties: the first in `labels`), and the metrics follow (metrics.ts). The example's own row gives both
// its loss and its true label's score; every other label gets one more row (prompt + that label's tokens).
// Rows are sorted by length and padded to the longest of their batch: rows never see each other, so
// batching changes nothing but speed.

import type { Gpu } from '../gpu/gpu.ts';
import { IGNORE_LABEL } from '../data/batch.ts';
import type { TokenizedExample } from '../data/tokenize.ts';
import type { CausalLmModel } from '../model/causal-lm.ts';
import type { TokenBatch } from '../model/llama-gpu.ts';
import { classificationMetrics } from './metrics.ts';
import type { EvalMetrics } from './run-types.ts';

export interface EvaluateOptions {
  /** Rows per forward. */
  batchRows: number;
  /** Written into padding. */
  padId: number;
  /** Classification: the label strings to score, and their token ids (labelTokensOf). */
  classes?: { labels: readonly string[]; tokens: Readonly<Record<string, readonly number[]>> };
  /** The model's position limit: a longer row is an error (RoPE would clamp its positions in silence). */
  maxPositions?: number;
}

export type SplitEval = Omit<EvalMetrics, 'split' | 'step'>;

export interface SplitEvaluation {
  metrics: SplitEval;
  /** Classification: per example, the score (summed log-probability) of each label, in `labels` order. */
  scores: Float64Array[];
  /** Classification: the predicted label of each example. */
  predicted: string[];
}

/**
 * The token ids of each label as the data has them: the completion tokens of the examples with that
 * label (they must agree). Throws when a label has no example or its examples disagree.
 */
export function labelTokensOf(
  examples: readonly TokenizedExample[],
  labels: readonly string[],
): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const e of examples) {
    if (e.label === undefined || !e.completion) {
      throw new Error(`row ${e.row} is not a classification row in the raw template (no label or completion range)`);
    }
    const ids = [...e.ids.slice(e.completion[0], e.completion[1])];
    const seen = out[e.label];
    if (!seen) out[e.label] = ids;
    else if (seen.join(',') !== ids.join(',')) {
      throw new Error(
        `label "${e.label}" is tokenized differently in row ${e.row} (${ids.join(' ')}) than before (${seen.join(' ')})`,
      );
    }
  }
  for (const l of labels) if (!out[l]) throw new Error(`label "${l}" does not occur in the data`);
  return Object.fromEntries(labels.map((l) => [l, out[l]]));
}

interface RowSpec {
  ids: ArrayLike<number>;
  /** label[t] for t in the row: the next token, or IGNORE_LABEL. */
  labels: Int32Array;
  /** Positions whose losses count towards the split's loss (the example's own row). */
  lossFrom: number[];
  /** Positions whose losses make the score of (example, label). */
  scoreFrom: number[];
  example: number;
  label: number;
}

function exampleRow(e: TokenizedExample, k: number, trueLabel: number, start: number, end: number): RowSpec {
  const n = e.ids.length;
  const labels = new Int32Array(n).fill(IGNORE_LABEL);
  const lossFrom: number[] = [];
  for (let t = 0; t + 1 < n; t++) {
    if (e.trained[t + 1] === 1) {
      labels[t] = e.ids[t + 1];
      lossFrom.push(t);
    }
  }
  const scoreFrom: number[] = [];
  if (trueLabel >= 0) {
    for (let t = start - 1; t < end - 1; t++) {
      labels[t] = e.ids[t + 1]; // label tokens are trained anyway; this keeps the score right under loss 'all' too
      scoreFrom.push(t);
    }
  }
  return { ids: e.ids, labels, lossFrom, scoreFrom, example: k, label: trueLabel };
}

function candidateRow(e: TokenizedExample, k: number, label: number, tokens: readonly number[]): RowSpec {
  const start = e.completion![0];
  const ids = [...e.ids.slice(0, start), ...tokens];
  const labels = new Int32Array(ids.length).fill(IGNORE_LABEL);
  const scoreFrom: number[] = [];
  for (let t = start - 1; t + 1 < ids.length; t++) {
    labels[t] = ids[t + 1];
    scoreFrom.push(t);
  }
  return { ids, labels, lossFrom: [], scoreFrom, example: k, label };
}

function toBatch(rows: readonly RowSpec[], padId: number, maxPositions = Infinity): TokenBatch {
  const longest = Math.max(...rows.map((r) => r.ids.length));
  if (longest > maxPositions) {
    const r = rows.find((x) => x.ids.length === longest)!;
    throw new RangeError(
      `evaluation row of example ${r.example} holds ${longest} tokens, more than the model's ${maxPositions} positions (a longer label than the example's own? lower the dataset's maxLength)`,
    );
  }
  const seq = Math.ceil(longest / 8) * 8; // padding sits at position 0
  const n = rows.length * seq;
  const ids = new Uint32Array(n).fill(padId);
  const labels = new Int32Array(n).fill(IGNORE_LABEL);
  const positions = new Uint32Array(n);
  const segments = new Uint32Array(n);
  rows.forEach((r, i) => {
    for (let t = 0; t < r.ids.length; t++) {
      ids[i * seq + t] = r.ids[t];
      labels[i * seq + t] = r.labels[t];
      positions[i * seq + t] = t;
      segments[i * seq + t] = 1;
    }
  });
  return { batch: rows.length, seq, ids, labels, positions, segments };
}

/** Loss, perplexity and (with classes) classification metrics of `model` on `examples`. */
export async function evaluateSplit(
  gpu: Gpu,
  model: CausalLmModel,
  examples: readonly TokenizedExample[],
  opts: EvaluateOptions,
): Promise<SplitEvaluation> {
  if (examples.length === 0) throw new RangeError('cannot evaluate an empty split');
  const cls = opts.classes;
  const rows: RowSpec[] = [];
  examples.forEach((e, k) => {
    if (!cls) {
      rows.push(exampleRow(e, k, -1, 0, 0));
      return;
    }
    const truth = e.label === undefined ? -1 : cls.labels.indexOf(e.label);
    if (truth < 0 || !e.completion) {
      throw new Error(`row ${e.row}: label ${JSON.stringify(e.label)} is not one of ${cls.labels.join(', ')}`);
    }
    const [start, end] = e.completion;
    const own = [...e.ids.slice(start, end)];
    if (own.join(',') !== cls.tokens[e.label!].join(',')) {
      throw new Error(`row ${e.row}: its completion is not the whole label "${e.label}" (was it truncated?)`);
    }
    rows.push(exampleRow(e, k, truth, start, end));
    cls.labels.forEach((l, j) => {
      if (j !== truth) rows.push(candidateRow(e, k, j, cls.tokens[l]));
    });
  });
  rows.sort((a, b) => a.ids.length - b.ids.length);

  let lossSum = 0;
  let tokens = 0;
  const scores = cls ? examples.map(() => new Float64Array(cls.labels.length)) : [];
  const loss = gpu.empty([1], 'f32', 'eval loss');
  try {
    for (let i = 0; i < rows.length; i += opts.batchRows) {
      const group = rows.slice(i, i + opts.batchRows);
      const b = toBatch(group, opts.padId, opts.maxPositions);
      const rowLoss = gpu.empty([b.batch * b.seq], 'f32', 'eval row loss');
      try {
        const step = gpu.step('evaluate');
        await model.microStep(step, b, {
          invCount: 1,
          loss,
          accumulateLoss: false,
          backward: false,
          train: false,
          microStep: 0,
          rowLoss,
        });
        await step.submit();
        const per = await gpu.readF32(rowLoss);
        group.forEach((r, g) => {
          for (const t of r.lossFrom) lossSum += per[g * b.seq + t];
          tokens += r.lossFrom.length;
          if (cls) for (const t of r.scoreFrom) scores[r.example][r.label] -= per[g * b.seq + t];
        });
      } finally {
        gpu.release(rowLoss);
      }
    }
  } finally {
    gpu.release(loss);
  }
  const meanLoss = tokens > 0 ? lossSum / tokens : NaN;
  const metrics: SplitEval = { examples: examples.length, tokens, loss: meanLoss, perplexity: Math.exp(meanLoss) };
  const predicted = cls
    ? scores.map((s) => {
        let best = 0;
        for (let j = 1; j < s.length; j++) if (s[j] > s[best]) best = j;
        return cls.labels[best];
      })
    : [];
  if (cls)
    Object.assign(
      metrics,
      classificationMetrics(
        examples.map((e) => e.label!),
        predicted,
        cls.labels,
      ),
    );
  return { metrics, scores, predicted };
}
