// ONNX export of a merged Llama-family model in the graph shape transformers.js (and Optimum) use for a
// causal LM with a KV cache:
//   inputs   input_ids [batch_size, sequence_length] int64, attention_mask [batch_size,
//            total_sequence_length] int64, position_ids [batch_size, sequence_length] int64,
//            past_key_values.{l}.key / .value [batch_size, num_kv_heads, past_sequence_length, head_dim]
//   outputs  logits [batch_size, sequence_length, vocab], present.{l}.key / .value
//            [batch_size, num_kv_heads, total_sequence_length, head_dim]
// with config.json, generation_config.json and onnx/model.onnx in the folder, so that
// AutoModelForCausalLM.from_pretrained(folder) runs it. Standard ops only (opset 17), float32 weights
// stored [in, out] for MatMul. The mask is causal over absolute positions (past + i), ANDed with
// attention_mask (padding) and, for Mistral-style windows, q − k < window.
// Limit: one protobuf holds at most 2 GiB, so models above ~500M parameters in f32 need the external
// data format (not written yet).

import type { ModelSpec } from '../model/config.ts';
import { inverseFrequencies } from '../model/config.ts';
import { ropeTable } from '../kernels/rope.ts';
import { generationConfigOf, jsonFile, type ExportFile, type ExportProgress } from './hub-model.ts';
import { GraphBuilder, valueInfo } from './onnx-graph.ts';
import { DT, encodeModel } from './onnx-proto.ts';

export interface OnnxExportOptions {
  config: Record<string, unknown>;
  generationConfig?: Record<string, unknown>;
  tokenizerFiles?: Record<string, Uint8Array | string>;
  /** Positions the RoPE tables cover (default: max_position_embeddings, at most 8192). */
  maxPositions?: number;
  onProgress?: ExportProgress;
  /** Weights in onnx/model.onnx_data (external data format); default: above 1.5 GiB of weights. */
  externalData?: boolean;
}

/** W [out, in] → [in, out]. */
export function transpose(w: ArrayLike<number>, out: number, inF: number): Float32Array {
  const t = new Float32Array(out * inF);
  for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) t[i * out + o] = w[o * inF + i];
  return t;
}

/** Names of the past/present inputs and outputs, as transformers.js looks them up. */
export const pastName = (l: number, kv: 'key' | 'value') => `past_key_values.${l}.${kv}`;
export const presentName = (l: number, kv: 'key' | 'value') => `present.${l}.${kv}`;

/** Shared inputs, shapes and masks of a decoder graph. */
export function decoderPrelude(g: GraphBuilder) {
  const idsShape = g.o('Shape', ['input_ids']);
  const S = g.o('Gather', [idsShape, g.ints(1)], { axis: 0 });
  const T = g.o('Gather', [g.o('Shape', ['attention_mask']), g.ints(1)], { axis: 0 });
  const P = g.o('Sub', [T, S]);
  const qpos = g.o('Range', [P, T, g.ints(1)]);
  const kpos = g.o('Range', [g.ints(0), T, g.ints(1)]);
  const qCol = g.o('Unsqueeze', [qpos, g.ints([1])]);
  const kRow = g.o('Unsqueeze', [kpos, g.ints([0])]);
  return { idsShape, S, T, P, qCol, kRow };
}

/** Additive mask [batch, 1, S, T]: 0 where visible, −3e38 elsewhere. */
export function attentionBias(g: GraphBuilder, p: ReturnType<typeof decoderPrelude>, window: number | null): string {
  let visible = g.o('LessOrEqual', [p.kRow, p.qCol]);
  if (window !== null) {
    visible = g.o('And', [visible, g.o('Less', [g.o('Sub', [p.qCol, p.kRow]), g.ints(window)])]);
  }
  const pad = g.o('Unsqueeze', [g.o('Cast', ['attention_mask'], { to: DT.BOOL }), g.ints([1, 2])]);
  return g.o('Where', [g.o('And', [visible, pad]), g.float(0), g.float(-3e38)]);
}

/**
 * Scaled dot-product attention with a cache for one layer. q [B,S,Hq,D], k and v [B,S,Hkv,D] (after
 * RoPE); returns [B,S,Hq·D] and writes present.{l}.*.
 */
export function cachedAttention(
  g: GraphBuilder,
  p: ReturnType<typeof decoderPrelude>,
  l: number,
  x: { q: string; k: string; v: string; bias: string },
  heads: { q: number; kv: number; d: number },
): string {
  const perm = { perm: [0, 2, 1, 3] };
  const q = g.o('Transpose', [x.q], perm);
  const k = g.o('Concat', [pastName(l, 'key'), g.o('Transpose', [x.k], perm)], { axis: 2 });
  const v = g.o('Concat', [pastName(l, 'value'), g.o('Transpose', [x.v], perm)], { axis: 2 });
  g.op('Identity', [k], {}, [presentName(l, 'key')]);
  g.op('Identity', [v], {}, [presentName(l, 'value')]);
  let kk = k;
  let vv = v;
  const group = heads.q / heads.kv;
  if (group > 1) {
    // [B, Hkv, T, D] → [B, Hkv, group, T, D] → [B, Hq, T, D]: query head h reads kv head h / group.
    const b = g.o('Slice', [p.idsShape, g.ints([0]), g.ints([1])]);
    const t = g.o('Unsqueeze', [p.T, g.ints([0])]);
    const shape = g.o('Concat', [b, g.ints([heads.kv, group]), t, g.ints([heads.d])], { axis: 0 });
    const rep = (y: string) =>
      g.o('Reshape', [g.o('Expand', [g.o('Unsqueeze', [y, g.ints([2])]), shape]), g.ints([0, heads.q, -1, heads.d])]);
    kk = rep(k);
    vv = rep(v);
  }
  const scores = g.o('Mul', [
    g.o('MatMul', [q, g.o('Transpose', [kk], { perm: [0, 1, 3, 2] })]),
    g.float(1 / Math.sqrt(heads.d)),
  ]);
  const probs = g.o('Softmax', [g.o('Add', [scores, x.bias])], { axis: -1 });
  const out = g.o('Transpose', [g.o('MatMul', [probs, vv])], perm);
  return g.o('Reshape', [out, g.ints([0, 0, heads.q * heads.d])]);
}

/** Graph inputs and outputs of a decoder with `layers` layers. */
export function decoderIo(layers: number, kvHeads: number, headDim: number, vocab: number) {
  const inputs = [
    valueInfo('input_ids', DT.INT64, ['batch_size', 'sequence_length']),
    valueInfo('attention_mask', DT.INT64, ['batch_size', 'total_sequence_length']),
    valueInfo('position_ids', DT.INT64, ['batch_size', 'sequence_length']),
  ];
  const outputs = [valueInfo('logits', DT.FLOAT, ['batch_size', 'sequence_length', vocab])];
  for (let l = 0; l < layers; l++) {
    for (const kv of ['key', 'value'] as const) {
      inputs.push(valueInfo(pastName(l, kv), DT.FLOAT, ['batch_size', kvHeads, 'past_sequence_length', headDim]));
      outputs.push(valueInfo(presentName(l, kv), DT.FLOAT, ['batch_size', kvHeads, 'total_sequence_length', headDim]));
    }
  }
  return { inputs, outputs };
}

export function encodeGraph(g: GraphBuilder, io: ReturnType<typeof decoderIo>, name: string): Uint8Array {
  return encodeModel({
    irVersion: 8,
    producerName: 'lorabook',
    producerVersion: '0.1.0',
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name, node: g.nodes, initializer: g.initializers, input: io.inputs, output: io.outputs },
  });
}

/** Initializer bytes above which the export uses ONNX's external data format (protobuf stops at 2 GiB). */
export const EXTERNAL_DATA_THRESHOLD = 1.5 * 2 ** 30;
export const EXTERNAL_DATA_FILE = 'model.onnx_data';

/**
 * The graph as onnx/model.onnx, with the initializers' bytes inline or, when `external` (default: above
 * EXTERNAL_DATA_THRESHOLD), in onnx/model.onnx_data (each at an offset aligned to 64 bytes) as the
 * external data format describes: data_location EXTERNAL and location/offset/length entries.
 */
export function encodeGraphFiles(
  g: GraphBuilder,
  io: ReturnType<typeof decoderIo>,
  name: string,
  external?: boolean,
): ExportFile[] {
  const bytes = g.initializers.reduce((a, t) => a + (t.rawData?.byteLength ?? 0), 0);
  if (!(external ?? bytes > EXTERNAL_DATA_THRESHOLD))
    return [{ path: 'onnx/model.onnx', bytes: encodeGraph(g, io, name) }];
  const align = (n: number) => Math.ceil(n / 64) * 64;
  let size = 0;
  for (const t of g.initializers) size = align(size) + (t.rawData?.byteLength ?? 0);
  const data = new Uint8Array(size);
  let offset = 0;
  for (const t of g.initializers) {
    const raw = t.rawData ?? new Uint8Array(0);
    offset = align(offset);
    data.set(raw, offset);
    t.externalData = [
      { key: 'location', value: EXTERNAL_DATA_FILE },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.byteLength) },
    ];
    t.dataLocation = 1;
    delete t.rawData;
    offset += raw.byteLength;
  }
  return [
    { path: 'onnx/model.onnx', bytes: encodeGraph(g, io, name) },
    { path: `onnx/${EXTERNAL_DATA_FILE}`, bytes: data },
  ];
}

/** The Llama-family graph (Llama, Qwen2, Qwen3, Mistral) from merged weights by HF name. */
export function llamaOnnx(
  spec: ModelSpec,
  weights: Record<string, ArrayLike<number>>,
  o: Pick<OnnxExportOptions, 'maxPositions' | 'onProgress'> = {},
): Uint8Array {
  const { g, io, name } = llamaOnnxGraph(spec, weights, o);
  return encodeGraph(g, io, name);
}

/** The Llama-family graph before encoding. */
export function llamaOnnxGraph(
  spec: ModelSpec,
  weights: Record<string, ArrayLike<number>>,
  o: Pick<OnnxExportOptions, 'maxPositions' | 'onProgress'> = {},
): { g: GraphBuilder; io: ReturnType<typeof decoderIo>; name: string } {
  const g = new GraphBuilder();
  const s = spec;
  const d = s.hiddenSize;
  const hd = s.headDim;
  const get = (n: string) => {
    const w = weights[n];
    if (!w) throw new Error(`merged weights lack ${n}`);
    return w;
  };
  const lin = (name: string, out: number, inF: number, bias: boolean) => ({
    w: g.weight(`${name}.weight`, [inF, out], transpose(get(`${name}.weight`), out, inF)),
    b: bias ? g.weight(`${name}.bias`, [out], get(`${name}.bias`)) : null,
  });
  const vec = (name: string, n: number) => g.weight(name, [n], get(name));
  // RoPE tables [P, D] = cat(cos, cos) and cat(sin, sin), gathered by position_ids → [B, S, 1, D].
  const maxPos = o.maxPositions ?? Math.min(s.maxPositionEmbeddings, 8192);
  const table = ropeTable(Float32Array.from(inverseFrequencies(s)), maxPos);
  const half = hd / 2;
  const cos = new Float32Array(maxPos * hd);
  const sin = new Float32Array(maxPos * hd);
  for (let p = 0; p < maxPos; p++) {
    for (let i = 0; i < half; i++) {
      const c = table[(p * half + i) * 2];
      const sn = table[(p * half + i) * 2 + 1];
      cos[p * hd + i] = cos[p * hd + half + i] = c;
      sin[p * hd + i] = sin[p * hd + half + i] = sn;
    }
  }
  const pre = decoderPrelude(g);
  const bias = attentionBias(g, pre, s.slidingWindow);
  const gatherPos = (tab: string) => g.o('Unsqueeze', [g.o('Gather', [tab, 'position_ids'], { axis: 0 }), g.ints([2])]);
  const cosB = gatherPos(g.weight('rope.cos', [maxPos, hd], cos));
  const sinB = gatherPos(g.weight('rope.sin', [maxPos, hd], sin));
  const rope = (x: string) => g.o('Add', [g.o('Mul', [x, cosB]), g.o('Mul', [g.rotateHalf(x, hd), sinB])]);
  let x = g.o(
    'Gather',
    [g.weight('model.embed_tokens.weight', [s.vocabSize, d], get('model.embed_tokens.weight')), 'input_ids'],
    {
      axis: 0,
    },
  );
  const hq = s.numHeads * hd;
  const hkv = s.numKvHeads * hd;
  const I = s.intermediateSize;
  for (let l = 0; l < s.numLayers; l++) {
    o.onProgress?.(l, s.numLayers, `layer ${l}`);
    const p = `model.layers.${l}`;
    const h = g.rmsnorm(x, vec(`${p}.input_layernorm.weight`, d), s.rmsNormEps);
    const split = (y: string, heads: number) => g.o('Reshape', [y, g.ints([0, 0, heads, hd])]);
    const Q = lin(`${p}.self_attn.q_proj`, hq, d, s.qkvBias);
    const K = lin(`${p}.self_attn.k_proj`, hkv, d, s.qkvBias);
    const V = lin(`${p}.self_attn.v_proj`, hkv, d, s.qkvBias);
    let q = split(g.linear(h, Q.w, Q.b), s.numHeads);
    let k = split(g.linear(h, K.w, K.b), s.numKvHeads);
    const v = split(g.linear(h, V.w, V.b), s.numKvHeads);
    if (s.qkNorm) {
      q = g.rmsnorm(q, vec(`${p}.self_attn.q_norm.weight`, hd), s.rmsNormEps);
      k = g.rmsnorm(k, vec(`${p}.self_attn.k_norm.weight`, hd), s.rmsNormEps);
    }
    const att = cachedAttention(
      g,
      pre,
      l,
      { q: rope(q), k: rope(k), v, bias },
      { q: s.numHeads, kv: s.numKvHeads, d: hd },
    );
    const O = lin(`${p}.self_attn.o_proj`, d, hq, s.oBias);
    x = g.o('Add', [x, g.linear(att, O.w, O.b)]);
    const h2 = g.rmsnorm(x, vec(`${p}.post_attention_layernorm.weight`, d), s.rmsNormEps);
    const G = lin(`${p}.mlp.gate_proj`, I, d, s.mlpBias);
    const U = lin(`${p}.mlp.up_proj`, I, d, s.mlpBias);
    const D = lin(`${p}.mlp.down_proj`, d, I, s.mlpBias);
    const gate = g.linear(h2, G.w, G.b);
    const act = g.o('Mul', [g.o('Mul', [gate, g.o('Sigmoid', [gate])]), g.linear(h2, U.w, U.b)]);
    x = g.o('Add', [x, g.linear(act, D.w, D.b)]);
  }
  const hf = g.rmsnorm(x, vec('model.norm.weight', d), s.rmsNormEps);
  const headName = s.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  const head = g.weight('lm_head.weight.T', [d, s.vocabSize], transpose(get(headName), s.vocabSize, d));
  g.op('MatMul', [hf, head], {}, ['logits']);
  o.onProgress?.(s.numLayers, s.numLayers, 'encoding');
  return { g, io: decoderIo(s.numLayers, s.numKvHeads, hd, s.vocabSize), name: `${s.modelType} (lorabook)` };
}

/** The exported folder: config.json, generation_config.json, tokenizer files and onnx/model.onnx. */
export function exportOnnx(
  spec: ModelSpec,
  weights: Record<string, ArrayLike<number>>,
  o: OnnxExportOptions,
): ExportFile[] {
  const { g, io, name } = llamaOnnxGraph(spec, weights, o);
  const enc = new TextEncoder();
  const files: ExportFile[] = [
    jsonFile('config.json', { ...o.config, torch_dtype: 'float32' }),
    jsonFile('generation_config.json', generationConfigOf(spec, o.generationConfig)),
    ...encodeGraphFiles(g, io, name, o.externalData),
  ];
  for (const [path, c] of Object.entries(o.tokenizerFiles ?? {})) {
    files.push({ path, bytes: typeof c === 'string' ? enc.encode(c) : c });
  }
  return files;
}
