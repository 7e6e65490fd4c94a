// What running a cell produced, kept apart from the notebook (cells hold configuration only): status,
// progress, the error, and each kind's results as plain data. Series that grow every step are $state.raw
// arrays replaced whole; nothing here holds a GPU object (the engine keeps those behind handles).

import type { CompareOutput, DatasetInfo, ExportKind, ModelInfo, StoredRun } from '../../engine/run-api.ts';
import type { ExportFile } from '../../engine/protocol.ts';
import type { EvalMetrics, RunState, RunSummary, StepMetrics } from '../../train/run-types.ts';
import { Cancelled } from '../../errors.ts';
import { describeError, type Problem } from '../problem.ts';
import { compareLosses, type Reproduction } from './reproduce.ts';

export type CellStatus = 'idle' | 'running' | 'done' | 'failed' | 'cancelled';

export interface Progress {
  task: string;
  done: number;
  total: number;
  unit: string;
}

/** A Cancelled error, also one rebuilt from the worker's wire form (matched by name). */
export const isCancelled = (e: unknown): boolean =>
  e instanceof Cancelled || (e instanceof Error && e.name === 'Cancelled');

export class CellRun {
  status = $state<CellStatus>('idle');
  progress = $state.raw<Progress | null>(null);
  problem = $state.raw<Problem | null>(null);
  /** Bumped by each start; a result for an older generation (cancelled) is dropped. */
  generation = 0;
  /** The id of the engine operation this run is waiting on (cancelling the cell cancels it in the engine). */
  operation: string | null = null;

  begin(): number {
    this.status = 'running';
    this.progress = null;
    this.problem = null;
    return ++this.generation;
  }

  isCurrent(generation: number): boolean {
    return generation === this.generation && this.status === 'running';
  }

  finish(generation: number): boolean {
    if (!this.isCurrent(generation)) return false;
    this.status = 'done';
    this.progress = null;
    return true;
  }

  fail(generation: number, e: unknown): void {
    if (!this.isCurrent(generation)) return;
    if (isCancelled(e)) {
      this.cancel(); // cancelled in the engine by someone else than this cell's button: no problem to show
      return;
    }
    this.status = 'failed';
    this.progress = null;
    this.problem = describeError(e);
  }

  /**
   * Shows the cell as cancelled at once and drops any late result; the runner also cancels the engine's
   * operation (cancelOperation, or stopRun for training), which then rejects with Cancelled.
   */
  cancel(): void {
    if (this.status !== 'running') return;
    this.generation++;
    this.status = 'cancelled';
    this.progress = null;
  }
}

export class ModelRun extends CellRun {
  info = $state.raw<ModelInfo | null>(null);
}

export class DatasetRun extends CellRun {
  info = $state.raw<DatasetInfo | null>(null);
}

export interface ChartMarker {
  step: number;
  label: string;
  kind: 'early-stop' | 'best';
}

export class TrainRun extends CellRun {
  runId = $state('');
  state = $state<RunState>('idle');
  steps = $state.raw<StepMetrics[]>([]);
  evals = $state.raw<EvalMetrics[]>([]);
  summary = $state.raw<RunSummary | null>(null);
  markers = $state.raw<ChartMarker[]>([]);
  /** A checkpoint the engine keeps for this cell's run (after a reload): the run can resume after it. */
  stored = $state.raw<StoredRun | null>(null);
  reproduction = $state.raw<Reproduction>({ kind: 'none' });
  /** The losses recorded in the share link this notebook came from, if any. */
  recorded: number[] | undefined = undefined;

  reset(runId: string, recorded: number[] | undefined, keepHistory: boolean): void {
    this.runId = runId;
    this.recorded = recorded;
    this.summary = null;
    if (!keepHistory) {
      this.steps = [];
      this.evals = [];
      this.markers = [];
    }
    this.reproduction = compareLosses(recorded, []);
  }

  addStep(m: StepMetrics): void {
    // A resumed run may replay a step already drawn: keep one point per step.
    const kept =
      this.steps.length > 0 && this.steps.at(-1)!.step >= m.step
        ? this.steps.filter((s) => s.step < m.step)
        : this.steps;
    this.steps = [...kept, m];
    this.progress = { task: 'train', done: m.step, total: m.totalSteps, unit: 'steps' };
    if (this.recorded)
      this.reproduction = compareLosses(
        this.recorded,
        this.steps.map((s) => s.loss),
      );
  }

  addEval(m: EvalMetrics): void {
    this.evals = [...this.evals.filter((e) => !(e.split === m.split && e.step === m.step)), m];
  }

  mark(marker: ChartMarker): void {
    this.markers = [...this.markers.filter((x) => x.kind !== marker.kind), marker];
  }

  get validation(): EvalMetrics[] {
    return this.evals.filter((e) => e.split === 'validation');
  }

  get latest(): StepMetrics | undefined {
    return this.steps.at(-1);
  }
}

export class CompareRun extends CellRun {
  outputs = $state.raw<CompareOutput[]>([]);
}

export interface ExportedFiles {
  kind: ExportKind;
  files: ExportFile[];
}

export class ExportRun extends CellRun {
  results = $state.raw<ExportedFiles[]>([]);
  kind = $state<ExportKind | null>(null);
}

export type AnyRun = CellRun | ModelRun | DatasetRun | TrainRun | CompareRun | ExportRun;
