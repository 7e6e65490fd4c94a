// Evaluation of a model on a split, with dropout off and no backward. Loss: the mean per-token loss over
// every trained token of the split (summed in float64 from the kernel's per-token losses), and its
// perplexity. Classification (labels given): each example's score for a label is the sum of the
// log-probabilities of the label's tokens right after the example's prompt, as the model sees
// `prompt + " " + label` in the raw classification template; the prediction is the best-scoring label
// (ties: the first in `labels`), and the metrics follow (metrics.ts).
// Why one row per example: the prompt is the costly part, and every label shares it. The example's row
// is laid out as its prompt (but its last token), then one branch per label: the prompt's last token and
// the label's tokens (the true label's branch is the rest of the example, so its loss comes from the same
// row). Branches are attention segments that see the prompt and themselves, never each other, at the
// positions they would have alone (kernels/attention.ts), so each scores exactly as a row of its own
// would, for the price of a few tokens. Models with a sliding window shorter than such a row get one row
// per label instead (the window counts row offsets, not positions).
// Rows are sorted by length and padded to the longest of their batch: rows never see each other, so
// batching changes nothing but speed.

import type { Gpu } from '../gpu/gpu.ts';
import { IGNORE_LABEL } from '../data/batch.ts';
import type { TokenizedExample } from '../data/tokenize.ts';
import type { CausalLmModel } from '../model/causal-lm.ts';
import type { TokenBatch } from '../model/llama-gpu.ts';
import { branchSegment } from '../reference/attention.ts';
import { classificationMetrics } from './metrics.ts';
import type { EvalMetrics } from './run-types.ts';

export interface EvaluateOptions {
  /** Rows per forward. */
  batchRows: number;
  /** Written into padding. */
  padId: number;
  /** Classification: the label strings to score, and their token ids (labelTokensOf). */
  classes?: Classes;
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
  ids: number[];
  /** label[t] for t in the row: the next token, or IGNORE_LABEL. */
  labels: number[];
  positions: number[];
  segments: number[];
  /** Offsets whose losses count towards the split's loss (the example's own tokens). */
  lossFrom: number[];
  /** Per scored label: the offsets whose losses make the score of (example, label). */
  scores: { label: number; from: number[] }[];
  example: number;
}

const PROMPT_SEGMENT = 1;

/** The example as it is (its trained tokens give the loss), in one segment; with `label`, scored as that label. */
function exampleRow(e: TokenizedExample, k: number, label = -1): RowSpec {
  const n = e.ids.length;
  const labels = new Array<number>(n).fill(IGNORE_LABEL);
  const lossFrom: number[] = [];
  for (let t = 0; t + 1 < n; t++) {
    if (e.trained[t + 1] === 1) {
      labels[t] = e.ids[t + 1];
      lossFrom.push(t);
    }
  }
  const scores: RowSpec['scores'] = [];
  if (label >= 0) {
    const [start, end] = e.completion!;
    const from: number[] = [];
    for (let t = start - 1; t < end - 1; t++) {
      labels[t] = e.ids[t + 1]; // label tokens are trained anyway; this keeps the score right under loss 'all' too
      from.push(t);
    }
    scores.push({ label, from });
  }
  const positions = Array.from({ length: n }, (_, t) => t);
  return {
    ids: [...e.ids],
    labels,
    positions,
    segments: positions.map(() => PROMPT_SEGMENT),
    lossFrom,
    scores,
    example: k,
  };
}

/** Appends to `row` a continuation of e's prompt: its last token (at position `at`), then `tokens`. */
function addBranch(
  row: RowSpec,
  e: TokenizedExample,
  at: number,
  tokens: readonly number[],
  label: number,
  segment: number,
): void {
  const branch = [e.ids[at], ...tokens];
  const from: number[] = [];
  branch.forEach((id, i) => {
    const t = row.ids.length;
    row.ids.push(id);
    row.labels.push(i + 1 < branch.length ? branch[i + 1] : IGNORE_LABEL);
    row.positions.push(at + i);
    row.segments.push(segment);
    if (i + 1 < branch.length) from.push(t);
  });
  row.scores.push({ label, from });
}

/**
 * One row scoring every label: the example's own row (its true label's branch is its tail from the prompt's
 * last token on) with one more branch per other label.
 */
function branchedRow(e: TokenizedExample, k: number, truth: number, cls: Classes): RowSpec {
  const row = exampleRow(e, k, truth);
  const at = e.completion![0] - 1;
  for (let t = at; t < row.ids.length; t++) row.segments[t] = branchSegment(PROMPT_SEGMENT, truth + 1);
  cls.labels.forEach((l, j) => {
    if (j !== truth) addBranch(row, e, at, cls.tokens[l], j, branchSegment(PROMPT_SEGMENT, j + 1));
  });
  return row;
}

/** The prompt and one label's tokens, alone (the layout for models with a short sliding window). */
function candidateRow(e: TokenizedExample, k: number, label: number, tokens: readonly number[]): RowSpec {
  const start = e.completion![0];
  const row: RowSpec = { ids: [], labels: [], positions: [], segments: [], lossFrom: [], scores: [], example: k };
  for (let t = 0; t + 1 < start; t++) {
    row.ids.push(e.ids[t]);
    row.labels.push(IGNORE_LABEL);
    row.positions.push(t);
    row.segments.push(PROMPT_SEGMENT);
  }
  addBranch(row, e, start - 1, tokens, label, PROMPT_SEGMENT);
  return row;
}

function toBatch(rows: readonly RowSpec[], padId: number, maxPositions = Infinity): TokenBatch {
  for (const r of rows) {
    const last = Math.max(...r.positions);
    if (last + 1 > maxPositions) {
      throw new RangeError(
        `evaluation row of example ${r.example} reaches position ${last}, past the model's ${maxPositions} positions (a longer label than the example's own? lower the dataset's maxLength)`,
      );
    }
  }
  const longest = Math.max(...rows.map((r) => r.ids.length));
  const seq = Math.ceil(longest / 8) * 8; // padding sits at position 0, in segment 0
  const n = rows.length * seq;
  const ids = new Uint32Array(n).fill(padId);
  const labels = new Int32Array(n).fill(IGNORE_LABEL);
  const positions = new Uint32Array(n);
  const segments = new Uint32Array(n);
  rows.forEach((r, i) => {
    ids.set(r.ids, i * seq);
    labels.set(r.labels, i * seq);
    positions.set(r.positions, i * seq);
    segments.set(r.segments, i * seq);
  });
  return { batch: rows.length, seq, ids, labels, positions, segments };
}

interface Classes {
  labels: readonly string[];
  tokens: Readonly<Record<string, readonly number[]>>;
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
      rows.push(exampleRow(e, k));
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
    if (start < 1) throw new Error(`row ${e.row}: the label has no prompt before it`);
    const branched = branchedRow(e, k, truth, cls);
    const window = model.attentionWindow;
    if (window === null || branched.ids.length <= window) {
      rows.push(branched);
      return;
    }
    rows.push(exampleRow(e, k, truth));
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
          for (const sc of r.scores) for (const t of sc.from) scores[r.example][sc.label] -= per[g * b.seq + t];
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
