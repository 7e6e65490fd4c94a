// The engine API: one interface that the in-process engine implements, the trainer worker exposes with
// comlink, and the companion serves over a WebSocket. The UI talks to an `Engine` and never knows which.
// Everything crossing it is structured-cloneable; progress comes back through an `EventSink`; errors
// are the typed classes of src/errors.ts and keep their class and fields across every boundary.
// Later issues extend this interface; they do not invent another.

import type { CapabilityReport } from '../gpu/capabilities.ts';
import type { TrainStepsRequest, TrainStepsResult } from '../train/train-steps.ts';
import type { MatmulProduct } from '../reference/matmul.ts';
import type { PrepareDatasetRequest, PrepareDatasetResult } from '../data/engine-api.ts';
import type { ExportFile, ExportRequest, GenerateRequest, GenerateResult } from './generate-export.ts';
import type { RunApi } from './run-api.ts';

export type { TrainStepsRequest, TrainStepsResult };
export type { PrepareDatasetRequest, PrepareDatasetResult };
export type { ExportFile, ExportRequest, GenerateRequest, GenerateResult };

export type EngineEvent =
  | { type: 'progress'; task: string; done: number; total: number; unit: string }
  | { type: 'step'; step: number; loss: number }
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  /** A generated token, streamed as soon as it is chosen. */
  | { type: 'token'; index: number; token: number };

export type EventSink = (event: EngineEvent) => void;

export interface EngineInitOptions {
  /** Optional device features to leave off (e.g. ['shader-f16'] to exercise the f32 paths). */
  disableFeatures?: string[];
}

export interface MatmulBenchRequest {
  product: MatmulProduct;
  m: number;
  n: number;
  k: number;
  dtype: 'f32' | 'f16';
  /** 'tiled' is lorabook's kernel; 'naive' is one invocation per output (the floor). */
  kernel: 'tiled' | 'naive';
  reps: number;
  warmup?: number;
  /** Check the result against the CPU reference (skipped only by benchmarks that verify once). */
  verify?: boolean;
}

export interface MatmulBenchResult {
  name: string;
  shape: string;
  adapter: string;
  reps: number;
  /** Wall-clock per rep: submit to onSubmittedWorkDone. */
  timesMs: number[];
  median_ms: number;
  gflops: number;
  /** GPU time per rep from timestamp queries, when the device has them. */
  gpuMedianMs: number | null;
  verified: boolean;
  maxAbsErr: number;
}

export interface MatmulRequest {
  product: MatmulProduct;
  m: number;
  n: number;
  k: number;
  /** A as stored: [M,K], or [K,M] for 'tn'. */
  a: Float32Array;
  /** B as stored: [K,N], or [N,K] for 'nt'. */
  b: Float32Array;
  dtype: 'f32' | 'f16';
}

export interface DatasetFile {
  name: string;
  text: string;
  /** When given, read (streamed) instead of `text`: a File the user picked crosses to the worker uncopied. */
  blob?: Blob;
}

export interface DatasetSummary {
  file: string;
  rows: number;
  fields: string[];
  /** 'jsonl' | 'json' | 'csv' | 'tsv' | 'text', recognised from the name and content. */
  format?: string;
  /** The shape most rows have ('text', 'prompt-completion', 'alpaca', 'chat', 'sharegpt', 'classification'). */
  shape?: string;
}

export interface MemoryReport {
  liveBytes: number;
  pooledBytes: number;
  peakLiveBytes: number;
}

export interface Engine extends RunApi {
  /** Acquires the GPU (once) and reports what it can do. Throws WebGPUUnavailable with advice. */
  init(options?: EngineInitOptions): Promise<CapabilityReport>;
  capabilities(): Promise<CapabilityReport>;
  memory(): Promise<MemoryReport>;
  /** Times a matmul on the engine's device and verifies it against the CPU reference. */
  benchmarkMatmul(request: MatmulBenchRequest, onEvent?: EventSink): Promise<MatmulBenchResult>;
  /** Runs one matmul product on the engine's device and returns C [M,N]. */
  matmul(request: MatmulRequest): Promise<Float32Array>;
  /** Trains a model given whole for a few optimizer steps; reports each step's loss as it lands. */
  trainSteps(request: TrainStepsRequest, onEvent?: EventSink): Promise<TrainStepsResult>;
  /** Reads a dataset (JSONL, JSON, CSV/TSV, text); a malformed row throws DatasetError with its file and row. */
  inspectDataset(file: DatasetFile): Promise<DatasetSummary>;
  /**
   * Reads, cleans, templates, tokenizes and splits a dataset with a model's tokenizer; returns the report
   * (bad rows, cleaning counts, split sizes and class balance, a per-token preview). Progress is bytes read.
   */
  prepareDataset(request: PrepareDatasetRequest, onEvent?: EventSink): Promise<PrepareDatasetResult>;
  /** Generates after a prompt with a KV cache (Llama family or GPT-2, LoRA on or merged); streams 'token' events. */
  generate(request: GenerateRequest, onEvent?: EventSink): Promise<GenerateResult>;
  /** The merged model as a Hub-layout folder: model.safetensors, or onnx/model.onnx for transformers.js. */
  exportModel(request: ExportRequest, onEvent?: EventSink): Promise<ExportFile[]>;
  /** Frees GPU memory and destroys the device. */
  dispose(): Promise<void>;
}
