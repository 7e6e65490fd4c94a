// GPT-2 (GPT2LMHeadModel) on the GPU: forward, backward and LoRA/full training parameters, over the same
// kernels and Linear as the Llama family plus LayerNorm and gelu_new. Conv1D weights arrive [in, out]
// (the Hub's layout) and are transposed once on upload to the [out, in] the Linear layer uses; they go
// back to [in, out] on export. The fused c_attn becomes three Linears (q, k, v) over row blocks of the
// transposed weight; its one PEFT adapter shares A between them and splits B [3d, r] into three [d, r]
// blocks, with the same dropout stream, so the math is exactly PEFT's
// (fan_in_fan_out = True only changes how the merge is written: W += scaling·(B·A)ᵀ).

import type { Gpu } from '../gpu/gpu.ts';
import type { Step } from '../gpu/step.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { attentionBackward, attentionForward } from '../kernels/attention.ts';
import { add } from '../kernels/elementwise.ts';
import { embeddingBackward, embeddingForward, groupTokens } from '../kernels/embedding.ts';
import { geluBackwardInPlace, geluForward } from '../kernels/gelu.ts';
import { layernormBackward, layernormForward } from '../kernels/layernorm.ts';
import { lmHeadCrossEntropy } from '../kernels/loss.ts';
import { matmul } from '../kernels/matmul.ts';
import { GPT2_MODULES, gpt2ModuleShape, gpt2TensorNames, type Gpt2Spec } from './gpt2-config.ts';
import { foldLora, Linear, releaseCache, type LinearCache, type Param } from './linear.ts';
import type { ModelOptions, TokenBatch } from './llama-gpu.ts';
import { initLoraA, loraScaling, type LoraConfig, type LoraTarget } from './lora.ts';
import type { CausalLmModel, MicroStepOptions } from './causal-lm.ts';

export function transposeMatrix(a: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

/** PEFT's module matching for GPT-2 ('all-linear' means every Conv1D of the blocks). */
export function resolveGpt2Targets(spec: Gpt2Spec, cfg: LoraConfig): LoraTarget[] {
  if ((cfg.modulesToSave ?? []).length > 0) {
    throw new RangeError('LoRA modules_to_save is not supported for GPT-2 models yet: leave it empty');
  }
  const out: LoraTarget[] = [];
  const t = cfg.targetModules;
  for (let layer = 0; layer < spec.numLayers; layer++) {
    GPT2_MODULES.forEach((m, slot) => {
      const path = `transformer.h.${layer}.${m}`;
      const hit =
        t === 'all-linear' ||
        (typeof t === 'string'
          ? new RegExp(`^(?:${t})$`).test(path)
          : t.some((x) => path === x || path.endsWith(`.${x}`)));
      const [o, i] = gpt2ModuleShape(spec, m);
      if (hit) out.push({ path, layer, slot, out: o, in: i });
    });
  }
  if (out.length === 0) throw new RangeError(`LoRA target_modules ${JSON.stringify(t)} match no GPT-2 module`);
  return out;
}

interface Block {
  ln1w: Param;
  ln1b: Param;
  ln2w: Param;
  ln2b: Param;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  fc: Linear;
  proj: Linear;
}

interface Acts {
  xIn: Tensor;
  h1: Tensor;
  mean1: Tensor;
  rstd1: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  att: Tensor;
  lse: Tensor;
  xMid: Tensor;
  h2: Tensor;
  mean2: Tensor;
  rstd2: Tensor;
  pre: Tensor;
  act: Tensor;
  caches: LinearCache[];
}

type Adapters = Record<string, { a: ArrayLike<number>; b: ArrayLike<number> }>;

export class Gpt2Gpu implements CausalLmModel {
  readonly blocks: Block[] = [];
  readonly wte: Param;
  readonly wpe: Param;
  readonly lnfW: Param;
  readonly lnfB: Param;
  readonly trainable: Param[] = [];
  readonly attentionWindow = null;
  private readonly key: [number, number];

  private constructor(
    readonly gpu: Gpu,
    readonly spec: Gpt2Spec,
    readonly options: ModelOptions,
    weights: Record<string, ArrayLike<number>>,
    lora: Adapters | null,
  ) {
    const full = options.mode === 'full';
    const get = (name: string) => {
      const w = weights[name];
      if (!w) throw new Error(`missing weight ${name}`);
      return w;
    };
    const param = (name: string, shape: number[], data: ArrayLike<number>): Param => {
      const p: Param = {
        name,
        value: gpu.upload(data, shape, 'f32', name),
        grad: full ? gpu.empty(shape, 'f32', `grad ${name}`) : null,
      };
      if (full) this.trainable.push(p);
      return p;
    };
    const d = spec.hiddenSize;
    this.key = [options.seed >>> 0, Math.floor(options.seed / 2 ** 32) >>> 0];
    this.wte = param('transformer.wte.weight', [spec.vocabSize, d], get('transformer.wte.weight'));
    this.wpe = param('transformer.wpe.weight', [spec.maxPositionEmbeddings, d], get('transformer.wpe.weight'));
    const targets = options.mode === 'lora' ? resolveGpt2Targets(spec, options.lora!) : [];
    const targetIndex = new Map(targets.map((t, i) => [t.path, { t, i }]));
    const vec = (name: string, n: number) => param(name, [n], get(name));
    for (let l = 0; l < spec.numLayers; l++) {
      const p = `transformer.h.${l}`;
      // Conv1D modules as Linears; c_attn as three row blocks of its transposed weight.
      const conv = (m: string): Linear[] => {
        const path = `${p}.${m}`;
        const [outF, inF] = gpt2ModuleShape(spec, m);
        const wT = transposeMatrix(get(`${path}.weight`), inF, outF);
        const bias = get(`${path}.bias`);
        const parts = m === 'attn.c_attn' ? ['q', 'k', 'v'] : [null];
        const rows = outF / parts.length;
        const lins = parts.map((part, j) => {
          const suffix = part ? `#${part}` : '';
          const w = param(`${path}.weight${suffix}`, [rows, inF], wT.subarray(j * rows * inF, (j + 1) * rows * inF));
          const b = param(`${path}.bias${suffix}`, [rows], Array.prototype.slice.call(bias, j * rows, (j + 1) * rows));
          return new Linear(`${path}${part ? `.${part}` : ''}`, inF, rows, w, b, null);
        });
        const target = targetIndex.get(path);
        if (target) {
          const cfg = options.lora!;
          const given = lora?.[path];
          const aName = `${path}.lora_A.weight`;
          const aData = given?.a ?? initLoraA(target.t, target.i, cfg.r, options.seed);
          const a: Param = {
            name: aName,
            value: gpu.upload(aData, [cfg.r, inF], 'f32', aName),
            grad: gpu.empty([cfg.r, inF], 'f32', `grad ${aName}`),
          };
          this.trainable.push(a);
          lins.forEach((lin, j) => {
            const bName = `${path}.lora_B.weight${parts[j] ? `#${parts[j]}` : ''}`;
            const bData = given
              ? Array.prototype.slice.call(given.b, j * rows * cfg.r, (j + 1) * rows * cfg.r)
              : new Float32Array(rows * cfg.r);
            const b: Param = {
              name: bName,
              value: gpu.upload(bData, [rows, cfg.r], 'f32', bName),
              grad: gpu.empty([rows, cfg.r], 'f32', `grad ${bName}`),
            };
            this.trainable.push(b);
            lin.lora = { a, b, r: cfg.r, scaling: loraScaling(cfg), dropout: cfg.dropout, merged: false };
          });
        }
        return lins;
      };
      const ln1w = vec(`${p}.ln_1.weight`, d);
      const ln1b = vec(`${p}.ln_1.bias`, d);
      const [q, k, v] = conv('attn.c_attn');
      const [o] = conv('attn.c_proj');
      const ln2w = vec(`${p}.ln_2.weight`, d);
      const ln2b = vec(`${p}.ln_2.bias`, d);
      const [fc] = conv('mlp.c_fc');
      const [proj] = conv('mlp.c_proj');
      this.blocks.push({ ln1w, ln1b, ln2w, ln2b, q, k, v, o, fc, proj });
    }
    this.lnfW = vec('transformer.ln_f.weight', d);
    this.lnfB = vec('transformer.ln_f.bias', d);
  }

  static create(
    gpu: Gpu,
    spec: Gpt2Spec,
    weights: Record<string, ArrayLike<number>>,
    options: ModelOptions,
    lora: Adapters | null = null,
  ): Gpt2Gpu {
    if (options.mode === 'lora' && !options.lora) throw new Error('LoRA mode needs a LoRA config');
    return new Gpt2Gpu(gpu, spec, options, weights, lora);
  }

  linears(): Linear[] {
    return this.blocks.flatMap((b) => [b.q, b.k, b.v, b.o, b.fc, b.proj]);
  }

  zeroGrads(step: Step): void {
    for (const p of this.trainable) if (p.grad) step.clear(p.grad.buffer);
  }

  private async blockForward(
    step: Step,
    l: number,
    xIn: Tensor,
    xOut: Tensor,
    tensors: { segments: Tensor; n: number },
    b: TokenBatch,
    ctx: { train: boolean; microStep: number },
  ): Promise<Acts> {
    const s = this.spec;
    const B = this.blocks[l];
    const { n } = tensors;
    const d = s.hiddenSize;
    const e = (shape: number[], label: string) => this.gpu.empty(shape, 'f32', `L${l} ${label}`);
    const rng = (slot: number) => ({ key: this.key, stream: [l * 8 + slot, ctx.microStep] as const, train: ctx.train });
    const a: Acts = {
      xIn,
      h1: e([n, d], 'h1'),
      mean1: e([n], 'mean1'),
      rstd1: e([n], 'rstd1'),
      q: e([n, d], 'q'),
      k: e([n, d], 'k'),
      v: e([n, d], 'v'),
      att: e([n, d], 'attention'),
      lse: e([b.batch, s.numHeads, b.seq], 'lse'),
      xMid: e([n, d], 'x mid'),
      h2: e([n, d], 'h2'),
      mean2: e([n], 'mean2'),
      rstd2: e([n], 'rstd2'),
      pre: e([n, s.intermediateSize], 'c_fc'),
      act: e([n, s.intermediateSize], 'gelu'),
      caches: [],
    };
    const eps = s.layerNormEps;
    await layernormForward(step, {
      x: xIn,
      w: B.ln1w.value,
      b: B.ln1b.value,
      y: a.h1,
      mean: a.mean1,
      rstd: a.rstd1,
      rows: n,
      d,
      eps,
    });
    // One dropout stream for q, k and v: PEFT drops c_attn's input once.
    a.caches.push(await B.q.forward(step, a.h1, a.q, n, rng(0)));
    a.caches.push(await B.k.forward(step, a.h1, a.k, n, rng(0)));
    a.caches.push(await B.v.forward(step, a.h1, a.v, n, rng(0)));
    await attentionForward(step, {
      q: a.q,
      k: a.k,
      v: a.v,
      o: a.att,
      lse: a.lse,
      segments: tensors.segments,
      batch: b.batch,
      seq: b.seq,
      headsQ: s.numHeads,
      headsKV: s.numHeads,
      headDim: s.headDim,
    });
    a.caches.push(await B.o.forward(step, a.att, a.xMid, n, rng(1)));
    await add(step, a.xMid, xIn, a.xMid);
    await layernormForward(step, {
      x: a.xMid,
      w: B.ln2w.value,
      b: B.ln2b.value,
      y: a.h2,
      mean: a.mean2,
      rstd: a.rstd2,
      rows: n,
      d,
      eps,
    });
    a.caches.push(await B.fc.forward(step, a.h2, a.pre, n, rng(2)));
    await geluForward(step, a.pre, a.act);
    a.caches.push(await B.proj.forward(step, a.act, xOut, n, rng(3)));
    await add(step, xOut, a.xMid, xOut);
    return a;
  }

  private releaseActs(a: Acts): void {
    const { xIn: _x, caches, ...rest } = a;
    this.gpu.release(...Object.values(rest));
    for (const c of caches) releaseCache(this.gpu, c);
  }

  private async blockBackward(step: Step, l: number, a: Acts, dx: Tensor, n: number, segments: Tensor, b: TokenBatch) {
    const gpu = this.gpu;
    const s = this.spec;
    const B = this.blocks[l];
    const d = s.hiddenSize;
    const e = (shape: number[], label: string) => gpu.empty(shape, 'f32', `L${l} ${label}`);
    const [cq, ck, cv, co, cfc, cproj] = a.caches;
    const dAct = e([n, s.intermediateSize], 'd gelu');
    await B.proj.backward(step, dx, dAct, cproj, n, this.key, false);
    await geluBackwardInPlace(step, a.pre, dAct);
    const dh2 = e([n, d], 'd h2');
    await B.fc.backward(step, dAct, dh2, cfc, n, this.key, false);
    await layernormBackward(step, {
      dy: dh2,
      x: a.xMid,
      w: B.ln2w.value,
      mean: a.mean2,
      rstd: a.rstd2,
      dx,
      rows: n,
      d,
      accumulateDx: true,
      dw: B.ln2w.grad ?? undefined,
      db: B.ln2b.grad ?? undefined,
      accumulateDw: true,
    });
    const dAtt = e([n, d], 'd attention');
    await B.o.backward(step, dx, dAtt, co, n, this.key, false);
    const dq = e([n, d], 'dq');
    const dk = e([n, d], 'dk');
    const dv = e([n, d], 'dv');
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
      segments,
      batch: b.batch,
      seq: b.seq,
      headsQ: s.numHeads,
      headsKV: s.numHeads,
      headDim: s.headDim,
    });
    const dh1 = e([n, d], 'd h1');
    await B.q.backward(step, dq, dh1, cq, n, this.key, false);
    await B.k.backward(step, dk, dh1, ck, n, this.key, true);
    await B.v.backward(step, dv, dh1, cv, n, this.key, true);
    await layernormBackward(step, {
      dy: dh1,
      x: a.xIn,
      w: B.ln1w.value,
      mean: a.mean1,
      rstd: a.rstd1,
      dx,
      rows: n,
      d,
      accumulateDx: true,
      dw: B.ln1w.grad ?? undefined,
      db: B.ln1b.grad ?? undefined,
      accumulateDw: true,
    });
    step.onDone(() => gpu.release(dAct, dh2, dAtt, dq, dk, dv, dh1));
  }

  /** Embeddings and every block; the final LayerNorm's output and what the backward needs. */
  private async forwardAll(step: Step, b: TokenBatch, ctx: { train: boolean; microStep: number }, keep: boolean) {
    const gpu = this.gpu;
    const s = this.spec;
    const d = s.hiddenSize;
    const n = b.batch * b.seq;
    for (const arr of [b.ids, b.labels, b.positions, b.segments]) {
      if (arr.length !== n) throw new RangeError(`batch arrays must hold ${n} entries`);
    }
    const ids = step.upload(b.ids, [n], 'u32', 'ids');
    const positions = step.upload(b.positions, [n], 'u32', 'positions');
    const segments = step.upload(b.segments, [n], 'u32', 'segments');
    const labels = step.upload(b.labels, [n], 'i32', 'labels');
    let x = gpu.empty([n, d], 'f32', 'x0');
    const pos = gpu.empty([n, d], 'f32', 'wpe rows');
    await embeddingForward(step, { table: this.wte.value, ids, out: x, tokens: n, vocab: s.vocabSize, d });
    await embeddingForward(step, {
      table: this.wpe.value,
      ids: positions,
      out: pos,
      tokens: n,
      vocab: s.maxPositionEmbeddings,
      d,
    });
    await add(step, x, pos, x);
    const acts: Acts[] = [];
    const inputs: Tensor[] = [];
    for (let l = 0; l < s.numLayers; l++) {
      const out = gpu.empty([n, d], 'f32', `x${l + 1}`);
      const a = await this.blockForward(step, l, x, out, { segments, n }, b, ctx);
      inputs.push(x);
      if (keep) acts.push(a);
      else this.releaseActs(a);
      x = out;
    }
    const hf = gpu.empty([n, d], 'f32', 'ln_f');
    const meanF = gpu.empty([n], 'f32', 'ln_f mean');
    const rstdF = gpu.empty([n], 'f32', 'ln_f rstd');
    await layernormForward(step, {
      x,
      w: this.lnfW.value,
      b: this.lnfB.value,
      y: hf,
      mean: meanF,
      rstd: rstdF,
      rows: n,
      d,
      eps: s.layerNormEps,
    });
    const temps = [ids, positions, segments, labels, pos, hf, meanF, rstdF, x, ...inputs];
    return { n, x, hf, meanF, rstdF, acts, labels, segments, temps };
  }

  /** Full logits [batch·seq, vocab] of an inference forward (tests, small vocabularies). */
  async logits(b: TokenBatch): Promise<Float32Array> {
    const gpu = this.gpu;
    const s = this.spec;
    const step = gpu.step('gpt2 logits');
    const f = await this.forwardAll(step, b, { train: false, microStep: 0 }, false);
    const out = gpu.empty([f.n, s.vocabSize], 'f32', 'logits');
    await matmul(step, { a: f.hf, b: this.wte.value, c: out, m: f.n, n: s.vocabSize, k: s.hiddenSize }, 'nt');
    await step.submit();
    const result = await gpu.readF32(out);
    gpu.release(out, ...f.temps);
    return result;
  }

  /** One micro-batch: the loss and, with `backward`, gradients accumulated into the trainable params. */
  async microStep(step: Step, b: TokenBatch, o: MicroStepOptions): Promise<void> {
    const gpu = this.gpu;
    const s = this.spec;
    const d = s.hiddenSize;
    if (o.backward && this.linears().some((l) => l.lora?.merged)) {
      throw new Error('the adapters are merged into the base weights: unmerge them before training');
    }
    const f = await this.forwardAll(step, b, { train: o.train, microStep: o.microStep }, o.backward);
    const { n } = f;
    const dhf = o.backward ? gpu.empty([n, d], 'f32', 'd ln_f') : undefined;
    await lmHeadCrossEntropy(step, {
      h: f.hf,
      w: this.wte.value,
      labels: f.labels,
      n,
      d,
      vocab: s.vocabSize,
      invCount: o.invCount,
      loss: o.loss,
      accumulateLoss: o.accumulateLoss,
      rowLoss: o.rowLoss,
      dh: dhf,
      dw: this.wte.grad ?? undefined,
      chunk: this.options.vocabChunk,
    });
    const done = [...f.temps];
    if (o.backward && dhf) {
      const dx = gpu.empty([n, d], 'f32', 'dx');
      await layernormBackward(step, {
        dy: dhf,
        x: f.x,
        w: this.lnfW.value,
        mean: f.meanF,
        rstd: f.rstdF,
        dx,
        rows: n,
        d,
        dw: this.lnfW.grad ?? undefined,
        db: this.lnfB.grad ?? undefined,
        accumulateDw: true,
      });
      for (let l = s.numLayers - 1; l >= 0; l--) {
        await this.blockBackward(step, l, f.acts[l], dx, n, f.segments, b);
        this.releaseActs(f.acts[l]);
      }
      if (this.wte.grad)
        await embeddingBackward(step, { dout: dx, groups: groupTokens(b.ids, s.vocabSize), dTable: this.wte.grad, d });
      if (this.wpe.grad) {
        await embeddingBackward(step, {
          dout: dx,
          groups: groupTokens(b.positions, s.maxPositionEmbeddings),
          dTable: this.wpe.grad,
          d,
        });
      }
      done.push(dx, dhf);
    }
    step.onDone(() => gpu.release(...done));
  }

  async setMerged(merged: boolean): Promise<void> {
    const step = this.gpu.step(merged ? 'merge LoRA' : 'unmerge LoRA');
    for (const lin of this.linears())
      if (lin.lora && lin.lora.merged !== merged) await foldLora(step, lin, merged ? 1 : -1);
    await step.submit();
  }

  /**
   * Values by Hub name and layout from per-part tensors: c_attn's q/k/v blocks joined, Conv1D weights
   * back to [in, out], c_attn's B blocks joined into [3d, r]. `pick` reads a Param's value or gradient.
   */
  private async assemble(pick: (p: Param) => Tensor | null, params: Param[]): Promise<Map<string, Float32Array>> {
    const parts = new Map<string, Float32Array[]>();
    for (const p of params) {
      const t = pick(p);
      if (!t) continue;
      const base = p.name.replace(/#[qkv]$/, '');
      const list = parts.get(base) ?? [];
      list.push(await this.gpu.readF32(t));
      parts.set(base, list);
    }
    const out = new Map<string, Float32Array>();
    for (const [name, list] of parts) {
      const joined = new Float32Array(list.reduce((a, x) => a + x.length, 0));
      let off = 0;
      for (const x of list) {
        joined.set(x, off);
        off += x.length;
      }
      const m = /^transformer\.h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/.exec(name);
      if (m) {
        const [outF, inF] = gpt2ModuleShape(this.spec, m[1]);
        out.set(name, transposeMatrix(joined, outF, inF));
      } else out.set(name, joined);
    }
    return out;
  }

  /** Every trainable gradient by Hub/PEFT name and layout. */
  async gradients(): Promise<Map<string, Float32Array>> {
    return this.assemble((p) => p.grad, this.trainable);
  }

  /** Every base parameter (not the adapters). */
  private baseParams(): Param[] {
    const ps: Param[] = [this.wte, this.wpe];
    for (const B of this.blocks) {
      ps.push(B.ln1w, B.ln1b);
      for (const lin of [B.q, B.k, B.v, B.o]) ps.push(lin.weight, lin.bias!);
      ps.push(B.ln2w, B.ln2b);
      for (const lin of [B.fc, B.proj]) ps.push(lin.weight, lin.bias!);
    }
    ps.push(this.lnfW, this.lnfB);
    return ps;
  }

  /** PEFT's merge_and_unload: Hub names and layouts, in gpt2TensorNames order. */
  async mergedWeights(): Promise<Record<string, Float32Array>> {
    const wasMerged = this.linears().some((l) => l.lora?.merged);
    if (!wasMerged) await this.setMerged(true);
    const got = await this.assemble((p) => p.value, this.baseParams());
    if (!wasMerged) await this.setMerged(false);
    return Object.fromEntries(gpt2TensorNames(this.spec).map((t) => [t.name, got.get(t.name)!]));
  }

  dispose(): void {
    const seen = new Set<Tensor>();
    const ts: Tensor[] = [];
    for (const p of [...this.baseParams(), ...this.trainable]) {
      for (const t of [p.value, p.grad]) {
        if (t && !seen.has(t)) {
          seen.add(t);
          ts.push(t);
        }
      }
    }
    this.gpu.release(...ts);
  }
}
