// The learning rate of each optimizer step: linear warmup from 0, then constant, linear decay to 0, or a
// half cosine to 0 over the remaining steps. The semantics are Hugging Face transformers'
// get_constant_schedule_with_warmup, get_linear_schedule_with_warmup and get_cosine_schedule_with_warmup
// (num_cycles = 0.5): the multiplier is a function of the number of updates already taken, s = 0, 1, ...,
// so the first update uses s = 0 (lr 0 when there is a warmup, as in HF, whose scheduler steps after the
// optimizer), and the decay reaches 0 at s = totalSteps.

import type { LrSchedule } from './run-types.ts';

export interface ScheduleSpec {
  schedule: LrSchedule;
  /** Peak learning rate. */
  lr: number;
  warmupSteps: number;
  /** Optimizer steps in the whole run (HF's num_training_steps). */
  totalSteps: number;
}

/** HF's lr_lambda: the multiplier of the peak rate after `s` updates. */
export function lrMultiplier(spec: Omit<ScheduleSpec, 'lr'>, s: number): number {
  const { warmupSteps: w, totalSteps: t } = spec;
  if (!Number.isInteger(s) || s < 0) throw new RangeError(`schedule step must be a non-negative integer, got ${s}`);
  if (!Number.isInteger(w) || w < 0) throw new RangeError(`warmupSteps must be a non-negative integer, got ${w}`);
  if (s < w) return s / Math.max(1, w);
  switch (spec.schedule) {
    case 'constant':
      return 1;
    case 'linear':
      return Math.max(0, (t - s) / Math.max(1, t - w));
    case 'cosine': {
      const progress = (s - w) / Math.max(1, t - w);
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
    default:
      throw new RangeError(`unknown learning-rate schedule ${String(spec.schedule)}`);
  }
}

/** The learning rate of optimizer step `step` (1-based, as StepMetrics counts): lr · multiplier(step − 1). */
export function lrAtStep(spec: ScheduleSpec, step: number): number {
  if (!Number.isInteger(step) || step < 1) throw new RangeError(`step must be an integer ≥ 1, got ${step}`);
  return spec.lr * lrMultiplier(spec, step - 1);
}
