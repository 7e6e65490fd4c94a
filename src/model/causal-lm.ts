// What every engine model (Llama family, GPT-2) offers the trainer, the generator and the exporters:
// the trainable parameters, one micro-batch of forward (+ backward), full logits for small checks,
// adapter merging and the weights with adapters folded in. One interface so the code above the model
// never branches on the architecture.

import type { Step } from '../gpu/step.ts';
import type { Tensor } from '../gpu/tensor.ts';
import type { TokenBatch } from './llama-gpu.ts';
import type { Linear, Param } from './linear.ts';

export interface MicroStepOptions {
  /** 1 / the non-ignored labels of the whole accumulated step. */
  invCount: number;
  /** [1]: receives (or, with accumulateLoss, adds) this micro-batch's share of the loss. */
  loss: Tensor;
  accumulateLoss: boolean;
  backward: boolean;
  /** Dropout on (training) or off (evaluation). */
  train: boolean;
  /** Counter of micro-batches in the run: dropout streams differ per micro-batch. */
  microStep: number;
  /** [batch·seq]: per-token losses, unscaled. */
  rowLoss?: Tensor;
}

export interface CausalLmModel {
  readonly trainable: Param[];
  /** Sliding attention window in tokens (Mistral), or null (full causal attention). */
  readonly attentionWindow: number | null;
  zeroGrads(step: Step): void;
  microStep(step: Step, b: TokenBatch, o: MicroStepOptions): Promise<void>;
  logits(b: TokenBatch): Promise<Float32Array>;
  linears(): Linear[];
  setMerged(merged: boolean): Promise<void>;
  mergedWeights(): Promise<Record<string, Float32Array>>;
  dispose(): void;
}
