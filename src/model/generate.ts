// Text generation over any TokenDecoder (the engine's KV-cache decoders, a full-prefix recompute, an ONNX
// session): logits processors with Hugging Face's semantics, greedy or seeded sampling, EOS and stop
// tokens from generation_config.json, and a streaming callback per token.
// Order and definitions follow transformers' generate: repetition penalty (on the prompt and every
// generated token: a logit < 0 is multiplied by the penalty, otherwise divided), then with sampling
// temperature (logits / T), top-k (keep every logit ≥ the k-th largest) and top-p (sort ascending, drop
// the tokens whose cumulative probability is ≤ 1 − p, always keep the most likely one). Greedy takes the
// first maximum. Sampling draws u ∈ [0, 1) from Philox(seed, step), so a seed gives the same text on
// every host.

import { philox4x32, uniform01 } from '../reference/random.ts';

/** Appends tokens to one sequence and returns the last token's logits [vocab]. */
export interface TokenDecoder {
  readonly vocabSize: number;
  readonly maxLength: number;
  reset(): void;
  append(ids: readonly number[]): Promise<Float32Array>;
}

export interface GenerationOptions {
  maxNewTokens: number;
  doSample: boolean;
  temperature: number;
  /** 0 turns top-k off. */
  topK: number;
  /** 1 turns top-p off. */
  topP: number;
  repetitionPenalty: number;
  eosTokenIds: number[];
  /** Extra tokens that end generation (included in the output, like EOS). */
  stopTokenIds: number[];
  seed: number;
}

/** transformers' GenerationConfig defaults (max_length 20 aside: lorabook counts new tokens). */
export const DEFAULT_GENERATION: GenerationOptions = {
  maxNewTokens: 20,
  doSample: false,
  temperature: 1,
  topK: 50,
  topP: 1,
  repetitionPenalty: 1,
  eosTokenIds: [],
  stopTokenIds: [],
  seed: 0,
};

type Json = Record<string, unknown>;

function num(cfg: Json, key: string, fallback: number): number {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`generation_config.${key} must be a number`);
  return v;
}

function ids(v: unknown, key: string): number[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    throw new TypeError(`generation_config.${key} must be a token id or a list of token ids`);
  }
  return list as number[];
}

/**
 * Options from a generation_config.json object (snake_case, as transformers writes it). EOS falls back
 * to the model config's eos_token_id when the file names none.
 */
export function parseGenerationConfig(json: unknown, modelEos: number[] = []): GenerationOptions {
  const cfg = (typeof json === 'object' && json !== null ? json : {}) as Json;
  const eos = ids(cfg.eos_token_id, 'eos_token_id');
  const o: GenerationOptions = {
    ...DEFAULT_GENERATION,
    maxNewTokens: num(cfg, 'max_new_tokens', DEFAULT_GENERATION.maxNewTokens),
    doSample: cfg.do_sample === true,
    temperature: num(cfg, 'temperature', 1),
    topK: num(cfg, 'top_k', 50),
    topP: num(cfg, 'top_p', 1),
    repetitionPenalty: num(cfg, 'repetition_penalty', 1),
    eosTokenIds: eos.length > 0 ? eos : [...modelEos],
  };
  checkOptions(o);
  return o;
}

function checkOptions(o: GenerationOptions): void {
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 0) throw new RangeError('maxNewTokens must be ≥ 0');
  if (!(o.temperature > 0)) throw new RangeError('temperature must be > 0 (use doSample: false for greedy)');
  if (!Number.isInteger(o.topK) || o.topK < 0) throw new RangeError('topK must be a whole number ≥ 0');
  if (!(o.topP > 0 && o.topP <= 1)) throw new RangeError('topP must be in (0, 1]');
  if (!(o.repetitionPenalty > 0)) throw new RangeError('repetitionPenalty must be > 0');
}

/** In place: every token of `seen` (once each) gets logit·penalty when negative, logit/penalty otherwise. */
export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const t of new Set(seen)) logits[t] = logits[t] < 0 ? logits[t] * penalty : logits[t] / penalty;
}

export function applyTemperature(logits: Float32Array, temperature: number): void {
  if (temperature === 1) return;
  for (let i = 0; i < logits.length; i++) logits[i] /= temperature;
}

/** In place: logits below the k-th largest become −∞ (ties with it are kept). */
export function applyTopK(logits: Float32Array, k: number, minKeep = 1): void {
  const kk = Math.min(Math.max(k, minKeep), logits.length);
  if (k === 0 || kk >= logits.length) return;
  const kth = Float32Array.from(logits).sort((a, b) => b - a)[kk - 1];
  for (let i = 0; i < logits.length; i++) if (logits[i] < kth) logits[i] = -Infinity;
}

/** In place: the nucleus of probability ≥ p survives; the rest becomes −∞. */
export function applyTopP(logits: Float32Array, p: number, minKeep = 1): void {
  if (p >= 1) return;
  const order = Array.from(logits.keys()).sort((a, b) => logits[a] - logits[b] || a - b);
  const probs = softmax(Float64Array.from(order, (i) => logits[i]));
  let cum = 0;
  for (let j = 0; j < order.length - minKeep; j++) {
    cum += probs[j];
    if (cum <= 1 - p) logits[order[j]] = -Infinity;
    else break;
  }
}

export function softmax(x: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]);
  const out = new Float64Array(x.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += out[i] = x[i] === -Infinity ? 0 : Math.exp(x[i] - m);
  for (let i = 0; i < x.length; i++) out[i] /= sum;
  return out;
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** The uniform draw of sampling step `index` under `seed`. */
export function samplingUniform(seed: number, index: number): number {
  const w = philox4x32(
    [index >>> 0, Math.floor(index / 2 ** 32) >>> 0, 0x5a3, 0],
    [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0],
  );
  return uniform01(w[0]);
}

/** Applies the processors to a copy of `logits` and picks the next token. */
export function nextToken(logits: Float32Array, context: readonly number[], o: GenerationOptions, index: number) {
  const x = Float32Array.from(logits);
  applyRepetitionPenalty(x, context, o.repetitionPenalty);
  if (!o.doSample) return argmax(x);
  applyTemperature(x, o.temperature);
  applyTopK(x, o.topK);
  applyTopP(x, o.topP);
  const probs = softmax(x);
  const u = samplingUniform(o.seed, index);
  let cum = 0;
  let last = 0;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] === 0) continue;
    last = i;
    cum += probs[i];
    if (u < cum) return i;
  }
  return last;
}

export interface GenerationResult {
  /** The new tokens (an EOS or stop token that ended generation included). */
  tokens: number[];
  finishReason: 'eos' | 'stop' | 'length' | 'aborted';
}

/**
 * Generates after `prompt` (token ids). `onToken` sees every new token as soon as it is chosen and may
 * return false to stop early.
 */
export async function generate(
  decoder: TokenDecoder,
  prompt: readonly number[],
  options: Partial<GenerationOptions> = {},
  onToken?: (token: number, index: number) => boolean | void,
): Promise<GenerationResult> {
  const o: GenerationOptions = { ...DEFAULT_GENERATION, ...options };
  checkOptions(o);
  if (prompt.length === 0) throw new RangeError('generation needs a prompt of at least one token');
  const maxNew = Math.min(o.maxNewTokens, decoder.maxLength - prompt.length);
  if (maxNew < 0) throw new RangeError(`the prompt is longer than the ${decoder.maxLength} tokens the cache holds`);
  decoder.reset();
  const context = [...prompt];
  const tokens: number[] = [];
  if (maxNew === 0) return { tokens, finishReason: 'length' };
  let logits = await decoder.append(prompt);
  for (let i = 0; ; i++) {
    const t = nextToken(logits, context, o, i);
    tokens.push(t);
    context.push(t);
    if (onToken?.(t, i) === false) return { tokens, finishReason: 'aborted' };
    if (o.eosTokenIds.includes(t)) return { tokens, finishReason: 'eos' };
    if (o.stopTokenIds.includes(t)) return { tokens, finishReason: 'stop' };
    if (tokens.length >= maxNew) return { tokens, finishReason: 'length' };
    logits = await decoder.append([t]);
  }
}
