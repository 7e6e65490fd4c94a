// Decoding with a KV cache for GPT-2 (the Llama family's is llama-decode.ts): each call appends tokens to
// one sequence and returns the last token's logits; keys and values of every token so far stay on the
// GPU ([maxLength, H, D] per layer). LoRA runs unmerged (no dropout) or merged. Also the full-prefix
// decoder, the oracle and the benchmark's baseline.

import type { Tensor } from '../gpu/tensor.ts';
import { attentionCache } from '../kernels/attention-cache.ts';
import { add } from '../kernels/elementwise.ts';
import { embeddingForward } from '../kernels/embedding.ts';
import { geluForward } from '../kernels/gelu.ts';
import { layernormForward } from '../kernels/layernorm.ts';
import { gemv } from '../kernels/gemv.ts';
import type { TokenDecoder } from './generate.ts';
import type { Gpt2Gpu } from './gpt2-gpu.ts';
import { decodeLinear } from './linear-decode.ts';

export class Gpt2Decoder implements TokenDecoder {
  private readonly kCache: Tensor[] = [];
  private readonly vCache: Tensor[] = [];
  private used = 0;
  readonly vocabSize: number;

  constructor(
    readonly model: Gpt2Gpu,
    readonly maxLength = model.spec.maxPositionEmbeddings,
  ) {
    const s = model.spec;
    if (maxLength > s.maxPositionEmbeddings) throw new RangeError(`GPT-2 has ${s.maxPositionEmbeddings} positions`);
    for (let l = 0; l < s.numLayers; l++) {
      this.kCache.push(model.gpu.empty([maxLength, s.hiddenSize], 'f32', `L${l} k cache`));
      this.vCache.push(model.gpu.empty([maxLength, s.hiddenSize], 'f32', `L${l} v cache`));
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
    const eps = s.layerNormEps;
    const step = gpu.step('gpt2 decode');
    const tmp: Tensor[] = [];
    const e = (shape: number[], label: string) => {
      const x = gpu.empty(shape, 'f32', label);
      tmp.push(x);
      return x;
    };
    const idT = step.upload(ids, [t], 'u32', 'ids');
    const posT = step.upload(
      ids.map((_, i) => past + i),
      [t],
      'u32',
      'positions',
    );
    let x = e([t, d], 'x');
    const pos = e([t, d], 'wpe rows');
    await embeddingForward(step, { table: m.wte.value, ids: idT, out: x, tokens: t, vocab: s.vocabSize, d });
    await embeddingForward(step, {
      table: m.wpe.value,
      ids: posT,
      out: pos,
      tokens: t,
      vocab: s.maxPositionEmbeddings,
      d,
    });
    await add(step, x, pos, x);
    const mean = e([t], 'mean');
    const rstd = e([t], 'rstd');
    for (let l = 0; l < s.numLayers; l++) {
      const B = m.blocks[l];
      const h1 = e([t, d], 'h1');
      await layernormForward(step, { x, w: B.ln1w.value, b: B.ln1b.value, y: h1, mean, rstd, rows: t, d, eps });
      const q = e([t, d], 'q');
      const k = e([t, d], 'k');
      const v = e([t, d], 'v');
      await decodeLinear(step, B.q, h1, q, t);
      await decodeLinear(step, B.k, h1, k, t);
      await decodeLinear(step, B.v, h1, v, t);
      step.copy(k.buffer, this.kCache[l].buffer, t * d * 4, 0, past * d * 4);
      step.copy(v.buffer, this.vCache[l].buffer, t * d * 4, 0, past * d * 4);
      const att = e([t, d], 'attention');
      await attentionCache(step, {
        q,
        kCache: this.kCache[l],
        vCache: this.vCache[l],
        o: att,
        tokens: t,
        past,
        headsQ: s.numHeads,
        headsKV: s.numHeads,
        headDim: s.headDim,
      });
      const xMid = e([t, d], 'x mid');
      await decodeLinear(step, B.o, att, xMid, t);
      await add(step, xMid, x, xMid);
      const h2 = e([t, d], 'h2');
      await layernormForward(step, { x: xMid, w: B.ln2w.value, b: B.ln2b.value, y: h2, mean, rstd, rows: t, d, eps });
      const pre = e([t, s.intermediateSize], 'c_fc');
      await decodeLinear(step, B.fc, h2, pre, t);
      const act = e([t, s.intermediateSize], 'gelu');
      await geluForward(step, pre, act);
      const out = e([t, d], 'x out');
      await decodeLinear(step, B.proj, act, out, t);
      await add(step, out, xMid, out);
      x = out;
    }
    const last = e([1, d], 'last');
    step.copy(x.buffer, last.buffer, d * 4, (t - 1) * d * 4, 0);
    const hf = e([1, d], 'ln_f');
    await layernormForward(step, { x: last, w: m.lnfW.value, b: m.lnfB.value, y: hf, mean, rstd, rows: 1, d, eps });
    const logits = e([1, s.vocabSize], 'logits');
    await gemv(step, { x: hf, w: m.wte.value, c: logits, t: 1, n: s.vocabSize, k: d });
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

/** Recomputes the whole prefix per call through Gpt2Gpu.logits. */
export class Gpt2FullPrefixDecoder implements TokenDecoder {
  private ids: number[] = [];
  readonly vocabSize: number;
  constructor(
    readonly model: Gpt2Gpu,
    readonly maxLength = model.spec.maxPositionEmbeddings,
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
