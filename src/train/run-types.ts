// The plain-data vocabulary of a training run, shared by the trainer (src/train), the checkpoint store
// (src/store), the engine protocol (src/engine), the trainer worker and the notebook (src/ui): what a run
// is configured with, what it reports per step and per evaluation, what a checkpoint holds, and how it
// ended. Everything here is structured-cloneable, so it crosses the worker boundary and the companion's
// WebSocket unchanged.

import type { LoraConfig } from '../model/lora.ts';

export type LrSchedule = 'constant' | 'linear' | 'cosine';

export interface EarlyStopping {
  /** Evaluations without an improvement of more than `threshold` before the run stops. */
  patience: number;
  /** The validation loss must fall below best − threshold to count as an improvement. */
  threshold: number;
}

export interface TrainConfig {
  mode: 'lora' | 'full';
  /** Required when mode is 'lora'. */
  lora?: LoraConfig;
  /**
   * Storage of the frozen base's linear weights under LoRA: 'f32' (default), 'f16' (needs shader-f16) or
   * 'nf4' (QLoRA: fused dequantize-matmul kernels). Full fine-tuning trains an f32 base.
   */
  base?: 'f32' | 'f16' | 'nf4';
  /** Passes over the training split; the run also ends at maxSteps when that comes first. */
  epochs: number;
  /** Optimizer steps in all; 0 = as many as the epochs take. */
  maxSteps: number;
  /** Rows per micro-batch. */
  microBatch: number;
  /** Micro-batches accumulated into one optimizer step. */
  gradAccum: number;
  /** Tokens per row. */
  seq: number;
  /** Pack several examples into one row (segment-aware attention keeps them apart). */
  packing: boolean;
  /** Peak learning rate. */
  lr: number;
  schedule: LrSchedule;
  /** Steps of linear warmup from 0 to lr. */
  warmupSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Global gradient-norm clipping; ≤ 0 for none. */
  maxGradNorm: number;
  /** Seeds LoRA's initialization, dropout and the shuffling of every epoch. */
  seed: number;
  /** Recompute activations in backward instead of keeping them (less memory, more time). */
  checkpointing: boolean;
  /** Evaluate on the validation split every N optimizer steps (0 = only at the end). */
  evalEvery: number;
  /** Evaluate on at most this many validation examples (0 = all). */
  evalExamples: number;
  earlyStopping: EarlyStopping | null;
  /** Write a resumable checkpoint every N optimizer steps (0 = never; the best one is always kept). */
  checkpointEvery: number;
  /** For classification data: the label strings whose scores decide the prediction. */
  labels?: string[];
  /**
   * What the run trains on, set by the engine when a run starts and checked when it resumes (a resume
   * on another model, base or dataset preparation is refused, never continued in silence).
   */
  fingerprint?: RunFingerprint;
}

export interface RunFingerprint {
  /** The model's name and resolved revision. */
  model: string;
  base: 'f32' | 'f16' | 'nf4';
  /** SHA-256 of the dataset's source bytes and the options it was prepared with. */
  dataset: string;
}

/** The optimizer settings every default config starts from (AdamW as PyTorch and PEFT examples use it). */
export const OPTIMIZER_DEFAULTS = {
  weightDecay: 0,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  maxGradNorm: 1,
} as const satisfies Partial<TrainConfig>;

/** Where the run's data reader stands: the epoch and the index of the next example in its shuffled order. */
export interface DataCursor {
  epoch: number;
  index: number;
}

export interface StepMetrics {
  /** The optimizer step just taken (1-based). */
  step: number;
  epoch: number;
  /** Mean loss of the step's trained tokens, before its update. */
  loss: number;
  /** The learning rate the step used. */
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Trained tokens in the step: those with a label, whose loss is taken (for classification, the label's). */
  tokens: number;
  tokensPerSec: number;
  /**
   * Processed tokens in the step: every real (non-padding) token of its rows, prompts included; what the
   * model reads forward and backward. Absent in steps recorded before it existed (older checkpoints).
   */
  rowTokens?: number;
  /** rowTokens per second of the step's wall time; absent where rowTokens is. */
  rowTokensPerSec?: number;
  elapsedMs: number;
  /** Estimated time to the last step, from the recent steps' pace. */
  etaMs: number;
  totalSteps: number;
}

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface EvalMetrics {
  split: 'validation' | 'test';
  /** The optimizer step the evaluation was taken after (0 = before training). */
  step: number;
  examples: number;
  tokens: number;
  loss: number;
  perplexity: number;
  /** Classification only: from the model's scores of the label strings. */
  accuracy?: number;
  macroF1?: number;
  perClass?: Record<string, ClassMetrics>;
  /** Classification only: the share of the most frequent label (what always guessing it scores). */
  majorityBaseline?: number;
}

export interface TrainableCount {
  trainable: number;
  total: number;
  /** trainable / total */
  share: number;
}

export type RunState = 'idle' | 'running' | 'paused' | 'stopping' | 'done' | 'failed';

export interface RunSummary {
  runId: string;
  stoppedBy: 'steps' | 'epochs' | 'early-stopping' | 'user';
  /** Optimizer steps taken in all (across resumes). */
  steps: number;
  bestStep: number | null;
  bestValidationLoss: number | null;
  /** True when the weights at the end are the best checkpoint's, restored. */
  restoredBest: boolean;
  trainable: TrainableCount;
  /** The test split, before training (base) and after (tuned). */
  test: { base: EvalMetrics; tuned: EvalMetrics } | null;
}

/** Run events, streamed as the run goes (the engine wraps them in its EngineEvent). */
export type RunEvent =
  | { type: 'run-state'; runId: string; state: RunState }
  | { type: 'train-step'; runId: string; metrics: StepMetrics }
  | { type: 'eval'; runId: string; metrics: EvalMetrics }
  | { type: 'checkpoint'; runId: string; step: number; kind: CheckpointKind }
  | { type: 'early-stop'; runId: string; step: number; bestStep: number }
  | { type: 'restored-best'; runId: string; bestStep: number };

export type CheckpointKind = 'latest' | 'best';

/** What a checkpoint holds besides tensors: enough to continue the run bit for bit. */
export interface CheckpointState {
  runId: string;
  /** Optimizer steps taken; a resumed run's first step is step + 1. */
  step: number;
  cursor: DataCursor;
  /** Micro-batches run so far (the dropout streams' counter). */
  microStep: number;
  /** The optimizer's update counter. */
  optimizerT: number;
  seed: number;
  bestStep: number | null;
  bestValidationLoss: number | null;
  /** Evaluations since the last improvement (early stopping's count). */
  sinceBest: number;
  config: TrainConfig;
  /** Everything recorded so far, so a resumed run redraws its charts. */
  history: { steps: StepMetrics[]; evals: EvalMetrics[] };
}

export interface CheckpointTensor {
  /** The parameter's name, or 'adam.m.<name>' / 'adam.v.<name>' for its optimizer moments. */
  name: string;
  data: Float32Array;
}

export interface Checkpoint {
  kind: CheckpointKind;
  state: CheckpointState;
  tensors: CheckpointTensor[];
}

/** Where checkpoints go: IndexedDB in the browser (src/store/checkpoints.ts), memory in tests and Node. */
export interface CheckpointStore {
  /** Writes the checkpoint so that a crash mid-write leaves the previous one of its kind loadable. */
  save(checkpoint: Checkpoint): Promise<void>;
  /** The last complete checkpoint of that kind, or null. */
  load(runId: string, kind: CheckpointKind): Promise<Checkpoint | null>;
  delete(runId: string): Promise<void>;
}

/** Checkpoints in memory (tests, the companion without a disk store). Copies in and out. */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly saved = new Map<string, Checkpoint>();

  private static copy(c: Checkpoint): Checkpoint {
    return structuredClone(c);
  }

  save(c: Checkpoint): Promise<void> {
    this.saved.set(`${c.state.runId}\u0000${c.kind}`, MemoryCheckpointStore.copy(c));
    return Promise.resolve();
  }

  load(runId: string, kind: CheckpointKind): Promise<Checkpoint | null> {
    const c = this.saved.get(`${runId}\u0000${kind}`);
    return Promise.resolve(c ? MemoryCheckpointStore.copy(c) : null);
  }

  delete(runId: string): Promise<void> {
    for (const kind of ['latest', 'best'] as const) this.saved.delete(`${runId}\u0000${kind}`);
    return Promise.resolve();
  }
}
