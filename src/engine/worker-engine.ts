// The main thread's Engine: a comlink proxy of the trainer worker. Callbacks are wrapped with
// Comlink.proxy here so callers pass plain functions, exactly as to the in-process engine. Long operations
// are cancelled by id (cancelOperation): an AbortSignal cannot cross comlink, a string can.

import * as Comlink from 'comlink';
import { installErrorTransfer } from './comlink-errors.ts';
import type { Engine, EventSink } from './protocol.ts';
import type { RunEventSink } from './run-api.ts';

export class WorkerEngine implements Engine {
  private readonly remote: Comlink.Remote<Engine>;

  /** `worker`: the trainer worker, or any comlink endpoint that serves a LocalEngine (tests: a MessagePort). */
  constructor(private readonly worker: Comlink.Endpoint & { terminate(): void }) {
    installErrorTransfer();
    this.remote = Comlink.wrap<Engine>(worker);
  }

  init: Engine['init'] = (options) => this.remote.init(options);
  capabilities: Engine['capabilities'] = () => this.remote.capabilities();
  memory: Engine['memory'] = () => this.remote.memory();
  benchmarkMatmul: Engine['benchmarkMatmul'] = (request, onEvent?: EventSink) =>
    this.remote.benchmarkMatmul(request, onEvent ? Comlink.proxy(onEvent) : undefined);
  matmul: Engine['matmul'] = (request) => this.remote.matmul(request);
  trainSteps: Engine['trainSteps'] = (request, onEvent?: EventSink) =>
    this.remote.trainSteps(request, onEvent ? Comlink.proxy(onEvent) : undefined);
  inspectDataset: Engine['inspectDataset'] = (file) => this.remote.inspectDataset(file);
  prepareDataset: Engine['prepareDataset'] = (request, onEvent?: EventSink) =>
    this.remote.prepareDataset(request, onEvent ? Comlink.proxy(onEvent) : undefined);
  generate: Engine['generate'] = (request, onEvent?: EventSink) =>
    this.remote.generate(request, onEvent ? Comlink.proxy(onEvent) : undefined);
  exportModel: Engine['exportModel'] = (request, onEvent?: EventSink) =>
    this.remote.exportModel(request, onEvent ? Comlink.proxy(onEvent) : undefined);

  loadModel: Engine['loadModel'] = (request, onEvent?: RunEventSink, operationId?: string) =>
    this.remote.loadModel(request, onEvent ? Comlink.proxy(onEvent) : undefined, operationId);
  loadDataset: Engine['loadDataset'] = (request, onEvent?: RunEventSink, operationId?: string) =>
    this.remote.loadDataset(request, onEvent ? Comlink.proxy(onEvent) : undefined, operationId);
  startRun: Engine['startRun'] = (request, onEvent?: RunEventSink) =>
    this.remote.startRun(request, onEvent ? Comlink.proxy(onEvent) : undefined);
  pauseRun: Engine['pauseRun'] = (runId) => this.remote.pauseRun(runId);
  resumeRun: Engine['resumeRun'] = (runId) => this.remote.resumeRun(runId);
  stopRun: Engine['stopRun'] = (runId) => this.remote.stopRun(runId);
  compare: Engine['compare'] = (request, onEvent?: RunEventSink, operationId?: string) =>
    this.remote.compare(request, onEvent ? Comlink.proxy(onEvent) : undefined, operationId);
  exportRun: Engine['exportRun'] = (runId, kind, onEvent?: RunEventSink, operationId?: string) =>
    this.remote.exportRun(runId, kind, onEvent ? Comlink.proxy(onEvent) : undefined, operationId);
  cancelOperation: Engine['cancelOperation'] = (operationId) => this.remote.cancelOperation(operationId);
  storedRuns: Engine['storedRuns'] = () => this.remote.storedRuns();
  deleteRun: Engine['deleteRun'] = (runId) => this.remote.deleteRun(runId);

  /** Kills the worker at once, mid-step if need be: what closing or reloading the page does to it. */
  terminate(): void {
    this.remote[Comlink.releaseProxy]();
    this.worker.terminate();
  }

  async dispose(): Promise<void> {
    await this.remote.dispose();
    this.remote[Comlink.releaseProxy]();
    this.worker.terminate();
  }
}

/** Starts the trainer worker and returns its Engine. */
export function startWorkerEngine(): WorkerEngine {
  const worker = new Worker(new URL('../../workers/trainer.worker.ts', import.meta.url), {
    type: 'module',
    name: 'lorabook-trainer',
  });
  return new WorkerEngine(worker);
}
