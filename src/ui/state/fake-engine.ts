// A fake engine for the notebook's state tests: answers the run API with plain data and emits the events
// a real run would (steps, evaluations, early stopping), recording every call. No GPU. After
// `holdOperations()`, loads, comparisons and exports wait until cancelOperation(id) rejects them with
// Cancelled, as the real engine does.

import type { CapabilityReport } from '../../gpu/capabilities.ts';
import type {
  CompareRequest,
  DatasetInfo,
  LoadDatasetRequest,
  LoadModelRequest,
  RunEventSink,
  StartRunRequest,
  StoredRun,
} from '../../engine/run-api.ts';
import { Cancelled } from '../../errors.ts';
import type { EvalMetrics, RunSummary } from '../../train/run-types.ts';
import type { NotebookEngine } from './engine-handle.ts';

export interface FakeEngineOptions {
  losses?: number[];
  stored?: StoredRun[];
  failDataset?: Error;
  earlyStopAt?: number;
  /** Wait this long after each step (for screenshots of a run in progress). */
  stepDelayMs?: number;
}

export interface FakeEngine {
  engine: NotebookEngine;
  calls: string[];
  requests: {
    model: LoadModelRequest[];
    dataset: LoadDatasetRequest[];
    run: StartRunRequest[];
    compare: CompareRequest[];
    /** The operation id each loadModel/loadDataset/compare/exportRun call was given, in call order. */
    operations: (string | undefined)[];
  };
  /** Resolves a startRun that waits (after `holdRun()`). */
  release: () => void;
  holdRun: () => void;
  /** Makes loads, comparisons and exports wait for their cancellation (they then reject with Cancelled). */
  holdOperations: () => void;
}

const evalAt = (step: number, loss: number, split: 'validation' | 'test', accuracy?: number): EvalMetrics => ({
  split,
  step,
  examples: 10,
  tokens: 100,
  loss,
  perplexity: Math.exp(loss),
  accuracy,
  majorityBaseline: accuracy === undefined ? undefined : 0.6,
});

export function fakeEngine(opts: FakeEngineOptions = {}): FakeEngine {
  const losses = opts.losses ?? [3, 2.5, 2, 1.5];
  const calls: string[] = [];
  const requests: FakeEngine['requests'] = { model: [], dataset: [], run: [], compare: [], operations: [] };
  let hold = false;
  let release = () => {};
  let holdOps = false;
  const waiting = new Map<string, (e: Cancelled) => void>();
  /** Records the id; when holding, waits until cancelOperation(id) and rejects with Cancelled. */
  const operation = async (kind: string, id: string | undefined) => {
    requests.operations.push(id);
    if (!holdOps) return;
    if (id === undefined) throw new Error(`${kind} was called without an operation id: it could not be cancelled`);
    await new Promise<void>((_, reject) => waiting.set(id, reject));
  };
  const engine = {
    async init() {
      return FAKE_CAPS;
    },
    async capabilities() {
      return FAKE_CAPS;
    },
    async memory() {
      return { liveBytes: 3_500_000, pooledBytes: 1_000_000, peakLiveBytes: 9_000_000 };
    },
    async loadModel(req: LoadModelRequest, onEvent?: RunEventSink, operationId?: string) {
      calls.push('loadModel');
      requests.model.push(req);
      onEvent?.({ type: 'progress', task: 'download', done: 1, total: 2, unit: 'bytes' });
      await operation('loadModel', operationId);
      return {
        modelId: 'm1',
        name: 'lorabook-tiny',
        architecture: 'LlamaForCausalLM',
        resolvedRevision: 'abc',
        parameters: 900_000,
        layers: 4,
        hiddenSize: 128,
        vocabSize: 1024,
        maxPositions: 128,
        fit: { fits: true, plan: { totalBytes: 21_000_000 }, problems: [], suggestions: [] } as never,
      };
    },
    async loadDataset(req: LoadDatasetRequest, _onEvent?: RunEventSink, operationId?: string) {
      calls.push('loadDataset');
      requests.dataset.push(req);
      await operation('loadDataset', operationId);
      if (opts.failDataset) throw opts.failDataset;
      return fakeDatasetInfo();
    },
    async startRun(req: StartRunRequest, onEvent?: RunEventSink): Promise<RunSummary> {
      calls.push(`startRun${req.resume ? ' resume' : ''}`);
      requests.run.push(req);
      onEvent?.({ type: 'run-state', runId: req.runId, state: 'running' });
      const first = req.resume ? (opts.stored?.find((s) => s.runId === req.runId)?.step ?? 0) : 0;
      for (let i = first; i < losses.length; i++) {
        const step = i + 1;
        onEvent?.({
          type: 'train-step',
          runId: req.runId,
          metrics: {
            step,
            epoch: 0,
            loss: losses[i],
            lr: 1e-3,
            gradNorm: 1,
            tokens: 10,
            tokensPerSec: 100,
            elapsedMs: step,
            etaMs: 0,
            totalSteps: losses.length,
          },
        });
        if (step % 2 === 0)
          onEvent?.({ type: 'eval', runId: req.runId, metrics: evalAt(step, losses[i] + 0.1, 'validation') });
        if (opts.earlyStopAt === step) {
          onEvent?.({ type: 'early-stop', runId: req.runId, step, bestStep: step - 1 });
          onEvent?.({ type: 'restored-best', runId: req.runId, bestStep: step - 1 });
          break;
        }
        if (hold && step === 1) await new Promise<void>((r) => (release = r));
        if (opts.stepDelayMs) await new Promise((r) => setTimeout(r, opts.stepDelayMs));
      }
      onEvent?.({ type: 'run-state', runId: req.runId, state: 'done' });
      return {
        runId: req.runId,
        stoppedBy: opts.earlyStopAt ? 'early-stopping' : 'steps',
        steps: losses.length,
        bestStep: opts.earlyStopAt ? opts.earlyStopAt - 1 : null,
        bestValidationLoss: null,
        restoredBest: Boolean(opts.earlyStopAt),
        trainable: { trainable: 100, total: 1000, share: 0.1 },
        test: { base: evalAt(0, 3, 'test', 0.6), tuned: evalAt(4, 1.5, 'test', 0.9) },
      };
    },
    async pauseRun() {
      calls.push('pauseRun');
      return 'paused' as const;
    },
    async resumeRun() {
      calls.push('resumeRun');
      return 'running' as const;
    },
    async stopRun() {
      calls.push('stopRun');
      release();
      return 'stopping' as const;
    },
    async compare(req: CompareRequest, onEvent?: RunEventSink, operationId?: string) {
      calls.push('compare');
      requests.compare.push(req);
      onEvent?.({ type: 'compare-token', runId: req.runId, prompt: 0, which: 'base', text: 'first' });
      await operation('compare', operationId);
      return req.prompts.map((prompt) => ({ prompt, base: `${prompt} base`, tuned: `${prompt} tuned` }));
    },
    async exportRun(_runId: string, kind: string, _onEvent?: RunEventSink, operationId?: string) {
      calls.push(`export ${kind}`);
      await operation('exportRun', operationId);
      return [{ path: `${kind}.bin`, bytes: new Uint8Array([1, 2, 3]) }];
    },
    async cancelOperation(operationId: string) {
      calls.push(`cancelOperation ${operationId}`);
      const reject = waiting.get(operationId);
      waiting.delete(operationId);
      reject?.(new Cancelled(`operation ${operationId} was cancelled`, 'fake', operationId));
      return reject !== undefined;
    },
    async storedRuns() {
      return opts.stored ?? [];
    },
    async deleteRun(runId: string) {
      calls.push(`deleteRun ${runId}`);
    },
  };
  return {
    engine: engine as unknown as NotebookEngine,
    calls,
    requests,
    release: () => release(),
    holdRun: () => (hold = true),
    holdOperations: () => (holdOps = true),
  };
}

const FAKE_CAPS = {
  host: 'browser',
  adapter: {
    vendor: 'fake',
    architecture: 'test',
    device: '',
    description: 'fake adapter',
    isFallbackAdapter: true,
    subgroupMinSize: null,
    subgroupMaxSize: null,
  },
  shaderF16: false,
  subgroups: false,
  timestampQuery: false,
  limits: {},
  adapterFeatures: [],
} as unknown as CapabilityReport;

const words = (text: string, trained: boolean, from: number) =>
  text
    .split(/(?= )/)
    .map((t, i) => ({ index: from + i, id: 100 + from + i, text: t, piece: t.replace(' ', 'Ġ'), trained }));

/** A dataset report shaped like the engine's, for the notebook's UI tests and screenshots. */
export function fakeDatasetInfo(): DatasetInfo {
  const category = (count: number) => ({ count, examples: [] });
  const prompt = words('Text: Subject: Re: patch for the build script Thanks, I applied it. Label:', false, 0);
  const answer = words(' ham', true, prompt.length);
  return {
    datasetId: 'd1',
    sha256: '00',
    file: 'spam-ham.jsonl',
    format: 'jsonl',
    shape: 'classification',
    shapeCounts: { classification: 600 },
    template: 'raw',
    badRows: { count: 0, rows: [] },
    cleaning: {
      input: 600,
      kept: 588,
      whitespaceNormalized: category(41),
      empty: category(0),
      exactDuplicates: category(9),
      normalizedDuplicates: category(3),
      overBudget: category(0),
      nothingToTrain: category(0),
    },
    stats: {
      train: { examples: 470, tokens: 57_000, trainedTokens: 940, labels: { ham: 330, spam: 140 } },
      validation: { examples: 59, tokens: 7_100, trainedTokens: 118, labels: { ham: 41, spam: 18 } },
      test: { examples: 59, tokens: 7_050, trainedTokens: 118, labels: { ham: 42, spam: 17 } },
    },
    preview: [{ row: 17, tokens: [...prompt, ...answer] }],
  } as DatasetInfo;
}
