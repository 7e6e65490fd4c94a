// Long engine operations that the caller can cancel by id. An AbortSignal cannot cross comlink or the
// companion's WebSocket, so the caller names each operation with a string id and later calls
// `cancelOperation(id)`; the engine keeps the AbortController on its side and the operation checks the
// signal at its natural points (between chunks, tensors, tokenization batches, generated tokens). Whatever
// the operation throws once its signal is aborted, the caller sees the typed `Cancelled` error.

import { Cancelled } from '../errors.ts';

export type OperationKind = 'loadModel' | 'loadDataset' | 'compare' | 'exportRun';

interface LiveOperation {
  controller: AbortController;
  kind: OperationKind;
  what: string;
}

export class Operations {
  private readonly live = new Map<string, LiveOperation>();

  /**
   * Runs `fn` with a signal; with an id, `cancel(id)` aborts it and the call rejects with Cancelled.
   * `what` describes the operation for the error message ("loading model lorabook-tiny").
   */
  async run<T>(
    operationId: string | undefined,
    kind: OperationKind,
    what: string,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const op: LiveOperation = { controller: new AbortController(), kind, what };
    if (operationId !== undefined) {
      if (this.live.has(operationId)) throw new Error(`an operation with the id ${operationId} is already running`);
      this.live.set(operationId, op);
    }
    try {
      return await fn(op.controller.signal);
    } catch (e) {
      // A download's HubError('cancelled'), an AbortError or a half-done step: once cancelled, it is Cancelled.
      if (op.controller.signal.aborted) throw op.controller.signal.reason;
      throw e;
    } finally {
      if (operationId !== undefined && this.live.get(operationId) === op) this.live.delete(operationId);
    }
  }

  /** Aborts the running operation `operationId`; false when none runs under that id (finished, or unknown). */
  cancel(operationId: string): boolean {
    const op = this.live.get(operationId);
    if (!op) return false;
    if (!op.controller.signal.aborted) {
      op.controller.abort(new Cancelled(`${op.what} was cancelled`, op.kind, operationId));
    }
    return true;
  }

  /** The ids of the operations running now. */
  running(): string[] {
    return [...this.live.keys()];
  }
}
