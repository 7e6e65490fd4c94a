// The CPU reference model for the Llama family (Llama, Qwen2, Qwen3, Mistral), float64, written from
// Hugging Face's modeling code, with LoRA adapters as PEFT applies them:
//   y = x·Wᵀ + b + scaling · (dropout(x)·Aᵀ)·Bᵀ,   A [r, in], B [out, r]
// It is the oracle for the GPU engine's forward and every gradient (checked itself against finite
// differences and PyTorch fixtures). Labels are already aligned with positions (label t is the target
// of position t; −100 ignored). Packed rows carry per-token positions and segment ids.

import type { ModelSpec } from '../model/config.ts';
import type { TokenBatch } from '../model/llama-gpu.ts';
import { inverseFrequencies } from '../model/config.ts';
import { inverseTokenCount } from './loss.ts';
import { Tape, type Var } from './tape.ts';

/** The engine's batch: [B·T] ids, aligned labels (−100 ignored), positions and segment ids. */
export type ReferenceBatch = TokenBatch;

export interface ReferenceLora {
  scaling: number;
  /** Per module path (e.g. 'model.layers.0.self_attn.q_proj'): A [r, in] and B [out, r]. */
  modules: Record<string, { a: Float64Array; b: Float64Array; r: number }>;
  /** The dropout keep mask (scaled by 1/(1−p)) applied to a module's input, or null for none. */
  dropoutMask?: (module: string, n: number) => ArrayLike<number> | null;
}

export type ReferenceMode = 'forward' | 'lora' | 'full';

export interface ReferenceResult {
  loss: number;
  /** Per-token losses (0 where ignored), unscaled. */
  rowLoss: Float64Array;
  logits: Float64Array;
  /** Gradients by name: HF tensor names in full mode; '<module>.lora_A.weight' / '.lora_B.weight' in LoRA mode. */
  grads: Map<string, Float64Array>;
}

export function referenceModel(
  spec: ModelSpec,
  weights: Record<string, ArrayLike<number>>,
  batch: ReferenceBatch,
  mode: ReferenceMode,
  lora: ReferenceLora | null = null,
  invCount = inverseTokenCount([batch.labels]),
): ReferenceResult {
  const tape = new Tape();
  const params = new Map<string, Var>();
  const weight = (name: string, shape: number[]): Var => {
    let v = params.get(name);
    if (!v) {
      const data = weights[name];
      if (!data) throw new Error(`reference model: missing weight ${name}`);
      v = tape.leaf(data, shape, mode === 'full');
      params.set(name, v);
    }
    return v;
  };
  const loraVars = new Map<string, Var>();
  const D = spec.hiddenSize;
  const I = spec.intermediateSize;
  const Hq = spec.numHeads;
  const Hkv = spec.numKvHeads;
  const hd = spec.headDim;
  const n = batch.batch * batch.seq;
  const invFreq = inverseFrequencies(spec);

  const linear = (x: Var, path: string, outF: number, inF: number, bias: boolean): Var => {
    let y = tape.linear(x, weight(`${path}.weight`, [outF, inF]), bias ? weight(`${path}.bias`, [outF]) : undefined);
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

  const embed = weight('model.embed_tokens.weight', [spec.vocabSize, D]);
  let x = tape.embedding(embed, batch.ids);
  const attnShape = { batch: batch.batch, seq: batch.seq, headsQ: Hq, headsKV: Hkv, headDim: hd };
  for (let l = 0; l < spec.numLayers; l++) {
    const p = `model.layers.${l}`;
    const h = tape.rmsnorm(x, weight(`${p}.input_layernorm.weight`, [D]), D, spec.rmsNormEps);
    let q = linear(h, `${p}.self_attn.q_proj`, Hq * hd, D, spec.qkvBias);
    let k = linear(h, `${p}.self_attn.k_proj`, Hkv * hd, D, spec.qkvBias);
    const v = linear(h, `${p}.self_attn.v_proj`, Hkv * hd, D, spec.qkvBias);
    if (spec.qkNorm) {
      q = tape.rmsnorm(q, weight(`${p}.self_attn.q_norm.weight`, [hd]), hd, spec.rmsNormEps);
      k = tape.rmsnorm(k, weight(`${p}.self_attn.k_norm.weight`, [hd]), hd, spec.rmsNormEps);
    }
    q = tape.rope(q, batch.positions, invFreq, Hq, hd);
    k = tape.rope(k, batch.positions, invFreq, Hkv, hd);
    const att = tape.attention(q, k, v, batch.segments, attnShape);
    x = tape.add(x, linear(att, `${p}.self_attn.o_proj`, D, Hq * hd, spec.oBias));
    const h2 = tape.rmsnorm(x, weight(`${p}.post_attention_layernorm.weight`, [D]), D, spec.rmsNormEps);
    const g = linear(h2, `${p}.mlp.gate_proj`, I, D, spec.mlpBias);
    const u = linear(h2, `${p}.mlp.up_proj`, I, D, spec.mlpBias);
    x = tape.add(x, linear(tape.swiglu(g, u), `${p}.mlp.down_proj`, D, I, spec.mlpBias));
  }
  const hf = tape.rmsnorm(x, weight('model.norm.weight', [D]), D, spec.rmsNormEps);
  const head = spec.tieWordEmbeddings ? embed : weight('lm_head.weight', [spec.vocabSize, D]);
  const logits = tape.linear(hf, head);
  const { loss, rowLoss } = tape.crossEntropy(logits, batch.labels, invCount);
  const grads = new Map<string, Float64Array>();
  if (mode !== 'forward') {
    tape.backward(loss);
    const source = mode === 'full' ? params : loraVars;
    for (const [name, v] of source) grads.set(name, v.grad ?? new Float64Array(v.size));
  }
  if (n !== batch.ids.length) throw new Error('reference model: ids do not match batch × seq');
  return { loss: loss.data[0], rowLoss, logits: logits.data, grads };
}
