// The in-process engine: implements the Engine protocol over a Gpu that its host provides (the trainer
// worker passes navigator.gpu, Node passes Dawn). The worker and the companion expose this very object.

import type { CapabilityReport } from '../gpu/capabilities.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { inspectDatasetFile, prepareDatasetRequest } from '../data/engine-api.ts';
import { matmul } from '../kernels/matmul.ts';
import { benchmarkMatmulOn } from './bench-matmul.ts';
import type {
  DatasetFile,
  DatasetSummary,
  Engine,
  EngineInitOptions,
  EventSink,
  MatmulBenchRequest,
  MatmulBenchResult,
  MatmulRequest,
  MemoryReport,
  PrepareDatasetRequest,
  PrepareDatasetResult,
  TrainStepsRequest,
  TrainStepsResult,
} from './protocol.ts';
import { trainSteps } from '../train/train-steps.ts';
import { runExport, runGenerate } from './generate-export.ts';
import type { ExportFile, ExportRequest, GenerateRequest, GenerateResult } from './generate-export.ts';

import { HubError } from '../errors.ts';
import { MemoryCheckpointStore, type RunState, type RunSummary } from '../train/run-types.ts';
import { DatasetRegistry } from './datasets.ts';
import { ModelRegistry, type EngineHost } from './models.ts';
import type {
  CompareOutput,
  CompareRequest,
  DatasetInfo,
  ExportKind,
  LoadDatasetRequest,
  LoadModelRequest,
  ModelInfo,
  RunEventSink,
  StartRunRequest,
  StoredRun,
} from './run-api.ts';
import { Operations } from './operations.ts';
import { RunRegistry, type RunStore } from './runs.ts';

export type GpuProvider = (options: EngineInitOptions) => Promise<Gpu>;

/** Built-in files and the checkpoint store, from the host (worker: fetch + IndexedDB; Node: disk + memory). */
export interface LocalEngineHost extends EngineHost {
  checkpoints?: RunStore;
}

const noBuiltins: EngineHost = {
  builtinFile: (path) =>
    Promise.reject(new HubError(`this engine has no built-in files (asked for ${path})`, 'not-found', path, 404)),
};

export class LocalEngine implements Engine {
  private gpu: Promise<Gpu> | null = null;
  private current: Gpu | null = null;
  private readonly models: ModelRegistry;
  private readonly datasets: DatasetRegistry;
  private readonly runs: RunRegistry;
  private readonly operations = new Operations();

  constructor(
    private readonly provideGpu: GpuProvider,
    host: LocalEngineHost = noBuiltins,
  ) {
    this.models = new ModelRegistry(host);
    this.datasets = new DatasetRegistry(host);
    this.runs = new RunRegistry(
      () => this.device(),
      this.models,
      this.datasets,
      host.checkpoints ?? new MemoryCheckpointStore(),
    );
  }

  /** The device, acquired once; a lost device is replaced by a new one on the next call (runs resume). */
  private device(options: EngineInitOptions = {}): Promise<Gpu> {
    if (this.current?.lost) {
      this.current = null;
      this.gpu = null;
    }
    if (!this.gpu) {
      const p = this.provideGpu(options);
      this.gpu = p;
      p.then(
        (g) => (this.current = g),
        () => (this.gpu = null), // a failed acquisition may be retried
      );
    }
    return this.gpu;
  }

  async init(options: EngineInitOptions = {}): Promise<CapabilityReport> {
    return (await this.device(options)).caps;
  }

  async capabilities(): Promise<CapabilityReport> {
    return (await this.device()).caps;
  }

  async memory(): Promise<MemoryReport> {
    const { pool } = await this.device();
    return { liveBytes: pool.liveBytes, pooledBytes: pool.pooledBytes, peakLiveBytes: pool.peakLiveBytes };
  }

  async benchmarkMatmul(request: MatmulBenchRequest, onEvent?: EventSink): Promise<MatmulBenchResult> {
    return benchmarkMatmulOn(await this.device(), request, onEvent);
  }

  async matmul(r: MatmulRequest): Promise<Float32Array> {
    const gpu = await this.device();
    const a = gpu.upload(r.a, r.product === 'tn' ? [r.k, r.m] : [r.m, r.k], r.dtype, 'A');
    const b = gpu.upload(r.b, r.product === 'nt' ? [r.n, r.k] : [r.k, r.n], r.dtype, 'B');
    const c = gpu.empty([r.m, r.n], 'f32', 'C');
    try {
      const step = gpu.step(`matmul ${r.product}`);
      await matmul(step, { a, b, c, m: r.m, n: r.n, k: r.k }, r.product);
      await step.submit();
      return await gpu.readF32(c);
    } finally {
      gpu.release(a, b, c);
    }
  }

  async trainSteps(request: TrainStepsRequest, onEvent?: EventSink): Promise<TrainStepsResult> {
    return trainSteps(await this.device(), request, (step, loss) => onEvent?.({ type: 'step', step, loss }));
  }

  async inspectDataset(file: DatasetFile): Promise<DatasetSummary> {
    return inspectDatasetFile(file);
  }

  async prepareDataset(request: PrepareDatasetRequest, onEvent?: EventSink): Promise<PrepareDatasetResult> {
    const progress = (done: number, total: number | null) =>
      onEvent?.({ type: 'progress', task: `read ${request.file.name}`, done, total: total ?? done, unit: 'bytes' });
    return (await prepareDatasetRequest(request, progress)).result;
  }

  async generate(request: GenerateRequest, onEvent?: EventSink): Promise<GenerateResult> {
    return runGenerate(await this.device(), request, onEvent);
  }

  async exportModel(request: ExportRequest, onEvent?: EventSink): Promise<ExportFile[]> {
    return runExport(await this.device(), request, onEvent);
  }

  loadModel(request: LoadModelRequest, onEvent?: RunEventSink, operationId?: string): Promise<ModelInfo> {
    const what = `loading model ${describeModel(request)}`;
    return this.operations.run(operationId, 'loadModel', what, async (signal) => {
      const gpu = await this.device();
      return (await this.models.load(request, gpu.caps, onEvent, signal)).info;
    });
  }

  loadDataset(request: LoadDatasetRequest, onEvent?: RunEventSink, operationId?: string): Promise<DatasetInfo> {
    const what = `preparing dataset ${describeDataset(request)}`;
    return this.operations.run(operationId, 'loadDataset', what, async (signal) => {
      return (await this.datasets.load(request, this.models.get(request.modelId), onEvent, signal)).info;
    });
  }

  startRun(request: StartRunRequest, onEvent?: RunEventSink): Promise<RunSummary> {
    return this.runs.start(request, onEvent);
  }

  async pauseRun(runId: string): Promise<RunState> {
    return this.runs.pause(runId);
  }

  async resumeRun(runId: string): Promise<RunState> {
    return this.runs.resume(runId);
  }

  async stopRun(runId: string): Promise<RunState> {
    return this.runs.stop(runId);
  }

  compare(request: CompareRequest, onEvent?: RunEventSink, operationId?: string): Promise<CompareOutput[]> {
    const what = `comparing base and tuned outputs of run ${request.runId}`;
    return this.operations.run(operationId, 'compare', what, (signal) => this.runs.compare(request, onEvent, signal));
  }

  exportRun(runId: string, kind: ExportKind, onEvent?: RunEventSink, operationId?: string): Promise<ExportFile[]> {
    const what = `exporting run ${runId} (${kind})`;
    return this.operations.run(operationId, 'exportRun', what, (signal) =>
      this.runs.export(runId, kind, onEvent, signal),
    );
  }

  async cancelOperation(operationId: string): Promise<boolean> {
    return this.operations.cancel(operationId);
  }

  storedRuns(): Promise<StoredRun[]> {
    return this.runs.stored();
  }

  deleteRun(runId: string): Promise<void> {
    return this.runs.delete(runId);
  }

  async dispose(): Promise<void> {
    const g = this.gpu;
    this.gpu = null;
    this.current = null;
    if (g) (await g).destroy();
  }
}

function describeModel(r: LoadModelRequest): string {
  const s = r.source;
  return s.kind === 'builtin' ? s.id : s.kind === 'hub' ? `${s.repo}@${s.revision}` : s.name;
}

function describeDataset(r: LoadDatasetRequest): string {
  const s = r.source;
  return s.kind === 'builtin' ? s.id : s.name;
}
