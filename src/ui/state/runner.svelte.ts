// Runs a notebook's cells against the engine, in order and with their dependencies: a dataset needs the
// model above it (its tokenizer), a train cell the model and dataset above, evaluate/compare/export the
// train cell above. Running a cell whose upstream has not run runs the upstream first. Results go into
// the cell's run object (cell-runs.svelte.ts); the notebook itself is never changed by running.

import type { CompareTokenEvent, ExportKind, LoadDatasetRequest, RunEventSink } from '../../engine/run-api.ts';
import { Cancelled, VerifiedFetchError } from '../../errors.ts';
import { sha256Hex } from '../../share/hash.ts';
import type { ShapeName } from '../../data/shapes.ts';
import type { Cell, DatasetSource } from '../../share/notebook.ts';
import type { RunEvent } from '../../train/run-types.ts';
import { CellRun, CompareRun, DatasetRun, ExportRun, ModelRun, TrainRun, type AnyRun } from './cell-runs.svelte.ts';
import type { NotebookEngine } from './engine-handle.ts';
import type { NotebookDoc } from './notebook-doc.svelte.ts';

/** Files the user picked for a cell: not saved with the notebook, so they must be picked again after a reload. */
export interface PickedFiles {
  /** A dataset file's text (pasted text travels in the cell's config instead). */
  text?: string;
  blob?: Blob;
  /** A local model folder's files by path. */
  files?: Record<string, Blob>;
}

/** Fetches a URL dataset's bytes (the page's fetch by default; tests pass their own). */
export type FetchBytes = (url: string) => Promise<Uint8Array>;

type RunFor<T extends Cell['type']> = T extends 'model'
  ? ModelRun
  : T extends 'dataset'
    ? DatasetRun
    : T extends 'train'
      ? TrainRun
      : T extends 'generate'
        ? CompareRun
        : T extends 'export'
          ? ExportRun
          : CellRun;

function newRun(type: Cell['type']): AnyRun {
  switch (type) {
    case 'model':
      return new ModelRun();
    case 'dataset':
      return new DatasetRun();
    case 'train':
      return new TrainRun();
    case 'generate':
      return new CompareRun();
    case 'export':
      return new ExportRun();
    default:
      return new CellRun();
  }
}

/** Numbers the engine operations of every runner on the page (one engine serves them all: ids must not repeat). */
let operations = 0;

const defaultFetch: FetchBytes = async (url) => {
  const res = await fetch(url);
  if (!res.ok) throw new VerifiedFetchError(`${url}: the server answered ${res.status}`, 'http', url, '');
  return new Uint8Array(await res.arrayBuffer());
};

export class NotebookRunner {
  /** The whole notebook is running ("Run all"). */
  runningAll = $state(false);
  /** The cell "Run all" is at. */
  current = $state<string | null>(null);
  // Plain Maps on purpose: each run object has reactive fields of its own, and picked files are not state.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  readonly picked = new Map<string, PickedFiles>();
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  private readonly runs = new Map<string, AnyRun>();
  private allGeneration = 0;

  constructor(
    readonly doc: NotebookDoc,
    private readonly engine: () => NotebookEngine,
    private readonly fetchBytes: FetchBytes = defaultFetch,
  ) {}

  /** The run object of a cell (made on first use; plain Map, so reading it in markup mutates no state). */
  runOf<T extends Cell['type']>(cell: { id: string; type: T }): RunFor<T> {
    let r = this.runs.get(cell.id);
    if (!r) {
      r = newRun(cell.type);
      this.runs.set(cell.id, r);
    }
    return r as RunFor<T>;
  }

  /** The run object of the cell `cellId`, which must be of `type`. */
  runFor<T extends Cell['type']>(cellId: string, type: T): RunFor<T> {
    const cell = this.doc.cell(cellId);
    if (cell?.type !== type) throw new Error(`cell ${cellId} is not a ${type} cell`);
    return this.runOf(cell as { id: string; type: T });
  }

  /** The engine's run id of a train cell: stable, so a reloaded page finds its checkpoints. */
  runIdOf(cellId: string): string {
    return `${this.doc.id}/${cellId}`;
  }

  /** Asks the engine which runs it keeps checkpoints for, and offers to resume this notebook's. */
  async findStoredRuns(): Promise<void> {
    const stored = await this.engine().storedRuns();
    for (const c of this.doc.cells) {
      if (c.type !== 'train') continue;
      const s = stored.find((r) => r.runId === this.runIdOf(c.id));
      const run = this.runOf(c);
      if (s && run.status !== 'running') run.stored = s;
    }
  }

  /** Runs one cell (and whatever above it has not run yet). Resolves true when it finished. */
  async run(cellId: string, opts: { resume?: boolean } = {}): Promise<boolean> {
    const cell = this.doc.cell(cellId);
    if (!cell) throw new Error(`no cell ${cellId} in this notebook`);
    const run = this.runOf(cell);
    if (run.status === 'running') return false;
    const gen = run.begin();
    try {
      await this.execute(cell, gen, opts.resume ?? false);
      return run.finish(gen);
    } catch (e) {
      run.fail(gen, e);
      return false;
    }
  }

  /** Runs every cell top to bottom; stops at the first that fails or is cancelled. */
  async runAll(): Promise<boolean> {
    if (this.runningAll) return false;
    const gen = ++this.allGeneration;
    this.runningAll = true;
    try {
      for (const c of [...this.doc.cells]) {
        if (gen !== this.allGeneration) return false;
        this.current = c.id;
        const resume = c.type === 'train' && this.runOf(c).stored !== null;
        if (!(await this.run(c.id, { resume }))) return false;
      }
      return true;
    } finally {
      if (gen === this.allGeneration) {
        this.runningAll = false;
        this.current = null;
      }
    }
  }

  /**
   * Cancels a cell: a training run is stopped in the engine (stopRun); a model load, dataset preparation,
   * comparison or export is cancelled in the engine (cancelOperation) and the cell shows 'Cancelled' at once.
   */
  async cancel(cellId: string): Promise<void> {
    const cell = this.doc.cell(cellId);
    if (!cell) return;
    if (this.runningAll) {
      this.allGeneration++;
      this.runningAll = false;
      this.current = null;
    }
    const run = this.runOf(cell);
    if (run instanceof TrainRun && run.status === 'running') {
      run.state = 'stopping';
      await this.engine().stopRun(run.runId);
      return;
    }
    const operation = run.status === 'running' ? run.operation : null;
    run.cancel();
    if (operation) await this.engine().cancelOperation(operation);
  }

  async pause(cellId: string): Promise<void> {
    const run = this.trainRun(cellId);
    run.state = await this.engine().pauseRun(run.runId);
  }

  async resume(cellId: string): Promise<void> {
    const run = this.trainRun(cellId);
    run.state = await this.engine().resumeRun(run.runId);
  }

  /** Forgets every result (e.g. the engine restarted). */
  clear(): void {
    this.runs.clear();
  }

  private trainRun(cellId: string): TrainRun {
    const cell = this.doc.cell(cellId);
    if (cell?.type !== 'train') throw new Error(`cell ${cellId} is not a train cell`);
    return this.runOf(cell);
  }

  /** The result of the `type` cell above `cellId`, running it first when it has not finished. */
  private async upstream<T extends 'model' | 'dataset' | 'train'>(cellId: string, type: T): Promise<RunFor<T>> {
    const above: Cell | undefined = this.doc.above(cellId, type);
    if (!above) {
      const what = { model: 'a Model', dataset: 'a Dataset', train: 'a Train' }[type];
      throw new Error(`this cell needs ${what} cell above it`);
    }
    const run = this.runOf(above) as RunFor<T>;
    if (run.status === 'running') await this.settled(run);
    else if (run.status !== 'done')
      await this.run(above.id, { resume: type === 'train' && (run as TrainRun).stored !== null });
    if (run.status !== 'done') {
      const n = this.doc.indexOf(above.id) + 1;
      throw new Error(`the ${type} cell above (cell ${n}) did not finish: run it first`);
    }
    return run;
  }

  /**
   * Calls the engine for `run` under a fresh operation id, kept on the run while the call lasts, so that
   * cancelling the cell cancels the call. A cell cancelled before it got here (waiting for the cells above
   * it) makes no call at all.
   */
  private async operation<T>(run: CellRun, gen: number, what: string, call: (id: string) => Promise<T>): Promise<T> {
    const id = `${this.doc.id}/${what}/${++operations}`;
    if (!run.isCurrent(gen)) throw new Cancelled(`${what} was cancelled before it started`, what, id);
    run.operation = id;
    try {
      return await call(id);
    } finally {
      if (run.operation === id) run.operation = null;
    }
  }

  private settled(run: CellRun): Promise<void> {
    return new Promise((resolve) => {
      const tick = () => (run.status === 'running' ? setTimeout(tick, 50) : resolve());
      tick();
    });
  }

  private sink(
    run: AnyRun,
    gen: number,
    onRun?: (e: RunEvent) => void,
    onToken?: (e: CompareTokenEvent) => void,
  ): RunEventSink {
    return (e) => {
      if (gen !== run.generation) return;
      if (e.type === 'progress') run.progress = { task: e.task, done: e.done, total: e.total, unit: e.unit };
      else if (e.type !== 'compare-token') onRun?.(e);
      else onToken?.(e);
    };
  }

  private async execute(cell: Cell, gen: number, resume: boolean): Promise<void> {
    const engine = this.engine();
    switch (cell.type) {
      case 'markdown':
      case 'device':
        return;
      case 'model': {
        const run = this.runOf(cell);
        if (!cell.source) throw new Error('choose a model first');
        const files = cell.source.kind === 'local' ? this.picked.get(cell.id)?.files : undefined;
        if (cell.source.kind === 'local' && !files) {
          throw new Error(`pick the folder "${cell.source.name}" again: local files are not saved with the notebook`);
        }
        const source = $state.snapshot(cell.source);
        const info = await this.operation(run, gen, 'loadModel', (id) =>
          engine.loadModel({ source, files }, this.sink(run, gen), id),
        );
        if (run.isCurrent(gen)) run.info = info;
        return;
      }
      case 'dataset': {
        const run = this.runOf(cell);
        const model = await this.upstream(cell.id, 'model');
        const cfg = $state.snapshot(cell.config);
        if (!cfg.source) throw new Error('choose a dataset first');
        const request: LoadDatasetRequest = {
          modelId: model.info!.modelId,
          source: cfg.source,
          options: {
            seed: cfg.seed,
            fractions: cfg.fractions,
            maxLength: cfg.maxLength,
            overLength: cfg.overLength,
            shape: cfg.shape as ShapeName | 'auto',
            badRows: 'skip',
          },
          limitRows: cfg.limitRows,
          previewExamples: 2,
          ...(await this.datasetInput(cell.id, cfg.source)),
        };
        const info = await this.operation(run, gen, 'loadDataset', (id) =>
          engine.loadDataset(request, this.sink(run, gen), id),
        );
        if (run.isCurrent(gen)) run.info = info;
        return;
      }
      case 'train': {
        const run = this.runOf(cell);
        const model = await this.upstream(cell.id, 'model');
        const data = await this.upstream(cell.id, 'dataset');
        const runId = this.runIdOf(cell.id);
        const resuming = resume && run.stored !== null;
        run.reset(runId, this.doc.recordedLosses?.[cell.id], resuming);
        if (!resuming && run.stored) await engine.deleteRun(runId);
        run.stored = null;
        run.state = 'running';
        const summary = await engine.startRun(
          {
            runId,
            modelId: model.info!.modelId,
            datasetId: data.info!.datasetId,
            config: $state.snapshot(cell.config),
            resume: resuming,
          },
          this.sink(run, gen, (e) => {
            if (e.type === 'run-state') run.state = e.state;
            else if (e.type === 'train-step') run.addStep(e.metrics);
            else if (e.type === 'eval') run.addEval(e.metrics);
            else if (e.type === 'early-stop')
              run.mark({ step: e.step, kind: 'early-stop', label: `early stop at step ${e.step}` });
            else if (e.type === 'restored-best')
              run.mark({ step: e.bestStep, kind: 'best', label: `best checkpoint (step ${e.bestStep}) restored` });
          }),
        );
        if (!run.isCurrent(gen)) return;
        run.summary = summary;
        run.state = 'done';
        if (summary.restoredBest && summary.bestStep !== null)
          run.mark({
            step: summary.bestStep,
            kind: 'best',
            label: `best checkpoint (step ${summary.bestStep}) restored`,
          });
        return;
      }
      case 'evaluate': {
        await this.upstream(cell.id, 'train');
        return;
      }
      case 'generate': {
        const run = this.runOf(cell);
        const train = await this.upstream(cell.id, 'train');
        const cfg = $state.snapshot(cell.config);
        const prompts = cfg.prompts.filter((p) => p.trim().length > 0);
        if (prompts.length === 0) throw new Error('write at least one prompt');
        run.outputs = prompts.map((prompt) => ({ prompt, base: '', tuned: '' }));
        const outputs = await this.operation(run, gen, 'compare', (id) =>
          engine.compare(
            {
              runId: train.runId,
              prompts,
              options: {
                maxNewTokens: cfg.maxNewTokens,
                doSample: cfg.temperature > 0,
                temperature: cfg.temperature > 0 ? cfg.temperature : 1,
                topK: cfg.topK,
                topP: cfg.topP,
                seed: cfg.seed,
              },
            },
            this.sink(run, gen, undefined, (e) => {
              run.outputs = run.outputs.map((o, i) => (i === e.prompt ? { ...o, [e.which]: e.text } : o));
            }),
            id,
          ),
        );
        if (run.isCurrent(gen)) run.outputs = outputs;
        return;
      }
      case 'export': {
        const run = this.runOf(cell);
        const train = await this.upstream(cell.id, 'train');
        const kinds: ExportKind[] = cell.config.formats.flatMap((f): ExportKind[] =>
          f === 'metrics' ? ['metrics-json', 'metrics-csv'] : [f],
        );
        const results = [];
        for (const kind of kinds) {
          run.kind = kind;
          const files = await this.operation(run, gen, 'exportRun', (id) =>
            engine.exportRun(train.runId, kind, this.sink(run, gen), id),
          );
          if (!run.isCurrent(gen)) return;
          results.push({ kind, files });
          run.results = [...results];
        }
        run.kind = null;
        return;
      }
    }
  }

  /** The text or file a dataset source needs from the page (built-in data the engine reads itself). */
  private async datasetInput(cellId: string, source: DatasetSource): Promise<{ text?: string; blob?: Blob }> {
    switch (source.kind) {
      case 'builtin':
        return {};
      case 'inline':
        return { text: source.text };
      case 'local': {
        const p = this.picked.get(cellId);
        if (!p?.blob && p?.text === undefined) {
          throw new Error(`pick the file "${source.name}" again: local files are not saved with the notebook`);
        }
        return p.blob ? { blob: p.blob } : { text: p.text };
      }
      case 'url': {
        // The first load pins the content's hash into the cell; every later load (and a shared copy) checks it.
        const bytes = await this.fetchBytes(source.url);
        const got = await sha256Hex(bytes);
        if (!source.sha256) {
          const cell = this.doc.cell(cellId);
          if (cell?.type === 'dataset' && cell.config.source?.kind === 'url') cell.config.source.sha256 = got;
        } else if (got !== source.sha256.toLowerCase()) {
          throw new VerifiedFetchError(
            `${source.url}: the content's SHA-256 is ${got}, but the notebook expects ${source.sha256}; the data changed since the notebook was written`,
            'mismatch',
            source.url,
            source.sha256,
            got,
          );
        }
        return { text: new TextDecoder().decode(bytes) };
      }
    }
  }
}
