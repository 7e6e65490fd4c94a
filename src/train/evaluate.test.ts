// Evaluation on Dawn against the CPU reference model (float64): the split's mean loss over trained tokens,
// and each label's score (the summed log-probability of its tokens after the prompt, one label having
// two tokens) for every example, hence the same predictions and metrics; in one branched row per example,
// and in one row per label.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenizedExample } from '../data/tokenize.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { CausalLmModel } from '../model/causal-lm.ts';
import { LlamaGpu } from '../model/llama-gpu.ts';
import { referenceModel } from '../reference/llama.ts';
import { testGpu } from '../test/gpu.ts';
import { randomWeights, tinySpec } from '../test/tiny-models.ts';
import { evaluateSplit, labelTokensOf } from './evaluate.ts';
import { classificationMetrics } from './metrics.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const spec = tinySpec('llama');
const weights = randomWeights(spec, 41);
const LABELS = ['yes', 'no'];
const TOKENS: Record<string, number[]> = { yes: [5], no: [7, 8] };

/** BOS-like 1, a prompt of 2..9 tokens, the label's tokens, EOS 2; the label and EOS trained. */
function example(k: number): TokenizedExample {
  const label = LABELS[k % 3 === 0 ? 1 : 0];
  const prompt = Array.from({ length: 2 + ((k * 5) % 8) }, (_, i) => 3 + ((k * 7 + i * 3) % 10));
  const ids = [1, ...prompt, ...TOKENS[label], 2];
  const start = 1 + prompt.length;
  const trained = ids.map((_, i) => (i >= start ? 1 : 0));
  return {
    row: k,
    ids: Uint32Array.from(ids),
    trained: Uint8Array.from(trained),
    label,
    completion: [start, start + TOKENS[label].length],
  };
}

/** The reference's per-token losses of one row whose positions `from` predict the next token. */
function refLosses(ids: number[], from: number[]): number[] {
  const labels = ids.map(() => -100);
  for (const t of from) labels[t] = ids[t + 1];
  const r = referenceModel(
    spec,
    weights,
    { batch: 1, seq: ids.length, ids, labels, positions: ids.map((_, i) => i), segments: ids.map(() => 1) },
    'forward',
  );
  return from.map((t) => r.rowLoss[t]);
}

/** The model as evaluateSplit sees it, counting the rows of each forward; `window` overrides its window. */
function counting(model: CausalLmModel, window: number | null): { model: CausalLmModel; rows: number[] } {
  const rows: number[] = [];
  const wrapped: CausalLmModel = {
    trainable: model.trainable,
    attentionWindow: window,
    zeroGrads: (step) => model.zeroGrads(step),
    microStep: (step, b, o) => {
      rows.push(b.batch);
      return model.microStep(step, b, o);
    },
    logits: (b) => model.logits(b),
    linears: () => model.linears(),
    setMerged: (m) => model.setMerged(m),
    mergedWeights: () => model.mergedWeights(),
    dispose: () => model.dispose(),
  };
  return { model: wrapped, rows };
}

describe('evaluateSplit on Dawn', () => {
  // One row per example, its labels as branches of the prompt; with a sliding window shorter than that
  // row, one row per (example, label). Both must score as the reference scores each label alone.
  it.each([
    ['one branched row per example', null, 9],
    ['one row per label under a short sliding window', 4, 18],
  ])('loss, label scores and metrics match the CPU reference: %s', async (_, window, rowCount) => {
    const examples = Array.from({ length: 9 }, (_, k) => example(k));
    expect(labelTokensOf(examples, LABELS)).toEqual(TOKENS);
    const gpuModel = LlamaGpu.create(gpu, spec, weights, { mode: 'full', seed: 1 });
    const { model, rows } = counting(gpuModel, window);
    const got = await evaluateSplit(gpu, model, examples, {
      batchRows: 4,
      padId: 0,
      classes: { labels: LABELS, tokens: TOKENS },
    });
    model.dispose();
    expect(rows.reduce((a, b) => a + b, 0)).toBe(rowCount);
    let lossSum = 0;
    let tokens = 0;
    const refScores: number[][] = [];
    for (const e of examples) {
      const ids = [...e.ids];
      const trainedFrom = ids.flatMap((_, t) => (t + 1 < ids.length && e.trained[t + 1] === 1 ? [t] : []));
      for (const l of refLosses(ids, trainedFrom)) lossSum += l;
      tokens += trainedFrom.length;
      const start = e.completion![0];
      refScores.push(
        LABELS.map((l) => {
          const cand = [...ids.slice(0, start), ...TOKENS[l]];
          const from = TOKENS[l].map((_, i) => start - 1 + i);
          return -refLosses(cand, from).reduce((a, b) => a + b, 0);
        }),
      );
    }
    expect(got.metrics.tokens).toBe(tokens);
    expect(got.metrics.loss).toBeCloseTo(lossSum / tokens, 4);
    expect(got.metrics.perplexity).toBeCloseTo(Math.exp(lossSum / tokens), 3);
    got.scores.forEach((s, k) => {
      expect(s[0]).toBeCloseTo(refScores[k][0], 4);
      expect(s[1]).toBeCloseTo(refScores[k][1], 4);
    });
    const refPred = refScores.map((s) => (s[1] > s[0] ? 'no' : 'yes'));
    expect(got.predicted).toEqual(refPred);
    const m = classificationMetrics(
      examples.map((e) => e.label!),
      refPred,
      LABELS,
    );
    expect(got.metrics.accuracy).toBe(m.accuracy);
    expect(got.metrics.macroF1).toBe(m.macroF1);
    expect(got.metrics.majorityBaseline).toBeCloseTo(6 / 9, 15);
  });

  it('refuses a row whose completion is not the whole label', async () => {
    const e = example(1);
    const cut = {
      ...e,
      ids: e.ids.slice(0, -2),
      trained: e.trained.slice(0, -2),
      completion: [e.completion![0], e.ids.length - 2] as [number, number],
    };
    const model = LlamaGpu.create(gpu, spec, weights, { mode: 'full', seed: 1 });
    await expect(
      evaluateSplit(gpu, model, [{ ...cut, label: 'no', completion: [cut.completion[0], cut.completion[0]] }], {
        batchRows: 2,
        padId: 0,
        classes: { labels: LABELS, tokens: TOKENS },
      }),
    ).rejects.toThrow(/not the whole label "no"/);
    model.dispose();
  });
});
