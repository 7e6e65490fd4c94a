// Logits processors against @huggingface/transformers' JavaScript ones on the same logits (repetition
// penalty, temperature, top-k as its sampler keeps it, softmax), top-p against transformers' Python
// definition worked by hand (transformers.js 4.3.2 declares TopPLogitsWarper without implementing it),
// generation_config.json parsing, and seeded sampling.

import {
  RepetitionPenaltyLogitsProcessor,
  softmax as tjSoftmax,
  TemperatureLogitsWarper,
  Tensor,
  topk,
  TopPLogitsWarper,
} from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { randomArray } from '../reference/compare.ts';
import {
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  argmax,
  generate,
  nextToken,
  parseGenerationConfig,
  softmax,
  DEFAULT_GENERATION,
  type TokenDecoder,
} from './generate.ts';

const V = 1000;
const logits = () => Float32Array.from(randomArray(V, 11), (x) => 8 * x);

describe('logits processors match transformers.js', () => {
  it('repetition penalty (both signs, repeated ids counted once)', () => {
    for (const penalty of [1.3, 0.7]) {
      const context = [5, 17, 17, 999, 0, 5, 321];
      const mine = logits();
      applyRepetitionPenalty(mine, context, penalty);
      const t = new Tensor('float32', logits(), [1, V]);
      new RepetitionPenaltyLogitsProcessor(penalty)([context.map(BigInt)], t);
      expect(Array.from(mine)).toEqual(Array.from(t.data as Float32Array));
      expect(mine).not.toEqual(logits());
    }
  });

  it('temperature', () => {
    const mine = logits();
    applyTemperature(mine, 0.65);
    const t = new Tensor('float32', logits(), [1, V]);
    new TemperatureLogitsWarper(0.65)([[0n]], t);
    expect(Array.from(mine)).toEqual(Array.from(t.data as Float32Array));
  });

  it('top-k keeps the tokens transformers.js samples from', async () => {
    for (const k of [1, 7, 50]) {
      const mine = logits();
      applyTopK(mine, k);
      const kept = Array.from(mine.keys()).filter((i) => mine[i] !== -Infinity);
      const [, idx] = await topk(new Tensor('float32', logits(), [1, V]), k);
      expect(kept).toEqual(Array.from(idx.data as BigInt64Array, Number).sort((a, b) => a - b));
    }
    const ties = Float32Array.from([1, 3, 3, 2]);
    applyTopK(ties, 2);
    expect(Array.from(ties)).toEqual([-Infinity, 3, 3, -Infinity]); // ties with the k-th survive, as in HF
  });

  it('softmax', () => {
    const x = logits();
    const ref = tjSoftmax(Array.from(x)) as number[];
    const mine = softmax(x);
    for (let i = 0; i < V; i += 37) expect(mine[i]).toBeCloseTo(ref[i], 6);
  });

  it('top-p: the smallest nucleus with probability ≥ p, at least one token', () => {
    // probs of [ln 0.5, ln 0.3, ln 0.15, ln 0.05]: ascending cumulative 0.05, 0.20, 0.50, 1.0.
    const base = Float32Array.from([0.5, 0.3, 0.15, 0.05], Math.log);
    const at = (p: number) => {
      const x = Float32Array.from(base);
      applyTopP(x, p);
      return Array.from(x.keys()).filter((i) => x[i] !== -Infinity);
    };
    expect(at(0.8)).toEqual([0, 1]); // drop cum ≤ 0.2 → 0.05 and 0.15 go
    expect(at(0.9)).toEqual([0, 1, 2]);
    expect(at(0.5)).toEqual([0]); // cum 0.5 ≤ 0.5 drops the 0.3 token too
    expect(at(0.01)).toEqual([0]);
    expect(at(1)).toEqual([0, 1, 2, 3]);
    // transformers.js has the class but no implementation: nothing to compare against there.
    expect(() => new TopPLogitsWarper(0.9)([[0n]], new Tensor('float32', base, [1, 4]))).toThrow();
  });

  it('greedy takes the first maximum', () => {
    expect(argmax([1, 4, 4, 2])).toBe(1);
  });
});

describe('generation options and sampling', () => {
  it('parses generation_config.json with HF defaults and EOS lists', () => {
    const o = parseGenerationConfig({
      bos_token_id: 1,
      eos_token_id: [2, 32000],
      do_sample: true,
      temperature: 0.6,
      top_p: 0.9,
    });
    expect(o).toMatchObject({ doSample: true, temperature: 0.6, topP: 0.9, topK: 50, eosTokenIds: [2, 32000] });
    expect(parseGenerationConfig({}, [7]).eosTokenIds).toEqual([7]);
    expect(parseGenerationConfig({ eos_token_id: 3 }).eosTokenIds).toEqual([3]);
    expect(() => parseGenerationConfig({ temperature: 0, do_sample: true })).toThrow(/temperature/);
    expect(() => parseGenerationConfig({ eos_token_id: 'x' })).toThrow(/eos_token_id/);
  });

  it('seeded sampling follows the distribution and repeats with the seed', () => {
    const x = Float32Array.from([0.1, 0.6, 0.3], Math.log);
    const o = { ...DEFAULT_GENERATION, doSample: true, topK: 0, seed: 5 };
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[nextToken(x, [], o, i)]++;
    expect(counts[0] / 3000).toBeCloseTo(0.1, 1);
    expect(counts[1] / 3000).toBeCloseTo(0.6, 1);
    const again = Array.from({ length: 50 }, (_, i) => nextToken(x, [], o, i));
    expect(again).toEqual(Array.from({ length: 50 }, (_, i) => nextToken(x, [], o, i)));
    // top-k 1 under sampling is greedy.
    expect(nextToken(x, [], { ...o, topK: 1 }, 0)).toBe(1);
  });

  it('stops at maxNewTokens and at the cache length; an empty prompt is refused', async () => {
    let appended = 0;
    const dec: TokenDecoder = {
      vocabSize: 4,
      maxLength: 6,
      reset: () => void (appended = 0),
      append: (ids) => {
        appended += ids.length;
        return Promise.resolve(Float32Array.from([0, 0, 1, 0]));
      },
    };
    expect((await generate(dec, [1, 2], { maxNewTokens: 3 })).tokens).toEqual([2, 2, 2]);
    expect(appended).toBe(4);
    expect((await generate(dec, [1, 2, 3], { maxNewTokens: 30 })).tokens.length).toBe(3);
    await expect(generate(dec, [])).rejects.toThrow(/prompt/);
    const aborted = await generate(dec, [1], { maxNewTokens: 5 }, (_, i) => i < 1);
    expect(aborted).toEqual({ tokens: [2, 2], finishReason: 'aborted' });
  });
});
