// Decoding with a KV cache for the Llama family: each call appends a few tokens to one sequence and
// returns the logits of the last one. Keys (after RoPE and Qwen3's k-norm) and values of every token
// seen so far stay on the GPU, one [maxLength, Hkv, D] pair per layer, so a new token costs one token's
// projections and one pass over the cache instead of the whole prefix again. Works with the adapters
// unmerged (the LoRA path runs, no dropout) or merged into the base weights.

import type { Tensor } from '../gpu/tensor.ts';
import { swigluForward } from '../kernels/activation.ts';
import { attentionCache } from '../kernels/attention-cache.ts';
import { add } from '../kernels/elementwise.ts';
import { embeddingForward } from '../kernels/embedding.ts';
import { gemv } from '../kernels/gemv.ts';
import { rmsnormForward } from '../kernels/norm.ts';
import { rope } from '../kernels/rope.ts';
import type { TokenDecoder } from './generate.ts';
import { decodeLinear } from './linear-decode.ts';
import type { LlamaGpu } from './llama-gpu.ts';

export class LlamaDecoder implements TokenDecoder {
  private readonly kCache: Tensor[] = [];
  private readonly vCache: Tensor[] = [];
  private used = 0;
  readonly vocabSize: number;

  /** `maxLength` tokens fit in the cache (default: the RoPE table's length, at most 2048). */
  constructor(
    readonly model: LlamaGpu,
    readonly maxLength = Math.min(model.ropeTable.shape[0], 2048),
  ) {
    const s = model.spec;
    if (maxLength > model.ropeTable.shape[0]) throw new RangeError(`maxLength ${maxLength} exceeds the RoPE table`);
    for (let l = 0; l < s.numLayers; l++) {
      this.kCache.push(model.gpu.empty([maxLength, s.numKvHeads, s.headDim], 'f32', `L${l} k cache`));
      this.vCache.push(model.gpu.empty([maxLength, s.numKvHeads, s.headDim], 'f32', `L${l} v cache`));
    }
    this.vocabSize = s.vocabSize;
  }

  get length(): number {
    return this.used;
  }

  reset(): void {
    this.used = 0;
  }

  async append(ids: readonly number[]): Promise<Float32Array> {
    const m = this.model;
    const gpu = m.gpu;
    const s = m.spec;
    const t = ids.length;
    const past = this.used;
    if (t === 0) throw new RangeError('append needs at least one token');
    if (past + t > this.maxLength) throw new RangeError(`the KV cache holds ${this.maxLength} tokens`);
    const d = s.hiddenSize;
    const hd = s.headDim;
    const hq = s.numHeads * hd;
    const hkv = s.numKvHeads * hd;
    const step = gpu.step('decode');
    const tmp: Tensor[] = [];
    const e = (shape: number[], label: string) => {
      const x = gpu.empty(shape, 'f32', label);
      tmp.push(x);
      return x;
    };
    const idT = step.upload(ids, [t], 'u32', 'decode ids');
    const posT = step.upload(
      Array.from({ length: t }, (_, i) => past + i),
      [t],
      'u32',
      'decode positions',
    );
    let x = e([t, d], 'x');
    await embeddingForward(step, { table: m.embed.value, ids: idT, out: x, tokens: t, vocab: s.vocabSize, d });
    const rstd = e([Math.max(t * s.numHeads, t)], 'rstd');
    for (let l = 0; l < s.numLayers; l++) {
      const L = m.layers[l];
      const h1 = e([t, d], 'h1');
      await rmsnormForward(step, { x, w: L.norm1.value, y: h1, rstd, rows: t, d, eps: s.rmsNormEps });
      let q = e([t, hq], 'q');
      let k = e([t, hkv], 'k');
      const v = e([t, hkv], 'v');
      await decodeLinear(step, L.q, h1, q, t);
      await decodeLinear(step, L.k, h1, k, t);
      await decodeLinear(step, L.v, h1, v, t);
      if (L.qNorm && L.kNorm) {
        const qn = e([t, hq], 'q normed');
        const kn = e([t, hkv], 'k normed');
        const eps = s.rmsNormEps;
        await rmsnormForward(step, { x: q, w: L.qNorm.value, y: qn, rstd, rows: t * s.numHeads, d: hd, eps });
        await rmsnormForward(step, { x: k, w: L.kNorm.value, y: kn, rstd, rows: t * s.numKvHeads, d: hd, eps });
        q = qn;
        k = kn;
      }
      const ropeArgs = { positions: posT, table: m.ropeTable, tokens: t, headDim: hd };
      await rope(step, { ...ropeArgs, x: q, heads: s.numHeads }, 'forward');
      await rope(step, { ...ropeArgs, x: k, heads: s.numKvHeads }, 'forward');
      step.copy(k.buffer, this.kCache[l].buffer, t * hkv * 4, 0, past * hkv * 4);
      step.copy(v.buffer, this.vCache[l].buffer, t * hkv * 4, 0, past * hkv * 4);
      const att = e([t, hq], 'attention');
      await attentionCache(step, {
        q,
        kCache: this.kCache[l],
        vCache: this.vCache[l],
        o: att,
        tokens: t,
        past,
        headsQ: s.numHeads,
        headsKV: s.numKvHeads,
        headDim: hd,
        window: s.slidingWindow,
      });
      const xMid = e([t, d], 'x mid');
      await decodeLinear(step, L.o, att, xMid, t);
      await add(step, xMid, x, xMid);
      const h2 = e([t, d], 'h2');
      await rmsnormForward(step, { x: xMid, w: L.norm2.value, y: h2, rstd, rows: t, d, eps: s.rmsNormEps });
      const g = e([t, s.intermediateSize], 'gate');
      const u = e([t, s.intermediateSize], 'up');
      await decodeLinear(step, L.gate, h2, g, t);
      await decodeLinear(step, L.up, h2, u, t);
      const act = e([t, s.intermediateSize], 'swiglu');
      await swigluForward(step, g, u, act);
      const out = e([t, d], 'x out');
      await decodeLinear(step, L.down, act, out, t);
      await add(step, out, xMid, out);
      x = out;
    }
    // Only the last token's logits are needed: normalize that row alone.
    const last = e([1, d], 'last');
    step.copy(x.buffer, last.buffer, d * 4, (t - 1) * d * 4, 0);
    const hf = e([1, d], 'final norm');
    await rmsnormForward(step, { x: last, w: m.finalNorm.value, y: hf, rstd, rows: 1, d, eps: s.rmsNormEps });
    const logits = e([1, s.vocabSize], 'logits');
    await gemv(step, { x: hf, w: m.lmHead.value, c: logits, t: 1, n: s.vocabSize, k: d });
    await step.submit();
    const result = await gpu.readF32(logits);
    gpu.release(...tmp, idT, posT);
    this.used = past + t;
    return result;
  }

  dispose(): void {
    this.model.gpu.release(...this.kCache, ...this.vCache);
    this.kCache.length = 0;
    this.vCache.length = 0;
  }
}

/**
 * The same contract without a cache: every call runs the whole prefix again through LlamaGpu.logits.
 * The oracle for the cached path and the baseline of the decoding benchmark.
 */
export class FullPrefixDecoder implements TokenDecoder {
  private ids: number[] = [];
  readonly vocabSize: number;

  constructor(
    readonly model: LlamaGpu,
    readonly maxLength = Math.min(model.ropeTable.shape[0], 2048),
  ) {
    this.vocabSize = model.spec.vocabSize;
  }

  reset(): void {
    this.ids = [];
  }

  async append(ids: readonly number[]): Promise<Float32Array> {
    this.ids.push(...ids);
    const n = this.ids.length;
    const all = await this.model.logits({
      batch: 1,
      seq: n,
      ids: this.ids,
      labels: new Array<number>(n).fill(-100),
      positions: Array.from({ length: n }, (_, i) => i),
      segments: new Array<number>(n).fill(0),
    });
    return all.slice((n - 1) * this.vocabSize);
  }
}
