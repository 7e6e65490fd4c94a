// The engine's training runs, by run id: a run trains one loaded model on one prepared dataset with the
// Trainer (src/train/trainer.ts), checkpoints into the host's store (IndexedDB in the browser, memory in
// Node), and keeps what it produced (the tuned adapter or weights, its history) for comparison and export.
// A run started with `resume` continues from its last checkpoint in the store — after a page reload the
// worker is new, but IndexedDB still holds the checkpoint, and the first step run is the checkpoint's + 1.

import { loadTokenizer } from '../data/engine-api.ts';
import type { TextTokenizer } from '../data/tokenizer.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { exportPeftAdapter } from '../export/peft-adapter.ts';
import { LlamaGpu, ropeTablePositions } from '../model/llama-gpu.ts';
import { Trainer, type ModelFactoryOptions } from '../train/trainer.ts';
import { ResumeMismatch } from '../errors.ts';
import type {
  CheckpointStore,
  EvalMetrics,
  RunFingerprint,
  RunState,
  RunSummary,
  StepMetrics,
} from '../train/run-types.ts';
import type { ExportFile } from '../export/hub-model.ts';
import type { RunCheckpoints } from '../store/checkpoints.ts';
import type { DatasetRegistry } from './datasets.ts';
import type { EngineModel, ModelRegistry } from './models.ts';
import { compareBaseTuned, exportMerged, exportMetrics } from './run-outputs.ts';
import type { CompareOutput, CompareRequest, ExportKind, RunEventSink, StartRunRequest, StoredRun } from './run-api.ts';
import { readTuned, type TunedModel } from './tuned.ts';

/** A store that can also list what it holds (the IndexedDB store can; the memory store lists nothing). */
export interface RunStore extends CheckpointStore {
  list?(): Promise<RunCheckpoints[]>;
}

interface Run {
  modelId: string;
  trainer: Trainer | null;
  /** A stop or pause asked for before the trainer existed. */
  pending: 'stop' | 'pause' | null;
  state: RunState;
  summary: RunSummary | null;
  tuned: TunedModel | null;
  history: { steps: StepMetrics[]; evals: EvalMetrics[] };
}

export class RunRegistry {
  private readonly runs = new Map<string, Run>();
  private readonly tokenizers = new Map<string, Promise<TextTokenizer>>();

  constructor(
    private readonly gpu: () => Promise<Gpu>,
    private readonly models: ModelRegistry,
    private readonly datasets: DatasetRegistry,
    private readonly store: RunStore,
  ) {}

  private run(runId: string): Run {
    const r = this.runs.get(runId);
    if (!r) throw new Error(`there is no run ${runId} in this session: train it first`);
    return r;
  }

  private tokenizer(model: EngineModel): Promise<TextTokenizer> {
    let t = this.tokenizers.get(model.info.modelId);
    if (!t) {
      t = loadTokenizer({ files: model.files, name: model.info.name });
      this.tokenizers.set(model.info.modelId, t);
    }
    return t;
  }

  async start(req: StartRunRequest, onEvent?: RunEventSink): Promise<RunSummary> {
    const existing = this.runs.get(req.runId);
    if (existing && existing.state !== 'done' && existing.state !== 'failed') {
      throw new Error(`run ${req.runId} is already training`);
    }
    // Registered before the first await: a stop or pause that arrives while the model is being built is
    // kept and applied as soon as the trainer exists, and a second start of the same run is refused.
    const run: Run = {
      modelId: req.modelId,
      trainer: null,
      pending: null,
      state: 'idle',
      summary: null,
      tuned: null,
      history: { steps: [], evals: [] },
    };
    this.runs.set(req.runId, run);
    try {
      return await this.train(run, req, onEvent);
    } catch (e) {
      run.state = 'failed';
      throw e;
    }
  }

  private async train(run: Run, req: StartRunRequest, onEvent?: RunEventSink): Promise<RunSummary> {
    const gpu = await this.gpu();
    const model = this.models.get(req.modelId);
    const data = this.datasets.get(req.datasetId);
    const modelKey = `${model.info.name}@${model.info.resolvedRevision}`;
    if (data.modelKey !== modelKey) {
      throw new Error(`dataset ${req.datasetId} was tokenized for ${data.modelKey}, not ${modelKey}: prepare it again`);
    }
    const tok = await this.tokenizer(model);
    const checkpoint = req.resume ? await this.store.load(req.runId, 'latest') : null;
    if (!req.resume) await this.store.delete(req.runId);
    // A resumed run continues with the checkpoint's config; it must be the same model, base and data.
    const config = checkpoint ? checkpoint.state.config : req.config;
    const fingerprint: RunFingerprint = {
      model: modelKey,
      base: config.base ?? 'f32',
      dataset: data.fingerprint,
    };
    if (checkpoint) checkFingerprint(req.runId, checkpoint.state.config.fingerprint, fingerprint);
    const base = fingerprint.base;
    // The tensors as loaded (f32, f16 or NF4 codes): the model uploads them as its base needs, so an NF4
    // model trains QLoRA straight on the cached codes, never through an f32 copy.
    const stored = Object.fromEntries(model.loaded.tensors);
    const factory = (o: ModelFactoryOptions) =>
      LlamaGpu.create(gpu, model.spec, stored, { ...o, base: o.mode === 'lora' ? base : 'f32' }, null);
    const options = {
      gpu,
      model: factory,
      data: data.prepared.splits,
      runId: req.runId,
      store: this.store,
      padId: tok.padId ?? tok.eosId ?? 0,
      baseParameters: model.info.parameters,
      maxPositions: ropeTablePositions(model.spec),
      onEvent: (e: Parameters<NonNullable<RunEventSink>>[0]) => {
        if (e.type === 'run-state') run.state = e.state;
        if (e.type === 'train-step') run.history.steps.push(e.metrics);
        if (e.type === 'eval') run.history.evals.push(e.metrics);
        onEvent?.(e);
      },
    };
    const trainer = checkpoint
      ? await Trainer.resume(options, checkpoint)
      : new Trainer({ ...options, config: { ...req.config, fingerprint } });
    if (checkpoint) {
      // A resumed run first replays what it recorded before, so a new page redraws its charts from step 1.
      run.history = structuredClone(checkpoint.state.history);
      for (const metrics of run.history.steps) onEvent?.({ type: 'train-step', runId: req.runId, metrics });
      for (const metrics of run.history.evals) onEvent?.({ type: 'eval', runId: req.runId, metrics });
    }
    run.trainer = trainer;
    if (run.pending === 'stop') trainer.stop();
    if (run.pending === 'pause') trainer.pause();
    try {
      run.summary = await trainer.run();
      const cfg = trainer.checkpointState.config;
      run.tuned = await readTuned(gpu, trainer.model, cfg.mode, cfg.lora);
      run.state = 'done';
      return run.summary;
    } finally {
      trainer.dispose();
      run.trainer = null;
    }
  }

  pause(runId: string): RunState {
    const run = this.run(runId);
    if (run.trainer) run.trainer.pause();
    else if (run.pending !== 'stop') run.pending = 'pause';
    return run.state;
  }

  resume(runId: string): RunState {
    const run = this.run(runId);
    if (run.trainer) run.trainer.resume();
    else if (run.pending === 'pause') run.pending = null;
    return run.state;
  }

  stop(runId: string): RunState {
    const run = this.run(runId);
    if (run.trainer) run.trainer.stop();
    else run.pending = 'stop';
    return run.state;
  }

  private finished(runId: string): { run: Run; tuned: TunedModel; model: EngineModel } {
    const run = this.run(runId);
    if (!run.tuned) throw new Error(`run ${runId} has not finished training`);
    return { run, tuned: run.tuned, model: this.models.get(run.modelId) };
  }

  /** An aborted `signal` stops the comparison between generated tokens (its GPU buffers are freed). */
  async compare(req: CompareRequest, onEvent?: RunEventSink, signal?: AbortSignal): Promise<CompareOutput[]> {
    const { tuned, model } = this.finished(req.runId);
    const tok = await this.tokenizer(model);
    return compareBaseTuned(await this.gpu(), model, tok, tuned, req, onEvent, signal);
  }

  /** An aborted `signal` stops the export between tensors (its GPU buffers are freed). */
  async export(runId: string, kind: ExportKind, onEvent?: RunEventSink, signal?: AbortSignal): Promise<ExportFile[]> {
    const { run, tuned, model } = this.finished(runId);
    switch (kind) {
      case 'peft': {
        if (!tuned.lora) throw new Error(`run ${runId} fine-tuned every weight: export the merged model instead`);
        const src = model.source;
        signal?.throwIfAborted(); // plain arrays already on the CPU: one synchronous step
        return exportPeftAdapter({
          spec: model.spec,
          lora: tuned.lora.config,
          adapters: tuned.lora.adapters,
          saved: tuned.weights,
          baseModel: src.kind === 'hub' ? src.repo : model.info.name,
          revision: model.info.resolvedRevision,
        });
      }
      case 'merged':
        return exportMerged(await this.gpu(), model, tuned, 'safetensors', onEvent, signal);
      case 'onnx':
        return exportMerged(await this.gpu(), model, tuned, 'onnx', onEvent, signal);
      case 'metrics-json':
        return exportMetrics(runId, run.history, 'json');
      case 'metrics-csv':
        return exportMetrics(runId, run.history, 'csv');
    }
  }

  async stored(): Promise<StoredRun[]> {
    const runs = (await this.store.list?.()) ?? [];
    return runs.map((r) => ({ runId: r.runId, step: r.step, bestStep: r.bestStep, updatedAt: r.updatedAt }));
  }

  async delete(runId: string): Promise<void> {
    this.runs.delete(runId);
    await this.store.delete(runId);
  }
}

function checkFingerprint(runId: string, saved: RunFingerprint | undefined, given: RunFingerprint): void {
  if (!saved) return; // checkpoints written before fingerprints existed
  for (const field of ['model', 'base', 'dataset'] as const) {
    if (saved[field] !== given[field]) {
      throw new ResumeMismatch(
        `run ${runId} cannot resume: its checkpoint was trained with ${field} "${saved[field]}", this notebook gives "${given[field]}". Start the run again, or restore the ${field} it used.`,
        runId,
        field,
        saved[field],
        given[field],
      );
    }
  }
}

/** A store opened on first use (IndexedDB opens asynchronously; the worker starts synchronously). */
export function lazyRunStore(open: () => Promise<RunStore>): RunStore {
  let store: Promise<RunStore> | null = null;
  const get = () => (store ??= open());
  return {
    save: async (c) => (await get()).save(c),
    load: async (runId, kind) => (await get()).load(runId, kind),
    delete: async (runId) => (await get()).delete(runId),
    list: async () => (await get()).list?.() ?? [],
  };
}
