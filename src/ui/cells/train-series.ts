// The train cell's charts as aligned series: steps on x; training loss, learning rate, gradient norm and
// tokens/s (trained, and processed: every real token of the rows) at every step; validation loss only at
// evaluation steps (null between, drawn with its points); marks for early stopping and the restored best
// checkpoint. Steps recorded before processed tokens were (older checkpoints) have null there, not zero.

import type { EvalMetrics, StepMetrics } from '../../train/run-types.ts';
import type { ChartMarker } from '../state/cell-runs.svelte.ts';
import type { ChartMark } from './chart-types.ts';

export interface TrainSeries {
  x: number[];
  loss: (number | null)[];
  validation: (number | null)[];
  lr: (number | null)[];
  gradNorm: (number | null)[];
  /** Trained (loss) tokens per second. */
  tokensPerSec: (number | null)[];
  /** Processed tokens per second: every real token of the step's rows. */
  rowTokensPerSec: (number | null)[];
}

export function trainSeries(steps: readonly StepMetrics[], evals: readonly EvalMetrics[]): TrainSeries {
  const val = new Map<number, number>();
  for (const e of evals) if (e.split === 'validation') val.set(e.step, e.loss);
  const byStep = new Map<number, StepMetrics>();
  for (const s of steps) byStep.set(s.step, s);
  const x = [...new Set([...byStep.keys(), ...val.keys()])].sort((a, b) => a - b);
  const at = <T>(f: (s: StepMetrics) => T) => x.map((k) => (byStep.has(k) ? f(byStep.get(k)!) : null));
  return {
    x,
    loss: at((s) => s.loss),
    validation: x.map((k) => val.get(k) ?? null),
    lr: at((s) => s.lr),
    gradNorm: at((s) => s.gradNorm),
    tokensPerSec: at((s) => s.tokensPerSec),
    rowTokensPerSec: at((s) => s.rowTokensPerSec ?? null),
  };
}

export function chartMarks(markers: readonly ChartMarker[]): ChartMark[] {
  return markers.map((m) => ({
    x: m.step,
    label: m.kind === 'best' ? `best · step ${m.step}` : `early stop · step ${m.step}`,
    color: m.kind === 'best' ? 'var(--ok)' : 'var(--warn)',
  }));
}
