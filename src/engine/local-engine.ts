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

export type GpuProvider = (options: EngineInitOptions) => Promise<Gpu>;

export class LocalEngine implements Engine {
  private gpu: Promise<Gpu> | null = null;

  constructor(private readonly provideGpu: GpuProvider) {}

  private device(options: EngineInitOptions = {}): Promise<Gpu> {
    if (!this.gpu) {
      this.gpu = this.provideGpu(options);
      this.gpu.catch(() => (this.gpu = null)); // a failed acquisition may be retried
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

  async dispose(): Promise<void> {
    const g = this.gpu;
    this.gpu = null;
    if (g) (await g).destroy();
  }
}
