// The memory planner: a closed-form estimate of the GPU bytes a LoRA/QLoRA (or full) training step needs,
// from the model config, the storage type of the frozen weights, the LoRA config, batch, sequence length
// and gradient checkpointing. It shares no code with the allocator: it restates, as arithmetic, what
// the engine keeps (weights, adapters, gradients, AdamW moments, activations, the chunked LM head), so a
// test can hold the two against each other (within 15% of the bytes measured at device.createBuffer).
//
// Units: N = batch·seq tokens, D hidden, I intermediate, Hq = heads·head_dim, Hkv = kv_heads·head_dim,
// V vocabulary, C = min(vocab chunk, V), r LoRA rank. Activations are float32 (the engine computes in f32).
// The engine's buffer pool keeps released buffers for reuse by exact size, so the bytes a step creates
// are the high-water mark of live + pooled buffers:
//   without checkpointing every layer's activations live until its backward;
//   with checkpointing one layer's activations (reused layer after layer), each layer's input, and one
//   recomputed output per layer (held to the end of the step).
// Weight storage: 'f32' and 'f16' keep every tensor in that type; 'nf4' keeps the decoder's linear weights
// as NF4 (n/2 bytes + absmax: 4 bytes per 64 values, or double-quantized 1 byte per 64 + 4 per 16384 +
// the 1 KiB code) and the rest (embeddings, norms, biases, lm_head) as f16. Today's engine uploads f32
// weights; f16 and NF4 storage on the GPU come with the QLoRA kernels, and the formula plans them ahead.

import type { ModelSpec } from '../model/config.ts';
import { layerLinears, resolveLoraTargets, type LoraConfig } from '../model/lora.ts';

export type WeightStorage = 'f32' | 'f16' | 'nf4';

export interface PlanRequest {
  spec: ModelSpec;
  storage: WeightStorage;
  mode?: 'lora' | 'full';
  lora?: Pick<LoraConfig, 'r' | 'targetModules' | 'dropout'> & Partial<LoraConfig>;
  batch: number;
  seq: number;
  checkpointing: boolean;
  /** Vocabulary columns per LM-head chunk (the engine's default 8192). */
  vocabChunk?: number;
  /** Positions in the RoPE table (the engine's default: max_position_embeddings, at most 8192). */
  maxPositions?: number;
  /** NF4 absmax double-quantized (default true). */
  doubleQuant?: boolean;
}

export interface MemoryBreakdown {
  /** Frozen (or, in full mode, trained) base weights. */
  weights: number;
  /** LoRA A and B. */
  adapters: number;
  /** Gradients of every trainable tensor. */
  gradients: number;
  /** AdamW first and second moments. */
  optimizer: number;
  /** Decoder activations kept for the backward, and its temporaries. */
  activations: number;
  /** The fused LM head: one logits chunk, one weight chunk, row statistics. */
  lmHead: number;
  /** RoPE table, token uploads, small buffers. */
  other: number;
}

export interface MemoryPlan {
  request: PlanRequest;
  totalBytes: number;
  breakdown: MemoryBreakdown;
  /** The largest single buffer (checked against maxBufferSize / maxStorageBufferBindingSize). */
  largestBuffer: { label: string; bytes: number };
  trainableParameters: number;
}

const F32 = 4;

/** Bytes of an NF4 tensor of n values: codes plus absmax (plain or double-quantized). */
export function nf4Bytes(n: number, doubleQuant = true): number {
  const blocks = Math.ceil(n / 64);
  const stats = doubleQuant ? blocks + 4 * Math.ceil(blocks / 256) + 4 * 256 + 4 : 4 * blocks;
  return Math.ceil(n / 2) + stats;
}

interface WeightTensor {
  name: string;
  n: number;
  linear: boolean;
}

function weightTensors(spec: ModelSpec): WeightTensor[] {
  const d = spec.hiddenSize;
  const out: WeightTensor[] = [{ name: 'model.embed_tokens.weight', n: spec.vocabSize * d, linear: false }];
  const hq = spec.numHeads * spec.headDim;
  const hkv = spec.numKvHeads * spec.headDim;
  for (let l = 0; l < spec.numLayers; l++) {
    out.push({ name: 'norms', n: 2 * d + (spec.qkNorm ? 2 * spec.headDim : 0), linear: false });
    for (const m of layerLinears(spec)) out.push({ name: `${m.name}.weight`, n: m.in * m.out, linear: true });
    const bias =
      (spec.qkvBias ? hq + 2 * hkv : 0) + (spec.oBias ? d : 0) + (spec.mlpBias ? 2 * spec.intermediateSize + d : 0);
    if (bias) out.push({ name: 'biases', n: bias, linear: false });
  }
  out.push({ name: 'model.norm.weight', n: d, linear: false });
  if (!spec.tieWordEmbeddings) out.push({ name: 'lm_head.weight', n: spec.vocabSize * d, linear: false });
  return out;
}

/** Bytes of the model's weights in a storage type (also what the weight cache stores). */
export function storedWeightBytes(spec: ModelSpec, storage: WeightStorage, doubleQuant = true): number {
  let bytes = 0;
  for (const t of weightTensors(spec)) {
    if (storage === 'f32') bytes += F32 * t.n;
    else if (storage === 'nf4' && t.linear) bytes += nf4Bytes(t.n, doubleQuant);
    else bytes += 2 * t.n;
  }
  return bytes;
}

export function planMemory(req: PlanRequest): MemoryPlan {
  const s = req.spec;
  const mode = req.mode ?? 'lora';
  const N = req.batch * req.seq;
  const D = s.hiddenSize;
  const I = s.intermediateSize;
  const L = s.numLayers;
  const Hq = s.numHeads * s.headDim;
  const Hkv = s.numKvHeads * s.headDim;
  const V = s.vocabSize;
  const C = Math.min(req.vocabChunk ?? 8192, V);
  const wBytes = req.storage === 'f32' ? 4 : 2; // element size of the non-NF4 weights

  const weights =
    mode === 'full' ? storedWeightBytes(s, 'f32') : storedWeightBytes(s, req.storage, req.doubleQuant ?? true);

  // Adapters: A [r, in] and B [out, r] per target module; their gradients and AdamW moments.
  let loraParams = 0;
  let loraRowsPerLayer = 0; // Σ r over one layer's targets (x·Aᵀ is [N, r])
  let dropoutInputsPerLayer = 0; // Σ in over one layer's targets (dropout(x) is [N, in])
  let targetsPerLayer = 0;
  if (mode === 'lora') {
    if (!req.lora) throw new Error('a LoRA plan needs a LoRA config');
    const cfg = { alpha: 16, useRslora: false, bias: 'none' as const, ...req.lora };
    const targets = resolveLoraTargets(s, cfg);
    for (const t of targets) loraParams += cfg.r * (t.in + t.out);
    const first = targets.filter((t) => t.layer === targets[0].layer);
    targetsPerLayer = first.length;
    loraRowsPerLayer = cfg.r * first.length;
    if (cfg.dropout > 0) dropoutInputsPerLayer = first.reduce((a, t) => a + t.in, 0);
  }
  const trainable = mode === 'full' ? weightTensors(s).reduce((a, t) => a + t.n, 0) : loraParams;
  const adapters = F32 * loraParams;
  const gradients = F32 * trainable;
  const optimizer = 2 * F32 * trainable + 2 * F32; // m, v; the [norm, clip] stats

  // One layer's forward activations: h1, xMid, h2 [N, D]; q, attention [N, Hq]; k, v [N, Hkv]; gate, up,
  // SwiGLU [N, I]; two rstd [N]; logsumexp [batch, heads, seq]; Qwen3's normed q/k and their rstd.
  const qk = s.qkNorm ? N * (Hq + Hkv) + N * (s.numHeads + s.numKvHeads) : 0;
  const actsLayer = F32 * (N * (3 * D + 2 * Hq + 2 * Hkv + 3 * I + 2) + N * s.numHeads + qk);
  const loraLayer = F32 * N * loraRowsPerLayer;
  // Dropout keeps dropout(x) per target from the forward, and three [N, in] temporaries per target in the
  // backward, until the step ends (an upper estimate: some reuse released buffers).
  const dropoutLayer = F32 * N * dropoutInputsPerLayer;
  // One layer's backward temporaries: d SwiGLU [N, I], d h2 and d h1 [N, D], d attention and dq [N, Hq],
  // dk and dv [N, Hkv], Qwen3's pre-norm dq/dk, the attention delta [batch, heads, seq], d(x·Aᵀ) [N, r].
  const bwdLayer =
    F32 * (N * (I + 2 * D + 2 * Hq + 2 * Hkv) + N * s.numHeads + (s.qkNorm ? N * (Hq + Hkv) : 0)) + loraLayer;
  const inputs = F32 * N * D * (L + 1); // each layer's input and the last output
  const dx = F32 * N * D;
  let activations: number;
  if (req.checkpointing) {
    // One layer's activations at a time, each layer's input, one recomputed output per layer.
    activations = inputs + actsLayer + loraLayer + bwdLayer + dx + F32 * N * D * L + dropoutLayer * (L + 3 * L);
  } else {
    activations = inputs + L * (actsLayer + loraLayer) + bwdLayer + dx + dropoutLayer * (L + 3 * L);
  }
  if (mode === 'full') activations += F32 * N * D; // norm weight gradients by row

  // LM head: final norm output and its gradient [N, D], rstd, logits chunk [N, C], weight chunk [C, D],
  // statistics [N, 4], logsumexp and row losses [N]; full mode adds the weight-gradient chunk.
  const lmHead =
    F32 * (2 * N * D + N + N * C + 4 * N + 2 * N + 1) + wBytes * C * D + (mode === 'full' ? F32 * C * D : 0);

  // RoPE table [positions, head_dim/2, 2]; token ids, labels, positions, segments (pool buffer + staging).
  const positions = req.maxPositions ?? Math.min(s.maxPositionEmbeddings, 8192);
  const other = F32 * positions * s.headDim + 2 * 4 * F32 * N + F32 * (targetsPerLayer * L + 8);

  const breakdown: MemoryBreakdown = { weights, adapters, gradients, optimizer, activations, lmHead, other };
  const totalBytes = Object.values(breakdown).reduce((a, b) => a + b, 0);

  const weightElem = mode === 'full' ? F32 : wBytes;
  const widestLinear = Math.max(...layerLinears(s).map((m) => m.in * m.out));
  const candidates: { label: string; bytes: number }[] = [
    { label: 'model.embed_tokens.weight', bytes: weightElem * V * D },
    { label: 'logits chunk', bytes: F32 * N * C },
    { label: 'MLP activation', bytes: F32 * N * I },
    {
      label: 'largest linear weight',
      bytes: req.storage === 'nf4' && mode === 'lora' ? Math.ceil(widestLinear / 2) : weightElem * widestLinear,
    },
  ];
  const largestBuffer = candidates.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  return { request: req, totalBytes, breakdown, largestBuffer, trainableParameters: trainable };
}
