// ONNX export of a merged GPT-2 (GPT2LMHeadModel) in the same causal-LM-with-past graph shape as the
// Llama family (see onnx.ts): learned positions gathered by position_ids, LayerNormalization (opset 17)
// with bias, Conv1D weights used as stored ([in, out]), c_attn split into q/k/v, gelu_new written out
// with Tanh, and the head tied to wte.

import type { Gpt2Spec } from '../model/gpt2-config.ts';
import { generationConfigOf, jsonFile, type ExportFile } from './hub-model.ts';
import {
  attentionBias,
  cachedAttention,
  decoderIo,
  decoderPrelude,
  encodeGraph,
  encodeGraphFiles,
  transpose,
  type OnnxExportOptions,
} from './onnx.ts';
import { GraphBuilder } from './onnx-graph.ts';

export function gpt2OnnxGraph(
  spec: Gpt2Spec,
  weights: Record<string, ArrayLike<number>>,
  o: Pick<OnnxExportOptions, 'onProgress'> = {},
): { g: GraphBuilder; io: ReturnType<typeof decoderIo>; name: string } {
  const g = new GraphBuilder();
  const s = spec;
  const d = s.hiddenSize;
  const m = s.intermediateSize;
  const get = (n: string) => {
    const w = weights[n];
    if (!w) throw new Error(`merged weights lack ${n}`);
    return w;
  };
  const w = (n: string, dims: number[]) => g.weight(n, dims, get(n));
  const ln = (x: string, name: string) =>
    g.o('LayerNormalization', [x, w(`${name}.weight`, [d]), w(`${name}.bias`, [d])], {
      axis: -1,
      epsilon: { float: s.layerNormEps },
    });
  const conv = (x: string, path: string, inF: number, outF: number) =>
    g.linear(x, w(`${path}.weight`, [inF, outF]), w(`${path}.bias`, [outF]));
  const pre = decoderPrelude(g);
  const bias = attentionBias(g, pre, null);
  let x = g.o('Add', [
    g.o('Gather', [w('transformer.wte.weight', [s.vocabSize, d]), 'input_ids'], { axis: 0 }),
    g.o('Gather', [w('transformer.wpe.weight', [s.maxPositionEmbeddings, d]), 'position_ids'], { axis: 0 }),
  ]);
  const heads = { q: s.numHeads, kv: s.numHeads, d: s.headDim };
  for (let l = 0; l < s.numLayers; l++) {
    o.onProgress?.(l, s.numLayers, `layer ${l}`);
    const p = `transformer.h.${l}`;
    const qkv = conv(ln(x, `${p}.ln_1`), `${p}.attn.c_attn`, d, 3 * d);
    const [q, k, v] = g
      .op('Split', [qkv, g.ints([d, d, d])], { axis: -1 }, 3)
      .map((t) => g.o('Reshape', [t, g.ints([0, 0, s.numHeads, s.headDim])]));
    const att = cachedAttention(g, pre, l, { q, k, v, bias }, heads);
    x = g.o('Add', [x, conv(att, `${p}.attn.c_proj`, d, d)]);
    const h = conv(ln(x, `${p}.ln_2`), `${p}.mlp.c_fc`, d, m);
    const cube = g.o('Mul', [h, g.o('Mul', [h, h])]);
    const inner = g.o('Mul', [g.float(Math.sqrt(2 / Math.PI)), g.o('Add', [h, g.o('Mul', [g.float(0.044715), cube])])]);
    const act = g.o('Mul', [g.o('Mul', [g.float(0.5), h]), g.o('Add', [g.float(1), g.o('Tanh', [inner])])]);
    x = g.o('Add', [x, conv(act, `${p}.mlp.c_proj`, m, d)]);
  }
  const hf = ln(x, 'transformer.ln_f');
  const head = g.weight('lm_head.weight.T', [d, s.vocabSize], transpose(get('transformer.wte.weight'), s.vocabSize, d));
  g.op('MatMul', [hf, head], {}, ['logits']);
  o.onProgress?.(s.numLayers, s.numLayers, 'encoding');
  return { g, io: decoderIo(s.numLayers, s.numHeads, s.headDim, s.vocabSize), name: 'gpt2 (lorabook)' };
}

export function gpt2Onnx(
  spec: Gpt2Spec,
  weights: Record<string, ArrayLike<number>>,
  o: Pick<OnnxExportOptions, 'onProgress'> = {},
): Uint8Array {
  const { g, io, name } = gpt2OnnxGraph(spec, weights, o);
  return encodeGraph(g, io, name);
}

export function exportGpt2Onnx(
  spec: Gpt2Spec,
  weights: Record<string, ArrayLike<number>>,
  o: OnnxExportOptions,
): ExportFile[] {
  const enc = new TextEncoder();
  const gen = generationConfigOf(
    { bosTokenId: spec.bosTokenId, eosTokenIds: spec.eosTokenIds } as never,
    o.generationConfig,
  );
  const files: ExportFile[] = [
    jsonFile('config.json', { ...o.config, torch_dtype: 'float32' }),
    jsonFile('generation_config.json', gen),
    ...(() => {
      const { g, io, name } = gpt2OnnxGraph(spec, weights, o);
      return encodeGraphFiles(g, io, name, o.externalData);
    })(),
  ];
  for (const [path, c] of Object.entries(o.tokenizerFiles ?? {}))
    files.push({ path, bytes: typeof c === 'string' ? enc.encode(c) : c });
  return files;
}
