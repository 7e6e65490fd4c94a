// The trainer: a whole fine-tuning run on one model and one prepared dataset, host-agnostic (the engine,
// the trainer worker and the companion drive it alike). Per optimizer step it reads gradAccum
// micro-batches from the data cursor (data-order.ts), records their forward and backward and one AdamW
// update (clipping, weight decay, the schedule's lr) into one GPU step, and streams StepMetrics. Every
// evalEvery steps it evaluates the validation split; an improvement of more than the threshold saves a
// 'best' checkpoint, none for `patience` evaluations stops the run early. Every checkpointEvery steps it
// saves a 'latest' checkpoint (parameters, AdamW moments, cursor, counters, history) from which
// Trainer.resume continues bit for bit: the first resumed step is the checkpoint's step + 1, and the data
// order, the dropout streams (keyed by the micro-step counter) and the optimizer state are all restored.
// At the end the best checkpoint's parameters are written back, byte for byte, and the test split is
// evaluated (the base model's test metrics were taken before the first step).

import type { Gpu } from '../gpu/gpu.ts';
import { numel } from '../gpu/tensor.ts';
import type { PackedBatch } from '../data/batch.ts';
import type { TokenizedExample } from '../data/tokenize.ts';
import type { CausalLmModel } from '../model/causal-lm.ts';
import type { LoraConfig } from '../model/lora.ts';
import { inverseTokenCount } from '../reference/loss.ts';
import { readTensors, writeOptimizer, writeParams } from './checkpoint-io.ts';
import { DataOrder, type MicroBatch } from './data-order.ts';
import { evaluateSplit, labelTokensOf, type EvaluateOptions } from './evaluate.ts';
import { AdamWOptimizer } from './optimizer.ts';
import type {
  Checkpoint,
  CheckpointKind,
  CheckpointState,
  CheckpointStore,
  EvalMetrics,
  RunEvent,
  RunState,
  RunSummary,
  StepMetrics,
  TrainableCount,
  TrainConfig,
} from './run-types.ts';
import { lrAtStep } from './schedule.ts';

/** Real tokens of a batch: every position that holds an example's token (padding is segment 0), packed or not. */
function realTokenCount(b: PackedBatch): number {
  let n = 0;
  for (const seg of b.segments) if (seg !== 0) n++;
  return n;
}

export interface ModelFactoryOptions {
  mode: 'lora' | 'full';
  lora?: LoraConfig;
  seed: number;
  checkpointing: boolean;
}

export interface TrainerOptions {
  gpu: Gpu;
  /** A model created for this run's mode, or a factory the trainer calls (and then owns and disposes). */
  model: CausalLmModel | ((o: ModelFactoryOptions) => CausalLmModel);
  data: {
    train: readonly TokenizedExample[];
    validation: readonly TokenizedExample[];
    test: readonly TokenizedExample[];
  };
  config: TrainConfig;
  runId: string;
  store: CheckpointStore;
  onEvent?: (e: RunEvent) => void;
  /** The tokenizer's pad id (EOS when it has none). */
  padId: number;
  /** Parameters of the base model, for the trainable share. */
  baseParameters: number;
  /** The model's position limit (max_position_embeddings): seq and evaluation rows must fit it. */
  maxPositions?: number;
  /** Rows per evaluation forward (default 16). */
  evalBatchRows?: number;
  /** Clock in ms (default performance.now). */
  now?: () => number;
}

const STEP_WINDOW = 10;

function checkConfig(c: TrainConfig, maxPositions: number): void {
  const int = (name: keyof TrainConfig, min: number) => {
    const v = c[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
      throw new RangeError(`${name} must be an integer ≥ ${min}, got ${String(v)}`);
  };
  int('epochs', 1);
  int('maxSteps', 0);
  int('microBatch', 1);
  int('gradAccum', 1);
  int('seq', 2);
  int('warmupSteps', 0);
  int('evalEvery', 0);
  int('evalExamples', 0);
  int('checkpointEvery', 0);
  if (c.seq > maxPositions) throw new RangeError(`seq ${c.seq} is more than the model's ${maxPositions} positions`);
  if (!(c.lr >= 0 && Number.isFinite(c.lr))) throw new RangeError(`lr must be a finite number ≥ 0, got ${c.lr}`);
  if (!['constant', 'linear', 'cosine'].includes(c.schedule))
    throw new RangeError(`schedule must be constant, linear or cosine, got ${String(c.schedule)}`);
  for (const k of ['weightDecay', 'eps', 'maxGradNorm'] as const) {
    if (!Number.isFinite(c[k])) throw new RangeError(`${k} must be a finite number, got ${c[k]}`);
  }
  for (const k of ['beta1', 'beta2'] as const) {
    if (!(c[k] >= 0 && c[k] < 1)) throw new RangeError(`${k} must be in [0, 1), got ${c[k]}`);
  }
  if (c.earlyStopping && !(Number.isFinite(c.earlyStopping.threshold) && c.earlyStopping.threshold >= 0))
    throw new RangeError(`early stopping threshold must be a finite number ≥ 0, got ${c.earlyStopping.threshold}`);
  if (c.mode === 'lora' && !c.lora) throw new RangeError("mode 'lora' needs a lora config");
  if (c.earlyStopping && !(Number.isInteger(c.earlyStopping.patience) && c.earlyStopping.patience >= 1))
    throw new RangeError(`early stopping patience must be an integer ≥ 1, got ${c.earlyStopping.patience}`);
}

export class Trainer {
  readonly model: CausalLmModel;
  readonly totalSteps: number;
  private readonly ownsModel: boolean;
  private readonly opt: AdamWOptimizer;
  private readonly reader: DataOrder;
  private readonly evalOpts: EvaluateOptions;
  private readonly now: () => number;
  private state: CheckpointState;
  private runState: RunState = 'idle';
  private paused = false;
  private stopRequested = false;
  private wake: (() => void) | null = null;
  private recentMs: number[] = [];

  constructor(private readonly o: TrainerOptions) {
    const c = o.config;
    checkConfig(c, o.maxPositions ?? Infinity);
    this.now = o.now ?? (() => performance.now());
    this.reader = new DataOrder(o.data.train, {
      microBatch: c.microBatch,
      seq: c.seq,
      packing: c.packing,
      padId: o.padId,
      seed: c.seed,
    });
    const limit = c.maxSteps > 0 ? c.maxSteps * c.gradAccum : Infinity;
    const micro = this.reader.countMicroBatches({ epoch: 0, index: 0 }, c.epochs, limit);
    const steps = Math.ceil(micro / c.gradAccum);
    this.totalSteps = c.maxSteps > 0 ? Math.min(steps, c.maxSteps) : steps;
    const labels = c.labels;
    this.evalOpts = {
      batchRows: o.evalBatchRows ?? 16,
      padId: o.padId,
      maxPositions: o.maxPositions,
      classes:
        labels && labels.length > 0
          ? { labels, tokens: labelTokensOf([...o.data.train, ...o.data.validation, ...o.data.test], labels) }
          : undefined,
    };
    if (typeof o.model === 'function') {
      this.model = o.model({ mode: c.mode, lora: c.lora, seed: c.seed, checkpointing: c.checkpointing });
      this.ownsModel = true;
    } else {
      this.model = o.model;
      this.ownsModel = false;
    }
    this.opt = new AdamWOptimizer(o.gpu, this.model.trainable);
    this.state = {
      runId: o.runId,
      step: 0,
      cursor: { epoch: 0, index: 0 },
      microStep: 0,
      optimizerT: 0,
      seed: c.seed,
      bestStep: null,
      bestValidationLoss: null,
      sinceBest: 0,
      config: structuredClone(c),
      history: { steps: [], evals: [] },
    };
  }

  /**
   * A trainer that continues the run of `checkpoint` (default: the store's latest for o.runId) with the
   * checkpoint's config: parameters, optimizer moments, cursor and counters restored.
   */
  static async resume(o: Omit<TrainerOptions, 'config'>, checkpoint?: Checkpoint): Promise<Trainer> {
    const c = checkpoint ?? (await o.store.load(o.runId, 'latest'));
    if (!c) throw new Error(`run ${o.runId} has no checkpoint to resume from`);
    if (c.state.runId !== o.runId) throw new Error(`the checkpoint belongs to run ${c.state.runId}, not ${o.runId}`);
    const t = new Trainer({ ...o, config: c.state.config });
    try {
      writeParams(o.gpu, t.model.trainable, c);
      await writeOptimizer(t.model.trainable, t.opt, c);
    } catch (e) {
      t.dispose(); // a checkpoint that does not fit this model must not leak it on the GPU
      throw e;
    }
    t.state = structuredClone(c.state);
    return t;
  }

  /** Where the run stands (a copy). */
  get checkpointState(): CheckpointState {
    return structuredClone(this.state);
  }

  get trainable(): TrainableCount {
    const trainable = this.model.trainable.reduce((s, p) => s + numel(p.value.shape), 0);
    const total = this.o.config.mode === 'full' ? this.o.baseParameters : this.o.baseParameters + trainable;
    return { trainable, total, share: trainable / total };
  }

  /** Takes effect between steps. */
  pause(): void {
    if (this.runState === 'running') this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake?.();
  }

  /** Ends the run after the current step (a 'latest' checkpoint is saved, the best restored, the test split evaluated). */
  stop(): void {
    if (this.runState === 'done' || this.runState === 'failed') return;
    this.stopRequested = true;
    this.setState('stopping');
    this.wake?.();
  }

  private emit(e: RunEvent): void {
    this.o.onEvent?.(e);
  }

  private setState(s: RunState): void {
    if (this.runState === s) return;
    this.runState = s;
    this.emit({ type: 'run-state', runId: this.o.runId, state: s });
  }

  /** Trains to the end, early stop or stop(); resolves with the summary. */
  async run(): Promise<RunSummary> {
    try {
      return await this.runInner();
    } catch (e) {
      this.setState('failed');
      throw e;
    }
  }

  private async runInner(): Promise<RunSummary> {
    const c = this.o.config;
    this.setState('running');
    const hasTest = this.o.data.test.length > 0;
    if (hasTest && this.state.step === 0 && !this.state.history.evals.some((e) => e.split === 'test')) {
      await this.evaluate('test', 0);
    }
    let stoppedBy: RunSummary['stoppedBy'] | null = null;
    let evaluatedAt = -1;
    const sessionStart = this.now();
    const elapsedBefore = this.state.history.steps.at(-1)?.elapsedMs ?? 0;
    while (stoppedBy === null) {
      if (this.paused && !this.stopRequested) {
        this.setState('paused');
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
        if (!this.stopRequested) this.setState('running');
      }
      if (this.stopRequested) {
        stoppedBy = 'user';
        break;
      }
      if (this.state.step >= this.totalSteps) {
        stoppedBy = c.maxSteps > 0 && this.totalSteps === c.maxSteps ? 'steps' : 'epochs';
        break;
      }
      await this.trainStep(sessionStart, elapsedBefore);
      const step = this.state.step;
      if (c.evalEvery > 0 && step % c.evalEvery === 0 && this.o.data.validation.length > 0) {
        evaluatedAt = step;
        if (await this.validate()) stoppedBy = 'early-stopping';
      }
      if (c.checkpointEvery > 0 && step % c.checkpointEvery === 0) await this.save('latest');
    }
    const step = this.state.step;
    if (stoppedBy === 'user' && !(c.checkpointEvery > 0 && step % c.checkpointEvery === 0)) await this.save('latest');
    if (step > 0 && evaluatedAt !== step && stoppedBy !== 'early-stopping' && this.o.data.validation.length > 0) {
      // At the natural end the last validation may become the best. After a user stop the run may be
      // resumed: its evaluation only reports, so best and patience stay as an uninterrupted run has them.
      if (stoppedBy === 'user') await this.evaluate('validation', step);
      else await this.validate();
    }
    let restoredBest = false;
    if (this.state.bestStep !== null) {
      const best = await this.o.store.load(this.o.runId, 'best');
      if (!best) throw new Error(`run ${this.o.runId}: the best checkpoint (step ${this.state.bestStep}) is missing`);
      if (best.state.step !== this.state.bestStep) {
        throw new Error(
          `run ${this.o.runId}: the stored best checkpoint is from step ${best.state.step}, the run's best is step ${this.state.bestStep}`,
        );
      }
      writeParams(this.o.gpu, this.model.trainable, best);
      await this.o.gpu.sync();
      restoredBest = true;
      this.emit({ type: 'restored-best', runId: this.o.runId, bestStep: best.state.step });
    }
    let test: RunSummary['test'] = null;
    if (hasTest) {
      const base = this.state.history.evals.find((e) => e.split === 'test' && e.step === 0);
      const tuned = await this.evaluate('test', this.state.bestStep ?? step);
      if (base) test = { base, tuned };
    }
    this.setState('done');
    return {
      runId: this.o.runId,
      stoppedBy,
      steps: step,
      bestStep: this.state.bestStep,
      bestValidationLoss: this.state.bestValidationLoss,
      restoredBest,
      trainable: this.trainable,
      test,
    };
  }

  /** One optimizer step: gradAccum micro-batches from the cursor, one AdamW update, its metrics. */
  private async trainStep(sessionStart: number, elapsedBefore: number): Promise<void> {
    const c = this.o.config;
    const gpu = this.o.gpu;
    const t0 = this.now();
    const batches: MicroBatch[] = [];
    let cursor = this.state.cursor;
    while (batches.length < c.gradAccum && cursor.epoch < c.epochs) {
      const m = this.reader.read(cursor);
      batches.push(m);
      cursor = m.next;
    }
    const stepNo = this.state.step + 1;
    const lr = lrAtStep(
      { schedule: c.schedule, lr: c.lr, warmupSteps: c.warmupSteps, totalSteps: this.totalSteps },
      stepNo,
    );
    const invCount = inverseTokenCount(batches.map((b) => b.batch.labels));
    const loss = gpu.empty([1], 'f32', 'train loss');
    let microStep = this.state.microStep;
    try {
      const step = gpu.step(`train step ${stepNo}`);
      this.model.zeroGrads(step);
      for (let i = 0; i < batches.length; i++) {
        await this.model.microStep(step, batches[i].batch, {
          invCount,
          loss,
          accumulateLoss: i > 0,
          backward: true,
          train: true,
          microStep: microStep++,
        });
      }
      const adamw = { lr, beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay };
      await this.opt.record(step, adamw, c.maxGradNorm);
      await step.submit();
      const [lossValue] = await gpu.readF32(loss);
      const gradNorm = await this.opt.lastGradNorm();
      const ms = this.now() - t0;
      this.recentMs = [...this.recentMs.slice(-(STEP_WINDOW - 1)), ms];
      const pace = this.recentMs.reduce((a, b) => a + b, 0) / this.recentMs.length;
      const tokens = invCount > 0 ? Math.round(1 / invCount) : 0;
      const rowTokens = batches.reduce((n, b) => n + realTokenCount(b.batch), 0);
      const metrics: StepMetrics = {
        step: stepNo,
        epoch: batches[0].epoch,
        loss: lossValue,
        lr,
        gradNorm,
        tokens,
        tokensPerSec: ms > 0 ? (tokens * 1000) / ms : 0,
        rowTokens,
        rowTokensPerSec: ms > 0 ? (rowTokens * 1000) / ms : 0,
        elapsedMs: elapsedBefore + (this.now() - sessionStart),
        etaMs: pace * (this.totalSteps - stepNo),
        totalSteps: this.totalSteps,
      };
      this.state.step = stepNo;
      this.state.cursor = cursor;
      this.state.microStep = microStep;
      this.state.optimizerT = this.opt.t;
      this.state.history.steps.push(metrics);
      this.emit({ type: 'train-step', runId: this.o.runId, metrics });
    } finally {
      gpu.release(loss);
    }
  }

  private async evaluate(split: 'validation' | 'test', step: number): Promise<EvalMetrics> {
    let examples = split === 'test' ? this.o.data.test : this.o.data.validation;
    const limit = this.o.config.evalExamples;
    if (split === 'validation' && limit > 0) examples = examples.slice(0, limit);
    const { metrics } = await evaluateSplit(this.o.gpu, this.model, examples, this.evalOpts);
    const m: EvalMetrics = { split, step, ...metrics };
    this.state.history.evals.push(m);
    this.emit({ type: 'eval', runId: this.o.runId, metrics: m });
    return m;
  }

  /** Evaluates on validation, keeps the best; true when early stopping says stop. */
  private async validate(): Promise<boolean> {
    const s = this.state;
    const m = await this.evaluate('validation', s.step);
    const threshold = this.o.config.earlyStopping?.threshold ?? 0;
    if (s.bestValidationLoss === null || m.loss < s.bestValidationLoss - threshold) {
      s.bestValidationLoss = m.loss;
      s.bestStep = s.step;
      s.sinceBest = 0;
      await this.save('best');
      return false;
    }
    s.sinceBest++;
    const es = this.o.config.earlyStopping;
    if (es && s.sinceBest >= es.patience) {
      this.emit({ type: 'early-stop', runId: this.o.runId, step: s.step, bestStep: s.bestStep! });
      return true;
    }
    return false;
  }

  private async save(kind: CheckpointKind): Promise<void> {
    const tensors = await readTensors(this.o.gpu, this.model.trainable, this.opt);
    await this.o.store.save({ kind, state: structuredClone(this.state), tensors });
    this.emit({ type: 'checkpoint', runId: this.o.runId, step: this.state.step, kind });
  }

  /** Frees the optimizer state, and the model when the trainer created it. */
  dispose(): void {
    this.opt.dispose();
    if (this.ownsModel) this.model.dispose();
  }
}
