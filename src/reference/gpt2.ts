// The CPU reference model for GPT-2 (GPT2LMHeadModel), float64, written from Hugging Face's modeling
// code, with PEFT's LoRA on the Conv1D modules (fan_in_fan_out = True):
//   Conv1D: y = x·W + b with W [in, out];  LoRA adds scaling·(dropout(x)·Aᵀ)·Bᵀ, A [r, in], B [out, r]
//   (fan_in_fan_out only changes how the merge is written: W += scaling·(B·A)ᵀ).
// Blocks: x = wte[ids] + wpe[positions]; x += c_proj(attn(c_attn(ln_1(x)))); x += mlp.c_proj(gelu_new(
// mlp.c_fc(ln_2(x)))); logits = ln_f(x)·wteᵀ. Gradients come back under the Hub's names and layouts.

import type { Gpt2Spec } from '../model/gpt2-config.ts';
import { geluNewBackwardRef, geluNewRef } from './gelu.ts';
import { layernormBackwardRef, layernormRef } from './layernorm.ts';
import type { ReferenceBatch, ReferenceLora, ReferenceMode, ReferenceResult } from './llama.ts';
import { inverseTokenCount } from './loss.ts';
import { Tape, type Var } from './tape.ts';

function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

function layernorm(tape: Tape, x: Var, w: Var, b: Var, d: number, eps: number): Var {
  const rows = x.size / d;
  return tape.custom(layernormRef(x.data, w.data, b.data, rows, d, eps).y, x.shape, [x, w, b], (o) => {
    const g = layernormBackwardRef(o.grad!, x.data, w.data, rows, d, eps);
    x.addGrad(g.dx);
    w.addGrad(g.dw);
    b.addGrad(g.db);
  });
}

function gelu(tape: Tape, x: Var): Var {
  return tape.custom(geluNewRef(x.data), x.shape, [x], (o) => x.addGrad(geluNewBackwardRef(o.grad!, x.data)));
}

/** Columns [start, start + width) of x [rows, cols]. */
function columns(tape: Tape, x: Var, cols: number, start: number, width: number): Var {
  const rows = x.size / cols;
  const y = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) for (let c = 0; c < width; c++) y[r * width + c] = x.data[r * cols + start + c];
  return tape.custom(y, [rows, width], [x], (o) => {
    const g = new Float64Array(x.size);
    for (let r = 0; r < rows; r++) for (let c = 0; c < width; c++) g[r * cols + start + c] = o.grad![r * width + c];
    x.addGrad(g);
  });
}

export function referenceGpt2(
  spec: Gpt2Spec,
  weights: Record<string, ArrayLike<number>>,
  batch: ReferenceBatch,
  mode: ReferenceMode,
  lora: ReferenceLora | null = null,
  invCount = inverseTokenCount([batch.labels]),
): ReferenceResult {
  const tape = new Tape();
  const params = new Map<string, { v: Var; transposed: [number, number] | null }>();
  const get = (name: string) => {
    const w = weights[name];
    if (!w) throw new Error(`reference GPT-2: missing weight ${name}`);
    return w;
  };
  const vec = (name: string, n: number): Var => {
    const v = tape.leaf(get(name), [n], mode === 'full');
    params.set(name, { v, transposed: null });
    return v;
  };
  const loraVars = new Map<string, Var>();
  const d = spec.hiddenSize;
  const m = spec.intermediateSize;
  const H = spec.numHeads;
  const eps = spec.layerNormEps;
  const conv1d = (x: Var, path: string, inF: number, outF: number): Var => {
    // Stored [in, out]; the tape's linear takes [out, in].
    const w = tape.leaf(transpose(get(`${path}.weight`), inF, outF), [outF, inF], mode === 'full');
    params.set(`${path}.weight`, { v: w, transposed: [outF, inF] });
    let y = tape.linear(x, w, vec(`${path}.bias`, outF));
    const adapter = lora?.modules[path];
    if (adapter) {
      const a = tape.leaf(adapter.a, [adapter.r, inF], mode === 'lora');
      const b = tape.leaf(adapter.b, [outF, adapter.r], mode === 'lora');
      loraVars.set(`${path}.lora_A.weight`, a);
      loraVars.set(`${path}.lora_B.weight`, b);
      const mask = lora?.dropoutMask?.(path, x.size) ?? null;
      const xd = mask ? tape.mulConst(x, mask) : x;
      y = tape.add(y, tape.scale(tape.linear(tape.linear(xd, a), b), lora!.scaling));
    }
    return y;
  };
  const wte = tape.leaf(get('transformer.wte.weight'), [spec.vocabSize, d], mode === 'full');
  params.set('transformer.wte.weight', { v: wte, transposed: null });
  const wpe = tape.leaf(get('transformer.wpe.weight'), [spec.maxPositionEmbeddings, d], mode === 'full');
  params.set('transformer.wpe.weight', { v: wpe, transposed: null });
  let x = tape.add(tape.embedding(wte, batch.ids), tape.embedding(wpe, batch.positions));
  const shape = { batch: batch.batch, seq: batch.seq, headsQ: H, headsKV: H, headDim: spec.headDim };
  for (let l = 0; l < spec.numLayers; l++) {
    const p = `transformer.h.${l}`;
    const h = layernorm(tape, x, vec(`${p}.ln_1.weight`, d), vec(`${p}.ln_1.bias`, d), d, eps);
    const qkv = conv1d(h, `${p}.attn.c_attn`, d, 3 * d);
    const [q, k, v] = [0, 1, 2].map((i) => columns(tape, qkv, 3 * d, i * d, d));
    const att = tape.attention(q, k, v, batch.segments, shape);
    x = tape.add(x, conv1d(att, `${p}.attn.c_proj`, d, d));
    const h2 = layernorm(tape, x, vec(`${p}.ln_2.weight`, d), vec(`${p}.ln_2.bias`, d), d, eps);
    x = tape.add(x, conv1d(gelu(tape, conv1d(h2, `${p}.mlp.c_fc`, d, m)), `${p}.mlp.c_proj`, m, d));
  }
  const hf = layernorm(tape, x, vec('transformer.ln_f.weight', d), vec('transformer.ln_f.bias', d), d, eps);
  const logits = tape.linear(hf, wte);
  const { loss, rowLoss } = tape.crossEntropy(logits, batch.labels, invCount);
  const grads = new Map<string, Float64Array>();
  if (mode !== 'forward') {
    tape.backward(loss);
    if (mode === 'full') {
      for (const [name, { v, transposed }] of params) {
        const g = v.grad ?? new Float64Array(v.size);
        grads.set(name, transposed ? transpose(g, transposed[0], transposed[1]) : g);
      }
    } else {
      for (const [name, v] of loraVars) grads.set(name, v.grad ?? new Float64Array(v.size));
    }
  }
  return { loss: loss.data[0], rowLoss, logits: logits.data, grads };
}
