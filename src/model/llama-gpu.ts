// The Llama family (Llama, Qwen2, Qwen3, Mistral) on the GPU: forward, backward and the parameters that
// train, in LoRA mode (base frozen, no gradient buffers for it) or full mode (every tensor trains).
// One micro-batch is recorded into one Step (one command encoder, one submit); nothing is read back
// inside it. Layout: activations are [N, features] with N = batch·seq tokens; heads are contiguous
// inside the feature dimension ([N, H, head_dim]), as HF's projections produce them.
// With gradient checkpointing only each layer's input is kept and the layer is recomputed in the
// backward, trading about one more forward for activation memory.
// Buffers go back to the pool as soon as no later dispatch of the step reads them: passes of one
// encoder run in order, so a buffer reused further down the same step is never read early.

import type { Gpu } from '../gpu/gpu.ts';
import type { Step } from '../gpu/step.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { swigluBackwardInPlace, swigluForward } from '../kernels/activation.ts';
import { attentionBackward, attentionForward } from '../kernels/attention.ts';
import { add } from '../kernels/elementwise.ts';
import { embeddingBackward, embeddingForward, groupTokens } from '../kernels/embedding.ts';
import { lmHeadCrossEntropy } from '../kernels/loss.ts';
import { labelledRows, selectRows } from '../kernels/rows.ts';
import { matmul } from '../kernels/matmul.ts';
import { rmsnormBackward, rmsnormForward } from '../kernels/norm.ts';
import { rope, uploadRopeTable } from '../kernels/rope.ts';
import { releaseFrozen } from '../kernels/nf4-matmul.ts';
import { checkBaseType, uploadFrozenBase, weightToF32, type BaseType, type WeightSource } from './base-weights.ts';
import { inverseFrequencies, type ModelSpec } from './config.ts';
import { denseWeight, foldLora, Linear, releaseCache, type LinearCache, type Param } from './linear.ts';
import {
  initLoraA,
  layerLinears,
  loraScaling,
  resolveLoraTargets,
  resolveModulesToSave,
  type LoraConfig,
} from './lora.ts';
import type { CausalLmModel, MicroStepOptions } from './causal-lm.ts';

export type TrainMode = 'lora' | 'full';

export interface ModelOptions {
  mode: TrainMode;
  lora?: LoraConfig;
  /** Seeds LoRA's A initialization and every dropout mask. */
  seed: number;
  checkpointing?: boolean;
  /** Vocabulary columns per chunk of the fused LM head (default 8192). */
  vocabChunk?: number;
  /** Longest sequence the RoPE table covers (default: the model's max_position_embeddings, at most 8192). */
  maxPositions?: number;
  /**
   * Storage of the decoder's linear (base) weights: 'f32' (default), 'f16' (needs shader-f16) or 'nf4'
   * (QLoRA: fused dequantize-matmul kernels). 'f16' and 'nf4' need mode 'lora' (the base is frozen).
   */
  base?: BaseType;
}

/** A batch of token rows as the data pipeline produces it. All arrays are [batch·seq]. */
export interface TokenBatch {
  batch: number;
  seq: number;
  ids: ArrayLike<number>;
  labels: ArrayLike<number>;
  positions: ArrayLike<number>;
  segments: ArrayLike<number>;
}

interface Layer {
  norm1: Param;
  norm2: Param;
  qNorm: Param | null;
  kNorm: Param | null;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  gate: Linear;
  up: Linear;
  down: Linear;
}

interface BatchTensors {
  n: number;
  ids: Tensor;
  labels: Tensor;
  positions: Tensor;
  segments: Tensor;
}

/** Everything one layer's backward needs from its forward. */
interface LayerActs {
  xIn: Tensor;
  h1: Tensor;
  rstd1: Tensor;
  qPre: Tensor | null;
  kPre: Tensor | null;
  qRstd: Tensor | null;
  kRstd: Tensor | null;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  att: Tensor;
  lse: Tensor;
  xMid: Tensor;
  h2: Tensor;
  rstd2: Tensor;
  g: Tensor;
  u: Tensor;
  act: Tensor;
  caches: LinearCache[];
}

const LINEAR_KEYS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;

export class LlamaGpu implements CausalLmModel {
  readonly layers: Layer[] = [];
  readonly embed: Param;
  readonly finalNorm: Param;
  readonly lmHead: Param;
  /** RoPE cos/sin by position (read by the KV-cache decoder as well). */
  readonly ropeTable: Tensor;
  /** Trainable parameters in a fixed order (the optimizer's and checkpoints' order). */
  readonly trainable: Param[] = [];
  private readonly key: [number, number];

  get attentionWindow(): number | null {
    return this.spec.slidingWindow ?? null;
  }

  private constructor(
    readonly gpu: Gpu,
    readonly spec: ModelSpec,
    readonly options: ModelOptions,
    weights: Record<string, WeightSource>,
    lora: Record<string, { a: ArrayLike<number>; b: ArrayLike<number> }> | null,
  ) {
    const full = options.mode === 'full';
    const baseType = options.base ?? 'f32';
    // LoRA's modules_to_save: norms trained whole beside the adapters.
    const saved = options.mode === 'lora' ? resolveModulesToSave(options.lora!, normModules(spec)) : new Set<string>();
    const param = (name: string, shape: number[]): Param => {
      const data = weights[name];
      if (!data) throw new Error(`missing weight ${name}`);
      const value = gpu.upload(weightToF32(data), shape, 'f32', name);
      const train = full || saved.has(name.replace(/\.weight$/, ''));
      const p: Param = { name, value, grad: train ? gpu.empty(shape, 'f32', `grad ${name}`) : null };
      if (train) this.trainable.push(p);
      return p;
    };
    const d = spec.hiddenSize;
    this.key = [options.seed >>> 0, Math.floor(options.seed / 2 ** 32) >>> 0];
    this.embed = param('model.embed_tokens.weight', [spec.vocabSize, d]);
    const targets = options.mode === 'lora' ? resolveLoraTargets(spec, options.lora!) : [];
    const targetIndex = new Map(targets.map((t, i) => [t.path, { t, i }]));
    for (let l = 0; l < spec.numLayers; l++) {
      const p = `model.layers.${l}`;
      const norm1 = param(`${p}.input_layernorm.weight`, [d]);
      const qNorm = spec.qkNorm ? param(`${p}.self_attn.q_norm.weight`, [spec.headDim]) : null;
      const kNorm = spec.qkNorm ? param(`${p}.self_attn.k_norm.weight`, [spec.headDim]) : null;
      const linears = layerLinears(spec).map((m) => {
        const path = `${p}.${m.name}`;
        const hasBias = m.name.startsWith('mlp')
          ? spec.mlpBias
          : m.name === 'self_attn.o_proj'
            ? spec.oBias
            : spec.qkvBias;
        const wName = `${path}.weight`;
        let frozen = null;
        if (baseType !== 'f32') {
          const src = weights[wName];
          if (!src) throw new Error(`missing weight ${wName}`);
          frozen = uploadFrozenBase(gpu, wName, src, [m.out, m.in], baseType);
        }
        const lin = new Linear(
          path,
          m.in,
          m.out,
          frozen ? { name: wName, value: frozen.data, grad: null } : param(wName, [m.out, m.in]),
          hasBias ? param(`${path}.bias`, [m.out]) : null,
          null,
          frozen,
        );
        const target = targetIndex.get(path);
        if (target) {
          const cfg = options.lora!;
          const given = lora?.[path];
          const aName = `${path}.lora_A.weight`;
          const bName = `${path}.lora_B.weight`;
          const a = gpu.upload(
            given?.a ?? initLoraA(target.t, target.i, cfg.r, options.seed),
            [cfg.r, m.in],
            'f32',
            aName,
          );
          const b = gpu.upload(given?.b ?? new Float32Array(m.out * cfg.r), [m.out, cfg.r], 'f32', bName);
          const pa: Param = { name: aName, value: a, grad: gpu.empty([cfg.r, m.in], 'f32', `grad ${aName}`) };
          const pb: Param = { name: bName, value: b, grad: gpu.empty([m.out, cfg.r], 'f32', `grad ${bName}`) };
          this.trainable.push(pa, pb);
          lin.lora = { a: pa, b: pb, r: cfg.r, scaling: loraScaling(cfg), dropout: cfg.dropout, merged: false };
        }
        return lin;
      });
      const norm2 = param(`${p}.post_attention_layernorm.weight`, [d]);
      const [q, k, v, o, gate, up, down] = linears;
      this.layers.push({ norm1, norm2, qNorm, kNorm, q, k, v, o, gate, up, down });
    }
    this.finalNorm = param('model.norm.weight', [d]);
    this.lmHead = spec.tieWordEmbeddings ? this.embed : param('lm_head.weight', [spec.vocabSize, d]);
    const maxPositions = options.maxPositions ?? ropeTablePositions(spec);
    this.ropeTable = uploadRopeTable(gpu, Float32Array.from(inverseFrequencies(spec)), maxPositions);
  }

  /**
   * Uploads the weights (HF names → values) and creates the adapters. `lora` gives A and B by module
   * path instead of the default initialization (tests, resumed runs).
   */
  static create(
    gpu: Gpu,
    spec: ModelSpec,
    weights: Record<string, WeightSource>,
    options: ModelOptions,
    lora: Record<string, { a: ArrayLike<number>; b: ArrayLike<number> }> | null = null,
  ): LlamaGpu {
    if (options.mode === 'lora' && !options.lora) throw new Error('LoRA mode needs a LoRA config');
    const base = options.base ?? 'f32';
    if (base !== 'f32' && options.mode !== 'lora') throw new Error(`a ${base} base is frozen: it needs mode 'lora'`);
    checkBaseType(gpu, base);
    return new LlamaGpu(gpu, spec, options, weights, lora);
  }

  /** Zeroes every gradient buffer (the start of an accumulated step). */
  zeroGrads(step: Step): void {
    for (const p of this.trainable) if (p.grad) step.clear(p.grad.buffer);
  }

  private uploadBatch(step: Step, b: TokenBatch): BatchTensors {
    const n = b.batch * b.seq;
    for (const [name, arr] of Object.entries({
      ids: b.ids,
      labels: b.labels,
      positions: b.positions,
      segments: b.segments,
    })) {
      if (arr.length !== n) throw new RangeError(`batch ${name} has ${arr.length} entries, expected ${n}`);
    }
    return {
      n,
      ids: step.upload(b.ids, [n], 'u32', 'ids'),
      labels: step.upload(b.labels, [n], 'i32', 'labels'),
      positions: step.upload(b.positions, [n], 'u32', 'positions'),
      segments: step.upload(b.segments, [n], 'u32', 'segments'),
    };
  }

  private releaseBatch(bt: BatchTensors): void {
    this.gpu.release(bt.ids, bt.labels, bt.positions, bt.segments);
  }

  /** Forward of one layer from xIn; writes the layer's output into xOut. */
  private async layerForward(
    step: Step,
    l: number,
    xIn: Tensor,
    xOut: Tensor,
    bt: BatchTensors,
    b: TokenBatch,
    ctx: { train: boolean; microStep: number },
  ): Promise<LayerActs> {
    const gpu = this.gpu;
    const s = this.spec;
    const L = this.layers[l];
    const { n } = bt;
    const d = s.hiddenSize;
    const hq = s.numHeads * s.headDim;
    const hkv = s.numKvHeads * s.headDim;
    const I = s.intermediateSize;
    const e = (shape: number[], label: string) => gpu.empty(shape, 'f32', `L${l} ${label}`);
    const rng = (slot: number) => ({ key: this.key, stream: [l * 8 + slot, ctx.microStep] as const, train: ctx.train });
    const a: LayerActs = {
      xIn,
      h1: e([n, d], 'h1'),
      rstd1: e([n], 'rstd1'),
      qPre: null,
      kPre: null,
      qRstd: null,
      kRstd: null,
      q: e([n, hq], 'q'),
      k: e([n, hkv], 'k'),
      v: e([n, hkv], 'v'),
      att: e([n, hq], 'attention'),
      lse: e([b.batch, s.numHeads, b.seq], 'lse'),
      xMid: e([n, d], 'x mid'),
      h2: e([n, d], 'h2'),
      rstd2: e([n], 'rstd2'),
      g: e([n, I], 'gate'),
      u: e([n, I], 'up'),
      act: e([n, I], 'swiglu'),
      caches: [],
    };
    await rmsnormForward(step, { x: xIn, w: L.norm1.value, y: a.h1, rstd: a.rstd1, rows: n, d, eps: s.rmsNormEps });
    a.caches.push(await L.q.forward(step, a.h1, a.q, n, rng(0)));
    a.caches.push(await L.k.forward(step, a.h1, a.k, n, rng(1)));
    a.caches.push(await L.v.forward(step, a.h1, a.v, n, rng(2)));
    if (L.qNorm && L.kNorm) {
      // Qwen3: RMSNorm over head_dim of each head, before RoPE. Keep the pre-norm values for the backward.
      a.qPre = a.q;
      a.kPre = a.k;
      a.q = e([n, hq], 'q normed');
      a.k = e([n, hkv], 'k normed');
      a.qRstd = e([n * s.numHeads], 'q rstd');
      a.kRstd = e([n * s.numKvHeads], 'k rstd');
      const hd = s.headDim;
      await rmsnormForward(step, {
        x: a.qPre,
        w: L.qNorm.value,
        y: a.q,
        rstd: a.qRstd,
        rows: n * s.numHeads,
        d: hd,
        eps: s.rmsNormEps,
      });
      await rmsnormForward(step, {
        x: a.kPre,
        w: L.kNorm.value,
        y: a.k,
        rstd: a.kRstd,
        rows: n * s.numKvHeads,
        d: hd,
        eps: s.rmsNormEps,
      });
    }
    const ropeArgs = { positions: bt.positions, table: this.ropeTable, tokens: n, headDim: s.headDim };
    await rope(step, { ...ropeArgs, x: a.q, heads: s.numHeads }, 'forward');
    await rope(step, { ...ropeArgs, x: a.k, heads: s.numKvHeads }, 'forward');
    await attentionForward(step, {
      q: a.q,
      k: a.k,
      v: a.v,
      o: a.att,
      lse: a.lse,
      segments: bt.segments,
      batch: b.batch,
      seq: b.seq,
      headsQ: s.numHeads,
      headsKV: s.numKvHeads,
      headDim: s.headDim,
      window: s.slidingWindow ?? undefined,
    });
    // xMid = xIn + o_proj(att): o_proj writes into xMid, then the residual is added in place.
    a.caches.push(await L.o.forward(step, a.att, a.xMid, n, rng(3)));
    await add(step, a.xMid, xIn, a.xMid);
    await rmsnormForward(step, { x: a.xMid, w: L.norm2.value, y: a.h2, rstd: a.rstd2, rows: n, d, eps: s.rmsNormEps });
    a.caches.push(await L.gate.forward(step, a.h2, a.g, n, rng(4)));
    a.caches.push(await L.up.forward(step, a.h2, a.u, n, rng(5)));
    await swigluForward(step, a.g, a.u, a.act);
    a.caches.push(await L.down.forward(step, a.act, xOut, n, rng(6)));
    await add(step, xOut, a.xMid, xOut);
    return a;
  }

  private releaseActs(a: LayerActs, keepInput: boolean): void {
    const ts = [a.h1, a.rstd1, a.q, a.k, a.v, a.att, a.lse, a.xMid, a.h2, a.rstd2, a.g, a.u, a.act];
    for (const t of [a.qPre, a.kPre, a.qRstd, a.kRstd]) if (t) ts.push(t);
    if (!keepInput) ts.push(a.xIn);
    this.gpu.release(...ts);
    for (const c of a.caches) releaseCache(this.gpu, c);
  }

  /** Backward of one layer: dx holds d(layer output) on entry and d(layer input) on exit. */
  private async layerBackward(step: Step, l: number, a: LayerActs, dx: Tensor, bt: BatchTensors, b: TokenBatch) {
    const gpu = this.gpu;
    const s = this.spec;
    const L = this.layers[l];
    const { n } = bt;
    const d = s.hiddenSize;
    const hd = s.headDim;
    const e = (shape: number[], label: string) => gpu.empty(shape, 'f32', `L${l} ${label}`);
    const [cq, ck, cv, co, cg, cu, cd] = a.caches;
    // MLP: down, SwiGLU (dg, du overwrite g, u), gate and up, post-attention norm.
    const dAct = e([n, s.intermediateSize], 'd swiglu');
    await L.down.backward(step, dx, dAct, cd, n, this.key, false);
    await swigluBackwardInPlace(step, dAct, a.g, a.u);
    const dh2 = e([n, d], 'd h2');
    await L.gate.backward(step, a.g, dh2, cg, n, this.key, false);
    await L.up.backward(step, a.u, dh2, cu, n, this.key, true);
    await rmsnormBackward(step, {
      dy: dh2,
      x: a.xMid,
      w: L.norm2.value,
      rstd: a.rstd2,
      dx,
      rows: n,
      d,
      accumulateDx: true,
      dw: L.norm2.grad ?? undefined,
      accumulateDw: true,
    });
    // Attention: o_proj, attention, RoPE (inverse rotation), q/k norms, q/k/v, input norm.
    const dAtt = e([n, s.numHeads * hd], 'd attention');
    await L.o.backward(step, dx, dAtt, co, n, this.key, false);
    const dq = e([n, s.numHeads * hd], 'dq');
    const dk = e([n, s.numKvHeads * hd], 'dk');
    const dv = e([n, s.numKvHeads * hd], 'dv');
    await attentionBackward(step, {
      q: a.q,
      k: a.k,
      v: a.v,
      o: a.att,
      lse: a.lse,
      dO: dAtt,
      dq,
      dk,
      dv,
      segments: bt.segments,
      batch: b.batch,
      seq: b.seq,
      headsQ: s.numHeads,
      headsKV: s.numKvHeads,
      headDim: hd,
      window: s.slidingWindow ?? undefined,
    });
    const ropeArgs = { positions: bt.positions, table: this.ropeTable, tokens: n, headDim: hd };
    await rope(step, { ...ropeArgs, x: dq, heads: s.numHeads }, 'backward');
    await rope(step, { ...ropeArgs, x: dk, heads: s.numKvHeads }, 'backward');
    let dqPre = dq;
    let dkPre = dk;
    if (L.qNorm && L.kNorm && a.qPre && a.kPre && a.qRstd && a.kRstd) {
      dqPre = e([n, s.numHeads * hd], 'dq pre-norm');
      dkPre = e([n, s.numKvHeads * hd], 'dk pre-norm');
      const common = { d: hd, accumulateDw: true };
      await rmsnormBackward(step, {
        ...common,
        dy: dq,
        x: a.qPre,
        w: L.qNorm.value,
        rstd: a.qRstd,
        dx: dqPre,
        rows: n * s.numHeads,
        dw: L.qNorm.grad ?? undefined,
      });
      await rmsnormBackward(step, {
        ...common,
        dy: dk,
        x: a.kPre,
        w: L.kNorm.value,
        rstd: a.kRstd,
        dx: dkPre,
        rows: n * s.numKvHeads,
        dw: L.kNorm.grad ?? undefined,
      });
    }
    const dh1 = e([n, d], 'd h1');
    await L.q.backward(step, dqPre, dh1, cq, n, this.key, false);
    await L.k.backward(step, dkPre, dh1, ck, n, this.key, true);
    await L.v.backward(step, dv, dh1, cv, n, this.key, true);
    await rmsnormBackward(step, {
      dy: dh1,
      x: a.xIn,
      w: L.norm1.value,
      rstd: a.rstd1,
      dx,
      rows: n,
      d,
      accumulateDx: true,
      dw: L.norm1.grad ?? undefined,
      accumulateDw: true,
    });
    gpu.release(dAct, dh2, dAtt, dq, dk, dv, dh1, ...(dqPre !== dq ? [dqPre, dkPre] : []));
  }

  /** Embedding and every decoder layer; keeps each layer's activations when `keep` (for a backward). */
  private async forwardLayers(
    step: Step,
    bt: BatchTensors,
    b: TokenBatch,
    ctx: { train: boolean; microStep: number },
    keep: boolean,
  ): Promise<{ x: Tensor; inputs: Tensor[]; acts: (LayerActs | null)[] }> {
    const gpu = this.gpu;
    const s = this.spec;
    const d = s.hiddenSize;
    const { n } = bt;
    let x = gpu.empty([n, d], 'f32', 'x0');
    await embeddingForward(step, { table: this.embed.value, ids: bt.ids, out: x, tokens: n, vocab: s.vocabSize, d });
    const acts: (LayerActs | null)[] = [];
    const inputs: Tensor[] = [];
    for (let l = 0; l < s.numLayers; l++) {
      const out = gpu.empty([n, d], 'f32', `x${l + 1}`);
      const a = await this.layerForward(step, l, x, out, bt, b, ctx);
      inputs.push(x);
      if (keep) acts.push(a);
      else {
        this.releaseActs(a, true);
        acts.push(null);
      }
      x = out;
    }
    return { x, inputs, acts };
  }

  /**
   * Full logits [batch·seq, vocab] of an inference forward (no dropout): for tests, comparisons and
   * small vocabularies. Training never materializes them (see microStep).
   */
  async logits(b: TokenBatch): Promise<Float32Array> {
    const gpu = this.gpu;
    const s = this.spec;
    const d = s.hiddenSize;
    const step = gpu.step('logits');
    const bt = this.uploadBatch(step, b);
    const { n } = bt;
    const { x, inputs } = await this.forwardLayers(step, bt, b, { train: false, microStep: 0 }, false);
    const hf = gpu.empty([n, d], 'f32', 'final norm');
    const rstd = gpu.empty([n], 'f32', 'final rstd');
    await rmsnormForward(step, { x, w: this.finalNorm.value, y: hf, rstd, rows: n, d, eps: s.rmsNormEps });
    const out = gpu.empty([n, s.vocabSize], 'f32', 'logits');
    await matmul(step, { a: hf, b: this.lmHead.value, c: out, m: n, n: s.vocabSize, k: d }, 'nt');
    await step.submit();
    const result = await gpu.readF32(out);
    gpu.release(hf, rstd, out, x, ...inputs);
    this.releaseBatch(bt);
    return result;
  }

  /**
   * Records one micro-batch: the loss (added into `loss` when accumulateLoss) and, with `backward`,
   * gradients accumulated into the trainable parameters' grad buffers. `invCount` is 1 / the non-ignored
   * labels of the whole accumulated step. `rowLoss` receives per-token losses when given.
   */
  async microStep(step: Step, b: TokenBatch, o: MicroStepOptions): Promise<void> {
    const gpu = this.gpu;
    const s = this.spec;
    const d = s.hiddenSize;
    const bt = this.uploadBatch(step, b);
    const { n } = bt;
    if (o.backward && this.linears().some((l) => l.lora?.merged)) {
      throw new Error('the adapters are merged into the base weights: unmerge them before training');
    }
    const ckpt = (this.options.checkpointing ?? false) && o.backward;
    const ctx = { train: o.train, microStep: o.microStep };
    const { x, inputs, acts } = await this.forwardLayers(step, bt, b, ctx, o.backward && !ckpt);
    const done: Tensor[] = [x, ...inputs];
    // The final norm and the LM head run on the labelled rows only (kernels/rows.ts); the gradient and the
    // per-token losses are scattered back, zero elsewhere, as the head over every row would give them.
    const sel = labelledRows(b.labels);
    const m = sel ? sel.rows.length : n;
    let xh = x;
    let labels = bt.labels;
    let rowLoss = o.rowLoss;
    let inverse: Tensor | null = null;
    if (sel) {
      const index = step.upload(sel.rows, [m], 'u32', 'head rows');
      inverse = step.upload(sel.inverse, [n], 'u32', 'head rows inverse');
      xh = gpu.empty([m, d], 'f32', 'head rows x');
      await selectRows(step, { x, index, out: xh, sourceRows: n, rows: m, d });
      labels = step.upload(
        Int32Array.from(sel.rows, (t) => b.labels[t]),
        [m],
        'i32',
        'head rows labels',
      );
      rowLoss = o.rowLoss ? gpu.empty([m], 'f32', 'head rows loss') : undefined;
      done.push(index, inverse, xh, labels, ...(rowLoss ? [rowLoss] : []));
    }
    const hf = gpu.empty([m, d], 'f32', 'final norm');
    const rstdF = gpu.empty([m], 'f32', 'final rstd');
    await rmsnormForward(step, { x: xh, w: this.finalNorm.value, y: hf, rstd: rstdF, rows: m, d, eps: s.rmsNormEps });
    const dhf = o.backward ? gpu.empty([m, d], 'f32', 'd final norm') : undefined;
    await lmHeadCrossEntropy(step, {
      h: hf,
      w: this.lmHead.value,
      labels,
      n: m,
      d,
      vocab: s.vocabSize,
      invCount: o.invCount,
      loss: o.loss,
      accumulateLoss: o.accumulateLoss,
      rowLoss,
      dh: dhf,
      dw: this.lmHead.grad ?? undefined,
      chunk: this.options.vocabChunk,
    });
    if (inverse && o.rowLoss && rowLoss) {
      await selectRows(step, { x: rowLoss, index: inverse, out: o.rowLoss, sourceRows: m, rows: n, d: 1 });
    }
    done.push(hf, rstdF);
    if (o.backward && dhf) {
      const dxh = gpu.empty([m, d], 'f32', inverse ? 'head rows dx' : 'dx');
      await rmsnormBackward(step, {
        dy: dhf,
        x: xh,
        w: this.finalNorm.value,
        rstd: rstdF,
        dx: dxh,
        rows: m,
        d,
        dw: this.finalNorm.grad ?? undefined,
        accumulateDw: true,
      });
      let dx = dxh;
      if (inverse) {
        dx = gpu.empty([n, d], 'f32', 'dx');
        await selectRows(step, { x: dxh, index: inverse, out: dx, sourceRows: m, rows: n, d });
        done.push(dxh);
      }
      for (let l = s.numLayers - 1; l >= 0; l--) {
        let a = acts[l];
        if (!a) {
          // Gradient checkpointing: recompute this layer from its saved input (same dropout streams).
          const scratch = gpu.empty([n, d], 'f32', `x${l + 1} recomputed`);
          a = await this.layerForward(step, l, inputs[l], scratch, bt, b, ctx);
          done.push(scratch);
        }
        await this.layerBackward(step, l, a, dx, bt, b);
        this.releaseActs(a, true);
      }
      if (this.embed.grad) {
        await embeddingBackward(step, {
          dout: dx,
          groups: groupTokens(b.ids, s.vocabSize),
          dTable: this.embed.grad,
          d,
        });
      }
      done.push(dx, dhf);
    }
    step.onDone(() => {
      gpu.release(...done);
      this.releaseBatch(bt);
    });
  }

  /** Every linear layer, in layer order. */
  linears(): Linear[] {
    return this.layers.flatMap((L) => LINEAR_KEYS.map((k) => L[k]));
  }

  /**
   * Folds every adapter into its base weight (W += scaling·B·A), or takes it back out. While merged the
   * forward skips the adapters; training needs them unmerged.
   */
  async setMerged(merged: boolean): Promise<void> {
    const step = this.gpu.step(merged ? 'merge LoRA' : 'unmerge LoRA');
    for (const lin of this.linears())
      if (lin.lora && lin.lora.merged !== merged) await foldLora(step, lin, merged ? 1 : -1);
    await step.submit();
  }

  /**
   * PEFT's merge_and_unload: the base weights with every adapter folded in, by Hugging Face name, as a
   * plain model's weights (the model itself is left as it was).
   */
  async mergedWeights(): Promise<Record<string, Float32Array>> {
    if (this.linears().some((l) => l.frozen)) return this.mergedFrozenWeights();
    const wasMerged = this.linears().some((l) => l.lora?.merged);
    if (!wasMerged) await this.setMerged(true);
    const out: Record<string, Float32Array> = {};
    const seen = new Set<Tensor>();
    const put = async (p: Param | null) => {
      if (!p || seen.has(p.value)) return;
      seen.add(p.value);
      out[p.name] = await this.gpu.readF32(p.value);
    };
    await put(this.embed);
    for (const L of this.layers) {
      for (const p of [L.norm1, L.norm2, L.qNorm, L.kNorm]) await put(p);
      for (const k of LINEAR_KEYS) {
        await put(L[k].weight);
        await put(L[k].bias);
      }
    }
    await put(this.finalNorm);
    if (!this.spec.tieWordEmbeddings) await put(this.lmHead);
    if (!wasMerged) await this.setMerged(false);
    return out;
  }

  /** mergedWeights over a frozen (f16 / NF4) base: each base weight decoded to f32 plus its adapter. */
  private async mergedFrozenWeights(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    const seen = new Set<Tensor>();
    const put = async (p: Param | null) => {
      if (!p || seen.has(p.value)) return;
      seen.add(p.value);
      out[p.name] = await this.gpu.readF32(p.value);
    };
    await put(this.embed);
    for (const L of this.layers) {
      for (const p of [L.norm1, L.norm2, L.qNorm, L.kNorm]) await put(p);
      for (const k of LINEAR_KEYS) {
        const step = this.gpu.step(`merged ${L[k].path}`);
        const w = await denseWeight(step, L[k], true);
        await step.submit();
        out[L[k].weight.name] = await this.gpu.readF32(w);
        this.gpu.release(w);
        await put(L[k].bias);
      }
    }
    await put(this.finalNorm);
    if (!this.spec.tieWordEmbeddings) await put(this.lmHead);
    return out;
  }

  /** Frees every GPU buffer the model holds. */
  dispose(): void {
    const ts: Tensor[] = [this.ropeTable];
    const seen = new Set<Tensor>();
    const addParam = (p: Param | null) => {
      if (!p || seen.has(p.value)) return;
      seen.add(p.value);
      ts.push(p.value);
      if (p.grad) ts.push(p.grad);
    };
    addParam(this.embed);
    addParam(this.finalNorm);
    addParam(this.lmHead);
    for (const L of this.layers) {
      for (const p of [L.norm1, L.norm2, L.qNorm, L.kNorm]) addParam(p);
      for (const k of LINEAR_KEYS) {
        const lin = L[k];
        if (lin.frozen) {
          seen.add(lin.weight.value);
          releaseFrozen(this.gpu, lin.frozen);
        } else addParam(lin.weight);
        addParam(lin.bias);
        if (lin.lora) {
          addParam(lin.lora.a);
          addParam(lin.lora.b);
        }
      }
    }
    this.gpu.release(...ts);
  }
}

/** Every RMSNorm module of a Llama-family model, by path (what modules_to_save may name). */
export function normModules(spec: ModelSpec): string[] {
  const out: string[] = [];
  for (let l = 0; l < spec.numLayers; l++) {
    const p = `model.layers.${l}`;
    out.push(`${p}.input_layernorm`, `${p}.post_attention_layernorm`);
    if (spec.qkNorm) out.push(`${p}.self_attn.q_norm`, `${p}.self_attn.k_norm`);
  }
  out.push('model.norm');
  return out;
}

/** Positions the RoPE table holds by default (RoPE clamps past it): the model's limit, at most 8192. */
export function ropeTablePositions(spec: ModelSpec): number {
  return Math.min(spec.maxPositionEmbeddings, 8192);
}
