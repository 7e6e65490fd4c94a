// The Hugging Face tensor names and shapes a ModelSpec expects in its safetensors, [out, in] for every
// Linear as PyTorch stores it. Why keep the Hub's names: checkpoints, adapters and exports diff by key, and
// the loader checks a download against this list before allocating anything.

import type { ModelSpec } from './config.ts';

export interface ExpectedTensor {
  name: string;
  shape: number[];
}

export function expectedTensorNames(spec: ModelSpec): ExpectedTensor[] {
  const h = spec.hiddenSize;
  const q = spec.numHeads * spec.headDim;
  const kv = spec.numKvHeads * spec.headDim;
  const m = spec.intermediateSize;
  const out: ExpectedTensor[] = [{ name: 'model.embed_tokens.weight', shape: [spec.vocabSize, h] }];
  const linear = (name: string, outDim: number, inDim: number, bias: boolean): void => {
    out.push({ name: `${name}.weight`, shape: [outDim, inDim] });
    if (bias) out.push({ name: `${name}.bias`, shape: [outDim] });
  };
  for (let i = 0; i < spec.numLayers; i++) {
    const p = `model.layers.${i}`;
    out.push({ name: `${p}.input_layernorm.weight`, shape: [h] });
    linear(`${p}.self_attn.q_proj`, q, h, spec.qkvBias);
    linear(`${p}.self_attn.k_proj`, kv, h, spec.qkvBias);
    linear(`${p}.self_attn.v_proj`, kv, h, spec.qkvBias);
    linear(`${p}.self_attn.o_proj`, h, q, spec.oBias);
    if (spec.qkNorm) {
      out.push({ name: `${p}.self_attn.q_norm.weight`, shape: [spec.headDim] });
      out.push({ name: `${p}.self_attn.k_norm.weight`, shape: [spec.headDim] });
    }
    out.push({ name: `${p}.post_attention_layernorm.weight`, shape: [h] });
    linear(`${p}.mlp.gate_proj`, m, h, spec.mlpBias);
    linear(`${p}.mlp.up_proj`, m, h, spec.mlpBias);
    linear(`${p}.mlp.down_proj`, h, m, spec.mlpBias);
  }
  out.push({ name: 'model.norm.weight', shape: [h] });
  if (!spec.tieWordEmbeddings) out.push({ name: 'lm_head.weight', shape: [spec.vocabSize, h] });
  return out;
}

/** Parameters of the model, counting a tied embedding once (as model.num_parameters() does). */
export function parameterCount(spec: ModelSpec): number {
  let n = 0;
  for (const t of expectedTensorNames(spec)) n += t.shape.reduce((a, b) => a * b, 1);
  return n;
}
