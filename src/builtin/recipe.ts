// The built-in model's pretraining recipe, shared by the script that runs it and the tests that replay
// it: architecture, initialization, hyperparameters, the learning-rate schedule, which chunk and offset
// each batch row reads, and the fixed held-out evaluation rows. Every random choice comes from the
// counter-based Philox RNG keyed by the seed and indexed by (step, row), so step s's batch is a pure
// function of s: a resumed run needs no RNG state, and CI can rebuild the first steps exactly.

import { IGNORE_LABEL, type PackedBatch } from '../data/batch.ts';
import { permutation } from '../data/shuffle.ts';
import type { TextTokenizer } from '../data/tokenizer.ts';
import { expectedTensorNames, parseModelConfig } from '../model/config.ts';
import { philox4x32 } from '../reference/random.ts';
import type { AdamWConfig } from '../reference/optim.ts';
import type { Chunk } from './corpus.ts';

export const BUILTIN_NAME = 'lorabook-tiny';

export const MODEL_CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 1024,
  hidden_size: 128,
  intermediate_size: 352,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 32,
  hidden_act: 'silu',
  max_position_embeddings: 128,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  attention_bias: false,
  attention_dropout: 0.0,
  mlp_bias: false,
  tie_word_embeddings: true,
  initializer_range: 0.02,
  bos_token_id: 1021,
  eos_token_id: 1021,
  pad_token_id: 1021,
  torch_dtype: 'float32',
};

export const SPEC = parseModelConfig(MODEL_CONFIG);

export const RECIPE = {
  seed: 1234,
  /** Rows per step and tokens per row (the context). */
  batch: 8,
  seq: 128,
  steps: 400,
  warmupSteps: 25,
  peakLr: 3e-3,
  /** Cosine decay from peakLr down to this fraction of it at the last step. */
  minLrFraction: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  weightDecay: 0,
  maxGradNorm: 1.0,
  /** Held-out rows evaluated (each one seq tokens from the start of a held-out chunk). */
  evalRows: 32,
  evalEvery: 50,
};

const STREAM_INIT = 0x1417;
const STREAM_ROWS = 0xba7c;
const STREAM_EVAL = 0xe7a1;

const key = (seed: number) => [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0];
const uniform = (w: Uint32Array, i: number) => (w[i] + 0.5) / 2 ** 32;

/**
 * Initial weights: N(0, 0.02) for matrices (Box–Muller over Philox), with the residual outputs (o_proj,
 * down_proj) scaled by 1/√(2·layers) as in GPT-2; ones for the RMSNorm weights.
 */
export function initialWeights(seed = RECIPE.seed): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  const k = key(seed);
  for (const [t, e] of expectedTensorNames(SPEC).entries()) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (e.name.endsWith('norm.weight')) {
      out[e.name] = new Float32Array(n).fill(1);
      continue;
    }
    const residual = /o_proj|down_proj/.test(e.name) ? 1 / Math.sqrt(2 * SPEC.numLayers) : 1;
    const std = MODEL_CONFIG.initializer_range * residual;
    const a = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const w = philox4x32([i, t, STREAM_INIT, 0], k);
      const r = Math.sqrt(-2 * Math.log(uniform(w, 0)));
      a[i] = std * r * Math.cos(2 * Math.PI * uniform(w, 1));
      if (i + 1 < n) a[i + 1] = std * r * Math.sin(2 * Math.PI * uniform(w, 1));
    }
    out[e.name] = a;
  }
  return out;
}

/** Linear warmup to peakLr, then cosine decay to minLrFraction·peakLr at the last step (steps count from 0). */
export function learningRate(step: number, r = RECIPE): number {
  if (step < r.warmupSteps) return (r.peakLr * (step + 1)) / r.warmupSteps;
  const p = Math.min(1, (step - r.warmupSteps) / Math.max(1, r.steps - 1 - r.warmupSteps));
  return r.peakLr * (r.minLrFraction + (1 - r.minLrFraction) * 0.5 * (1 + Math.cos(Math.PI * p)));
}

export function adamwAt(step: number, r = RECIPE): AdamWConfig {
  return { lr: learningRate(step, r), beta1: r.beta1, beta2: r.beta2, eps: r.eps, weightDecay: r.weightDecay };
}

/** A chunk's token ids: <|endoftext|> first when it starts a document, then the text's tokens. */
export function chunkIds(tok: TextTokenizer, chunk: Chunk): number[] {
  const ids = tok.encode(chunk.text);
  return chunk.first ? [MODEL_CONFIG.bos_token_id, ...ids] : ids;
}

/** Where row `row` of step `step` reads: a training chunk and a token offset (given that chunk's length). */
export function rowSource(step: number, row: number, numChunks: number, seed = RECIPE.seed) {
  const w = philox4x32([step, row, STREAM_ROWS, 0], key(seed));
  return {
    chunk: Math.floor(uniform(w, 0) * numChunks),
    offset: (tokens: number) => Math.floor(uniform(w, 1) * Math.max(1, tokens - RECIPE.seq)),
  };
}

/** Rows of `seq` tokens as a batch: labels are the next tokens, ignored past a row's end. */
export function rowsToBatch(rows: readonly (readonly number[])[], seq = RECIPE.seq): PackedBatch {
  const n = rows.length * seq;
  const ids = new Uint32Array(n).fill(MODEL_CONFIG.pad_token_id);
  const labels = new Int32Array(n).fill(IGNORE_LABEL);
  const positions = new Uint32Array(n);
  const segments = new Uint32Array(n);
  rows.forEach((r, i) => {
    for (let t = 0; t < seq; t++) {
      const at = i * seq + t;
      positions[at] = t;
      if (t < r.length) {
        ids[at] = r[t];
        segments[at] = 1;
        if (t + 1 < r.length) labels[at] = r[t + 1];
      }
    }
  });
  return { batch: rows.length, seq, ids, labels, positions, segments };
}

/** Step `step`'s training batch; `idsOf` tokenizes (and may cache) a training chunk by index. */
export function trainBatch(step: number, numChunks: number, idsOf: (chunk: number) => readonly number[]): PackedBatch {
  const rows: number[][] = [];
  for (let r = 0; r < RECIPE.batch; r++) {
    const src = rowSource(step, r, numChunks);
    const ids = idsOf(src.chunk);
    const off = src.offset(ids.length);
    rows.push(ids.slice(off, off + RECIPE.seq + 1));
  }
  return rowsToBatch(rows);
}

/** The held-out chunks evaluated (indices into the held-out chunk list), the same in training and tests. */
export function evalChunks(numHeldOutChunks: number, seed = RECIPE.seed): number[] {
  return Array.from(permutation(numHeldOutChunks, seed, STREAM_EVAL).slice(0, RECIPE.evalRows));
}

/** The evaluation batch: the first seq + 1 tokens of each evaluated held-out chunk. */
export function evalBatch(ids: readonly (readonly number[])[]): PackedBatch {
  return rowsToBatch(ids.map((r) => r.slice(0, RECIPE.seq + 1)));
}
