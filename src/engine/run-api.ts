// The notebook's side of the engine for whole runs: load a model (built-in, Hub, local files), prepare a
// dataset with that model's tokenizer, train with validation/early stopping/checkpoints, compare base and
// tuned outputs, export. The engine keeps the heavy objects (weights, tokenized splits, the trained
// adapter) and hands back ids and plain reports; the UI never holds GPU objects or whole weight sets.
// `Engine` (protocol.ts) extends this interface; the trainer worker and the companion serve it unchanged.

import type { PrepareDatasetResult } from '../data/engine-api.ts';
import type { PrepareOptions } from '../data/pipeline.ts';
import type { GenerationOptions } from '../model/generate.ts';
import type { FitReport } from '../plan/fit.ts';
import type { DatasetSource, ModelSource } from '../share/notebook.ts';
import type { RunEvent, RunState, RunSummary, TrainConfig } from '../train/run-types.ts';
import type { ExportFile } from '../export/hub-model.ts';

export interface LoadModelRequest {
  source: ModelSource;
  /** Files picked by the user, by path (config.json, tokenizer.json, *.safetensors), for source.kind 'local'. */
  files?: Record<string, Blob>;
  /**
   * How the weights are kept once loaded (and cached, for Hub models): 'f32' (default), 'f16', or 'nf4'
   * for QLoRA (quantized while streaming in). A run whose base matches trains straight on these bytes.
   */
  storage?: 'f32' | 'f16' | 'nf4';
}

export interface ModelInfo {
  /** The engine's handle for the loaded model. */
  modelId: string;
  name: string;
  architecture: string;
  /** The commit the revision resolved to (Hub), or a content hash (built-in, local). */
  resolvedRevision: string;
  parameters: number;
  layers: number;
  hiddenSize: number;
  vocabSize: number;
  maxPositions: number;
  /** The planner's estimate for LoRA training with default settings on this device. */
  fit: FitReport;
}

export interface LoadDatasetRequest {
  modelId: string;
  source: DatasetSource;
  /** The text of a local or pasted file (the UI read it), or a File crossing uncopied. */
  text?: string;
  blob?: Blob;
  options: Omit<PrepareOptions, 'file' | 'onProgress' | 'signal'>;
  /** Keep at most this many rows before splitting (0 = all). */
  limitRows?: number;
  previewExamples?: number;
}

export interface DatasetInfo extends PrepareDatasetResult {
  /** The engine's handle for the prepared splits. */
  datasetId: string;
  /** SHA-256 (hex) of the source bytes, for share links. */
  sha256: string;
}

export interface StartRunRequest {
  runId: string;
  modelId: string;
  datasetId: string;
  config: TrainConfig;
  /** Continue from the run's last checkpoint when there is one (after a reload or a lost device). */
  resume: boolean;
}

export interface CompareRequest {
  runId: string;
  prompts: string[];
  options: Partial<GenerationOptions> & { maxNewTokens: number };
}

export interface CompareOutput {
  prompt: string;
  base: string;
  tuned: string;
}

export type ExportKind = 'peft' | 'merged' | 'onnx' | 'metrics-json' | 'metrics-csv';

/** A stored run, for the notebook's list (checkpoints the page can resume from). */
export interface StoredRun {
  runId: string;
  step: number;
  bestStep: number | null;
  updatedAt: number;
}

/** Progress of a long operation (download, conversion, tokenization, export). */
export interface ProgressEvent {
  type: 'progress';
  task: string;
  done: number;
  total: number;
  unit: string;
}

/** The text generated so far for one prompt of a comparison, by the base or the tuned model. */
export interface CompareTokenEvent {
  type: 'compare-token';
  runId: string;
  prompt: number;
  which: 'base' | 'tuned';
  text: string;
}

export type RunEventSink = (event: RunEvent | ProgressEvent | CompareTokenEvent) => void;

export interface RunApi {
  /**
   * The long operations below take an optional `operationId` (any string unique among running operations);
   * `cancelOperation(operationId)` aborts one: it rejects with the typed `Cancelled` error, frees what it
   * allocated, and leaves the engine ready for the next call. Training is stopped with `stopRun` instead.
   */
  loadModel(request: LoadModelRequest, onEvent?: RunEventSink, operationId?: string): Promise<ModelInfo>;
  loadDataset(request: LoadDatasetRequest, onEvent?: RunEventSink, operationId?: string): Promise<DatasetInfo>;
  /** Trains to the end (or until stopped); streams RunEvents; resolves with the summary (test metrics included). */
  startRun(request: StartRunRequest, onEvent?: RunEventSink): Promise<RunSummary>;
  pauseRun(runId: string): Promise<RunState>;
  resumeRun(runId: string): Promise<RunState>;
  stopRun(runId: string): Promise<RunState>;
  /** The same prompts through the base model and the tuned adapter; streams 'token' progress per output. */
  compare(request: CompareRequest, onEvent?: RunEventSink, operationId?: string): Promise<CompareOutput[]>;
  exportRun(runId: string, kind: ExportKind, onEvent?: RunEventSink, operationId?: string): Promise<ExportFile[]>;
  /** Cancels the running operation started with this id; resolves false when none runs under it. */
  cancelOperation(operationId: string): Promise<boolean>;
  storedRuns(): Promise<StoredRun[]>;
  deleteRun(runId: string): Promise<void>;
}
