// Typed errors of lorabook. Every error a user can meet has a class here, with the fields that say what
// went wrong (file, row, pipeline label, ...). They cross the worker boundary and the companion's
// WebSocket as plain JSON (`serializeError`) and are rebuilt with their class (`deserializeError`), so
// `instanceof` and the fields survive.

export type ErrorFields = Record<string, string | number | boolean | null>;

export abstract class LorabookError extends Error {
  abstract readonly kind: string;
  /** Fields beyond the message that a caller may act on; serialized across boundaries. */
  fields(): ErrorFields {
    return {};
  }
}

/** navigator.gpu is missing, or no adapter/device could be had. `advice` says what to do instead. */
export class WebGPUUnavailable extends LorabookError {
  readonly kind = 'WebGPUUnavailable';
  constructor(
    message: string,
    readonly advice: string,
  ) {
    super(message);
    this.name = 'WebGPUUnavailable';
  }
  override fields(): ErrorFields {
    return { advice: this.advice };
  }
}

/** A GPU allocation failed, or the planner knows it would. */
export class OutOfMemory extends LorabookError {
  readonly kind = 'OutOfMemory';
  constructor(
    message: string,
    readonly requestedBytes: number,
    readonly liveBytes: number,
  ) {
    super(message);
    this.name = 'OutOfMemory';
  }
  override fields(): ErrorFields {
    return { requestedBytes: this.requestedBytes, liveBytes: this.liveBytes };
  }
}

/** The GPU device was lost (driver reset, tab backgrounded too long, device.destroy()). */
export class DeviceLost extends LorabookError {
  readonly kind = 'DeviceLost';
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
    this.name = 'DeviceLost';
  }
  override fields(): ErrorFields {
    return { reason: this.reason };
  }
}

/** WebGPU rejected a pipeline, bind group or dispatch; `label` names the failing pipeline. */
export class GpuValidationError extends LorabookError {
  readonly kind = 'GpuValidationError';
  constructor(
    message: string,
    readonly label: string,
  ) {
    super(message);
    this.name = 'GpuValidationError';
  }
  override fields(): ErrorFields {
    return { label: this.label };
  }
}

/** A model config asks for something lorabook does not implement; names the field and its value. */
export class UnsupportedArchitecture extends LorabookError {
  readonly kind = 'UnsupportedArchitecture';
  constructor(
    message: string,
    readonly field: string,
    readonly value: string,
  ) {
    super(message);
    this.name = 'UnsupportedArchitecture';
  }
  override fields(): ErrorFields {
    return { field: this.field, value: this.value };
  }
}

/** Malformed dataset input. `row` is 1-based (the line of a JSONL/CSV file); `column` may be null. */
export class DatasetError extends LorabookError {
  readonly kind = 'DatasetError';
  constructor(
    message: string,
    readonly file: string,
    readonly row: number,
    readonly column: string | null,
    readonly expected: string,
  ) {
    super(message);
    this.name = 'DatasetError';
  }
  override fields(): ErrorFields {
    return { file: this.file, row: this.row, column: this.column, expected: this.expected };
  }
}

/** Browser storage would overflow; says how much is needed and how much is free. */
export class QuotaExceeded extends LorabookError {
  readonly kind = 'QuotaExceeded';
  constructor(
    message: string,
    readonly neededBytes: number,
    readonly availableBytes: number,
  ) {
    super(message);
    this.name = 'QuotaExceeded';
  }
  override fields(): ErrorFields {
    return { neededBytes: this.neededBytes, availableBytes: this.availableBytes };
  }
}

/** A safetensors file or shard index that cannot be read: which file, what is wrong, which tensor. */
export class SafetensorsError extends LorabookError {
  readonly kind = 'SafetensorsError';
  constructor(
    message: string,
    readonly file: string,
    readonly reason: string,
    readonly tensor: string | null = null,
  ) {
    super(message);
    this.name = 'SafetensorsError';
  }
  override fields(): ErrorFields {
    return { file: this.file, reason: this.reason, tensor: this.tensor };
  }
}

/**
 * A Hugging Face Hub (or local folder) download that failed: `reason` says why ('not-found' 404,
 * 'gated' 401/403, 'http' other statuses, 'network' after the retries, 'integrity' a hash or size that
 * does not match, 'changed' the file changed between resumed requests, 'cancelled'), `status` the HTTP
 * status (0 when none), `url` what was requested.
 */
export class HubError extends LorabookError {
  readonly kind = 'HubError';
  constructor(
    message: string,
    readonly reason: string,
    readonly url: string,
    readonly status: number = 0,
  ) {
    super(message);
    this.name = 'HubError';
  }
  override fields(): ErrorFields {
    return { reason: this.reason, url: this.url, status: this.status };
  }
}

/** A tokenizer could not be loaded: which source (folder, model id) and file, and why. */
export class TokenizerLoadError extends LorabookError {
  readonly kind = 'TokenizerLoadError';
  constructor(
    message: string,
    readonly source: string,
    readonly file: string | null,
    readonly reason: string,
  ) {
    super(message);
    this.name = 'TokenizerLoadError';
  }
  override fields(): ErrorFields {
    return { source: this.source, file: this.file, reason: this.reason };
  }
}

export type ShareLinkReason = 'truncated' | 'corrupt' | 'too-large' | 'invalid' | 'version';

/**
 * A share link's fragment that cannot be opened: cut short ('truncated'), damaged or tampered
 * ('corrupt'), over the size limits ('too-large'), a field of the wrong type or out of range ('invalid',
 * `path` names it, e.g. "cells[3].config.lr"), or from another format version ('version').
 */
export class ShareLinkError extends LorabookError {
  readonly kind = 'ShareLinkError';
  constructor(
    message: string,
    readonly reason: ShareLinkReason,
    readonly path: string | null = null,
  ) {
    super(message);
    this.name = 'ShareLinkError';
  }
  override fields(): ErrorFields {
    return { reason: this.reason, path: this.path };
  }
}

/**
 * Data fetched by URL whose content does not match the SHA-256 it was shared with ('mismatch'), or that
 * could not be fetched ('http' with `status`, 'network'), or is larger than allowed ('too-large').
 */
export class VerifiedFetchError extends LorabookError {
  readonly kind = 'VerifiedFetchError';
  constructor(
    message: string,
    readonly reason: 'mismatch' | 'http' | 'network' | 'too-large',
    readonly url: string,
    readonly expectedSha256: string,
    readonly actualSha256: string | null = null,
    readonly status: number = 0,
  ) {
    super(message);
    this.name = 'VerifiedFetchError';
  }
  override fields(): ErrorFields {
    return {
      reason: this.reason,
      url: this.url,
      expectedSha256: this.expectedSha256,
      actualSha256: this.actualSha256,
      status: this.status,
    };
  }
}

export type AdapterImportReason = 'missing-file' | 'bad-config' | 'missing-key' | 'unexpected-key' | 'shape' | 'dtype';

/**
 * A PEFT adapter folder that cannot be imported: `file` (adapter_config.json, adapter_model.safetensors),
 * `reason`, and `key`, the config field or tensor key at fault (null when the whole file is).
 */
export class AdapterImportError extends LorabookError {
  readonly kind = 'AdapterImportError';
  constructor(
    message: string,
    readonly file: string,
    readonly reason: AdapterImportReason,
    readonly key: string | null = null,
  ) {
    super(message);
    this.name = 'AdapterImportError';
  }
  override fields(): ErrorFields {
    return { file: this.file, reason: this.reason, key: this.key };
  }
}

/**
 * A run cannot resume from its checkpoint because what it would continue with differs from what it was
 * trained with: `field` names it (model, base, dataset), `saved` and `given` the two values.
 */
export class ResumeMismatch extends LorabookError {
  readonly kind = 'ResumeMismatch';
  constructor(
    message: string,
    readonly runId: string,
    readonly field: string,
    readonly saved: string,
    readonly given: string,
  ) {
    super(message);
    this.name = 'ResumeMismatch';
  }
  override fields(): ErrorFields {
    return { runId: this.runId, field: this.field, saved: this.saved, given: this.given };
  }
}

/**
 * A long operation (model load, dataset preparation, comparison, export) stopped because it was cancelled
 * through the engine's `cancelOperation`: `operation` says which kind it was, `operationId` the id the
 * caller gave it, and the message what it was doing ("loading model lorabook-tiny was cancelled").
 */
export class Cancelled extends LorabookError {
  readonly kind = 'Cancelled';
  constructor(
    message: string,
    readonly operation: string,
    readonly operationId: string,
  ) {
    super(message);
    this.name = 'Cancelled';
  }
  override fields(): ErrorFields {
    return { operation: this.operation, operationId: this.operationId };
  }
}

/** The wire form of any error. */
export interface SerializedError {
  kind: string;
  name: string;
  message: string;
  stack?: string;
  fields: ErrorFields;
}

const str = (f: ErrorFields, k: string): string => String(f[k] ?? '');
const num = (f: ErrorFields, k: string): number => Number(f[k] ?? 0);

const rebuild: Record<string, (m: string, f: ErrorFields) => LorabookError> = {
  WebGPUUnavailable: (m, f) => new WebGPUUnavailable(m, str(f, 'advice')),
  OutOfMemory: (m, f) => new OutOfMemory(m, num(f, 'requestedBytes'), num(f, 'liveBytes')),
  DeviceLost: (m, f) => new DeviceLost(m, str(f, 'reason')),
  GpuValidationError: (m, f) => new GpuValidationError(m, str(f, 'label')),
  UnsupportedArchitecture: (m, f) => new UnsupportedArchitecture(m, str(f, 'field'), str(f, 'value')),
  DatasetError: (m, f) =>
    new DatasetError(m, str(f, 'file'), num(f, 'row'), f.column === null ? null : str(f, 'column'), str(f, 'expected')),
  QuotaExceeded: (m, f) => new QuotaExceeded(m, num(f, 'neededBytes'), num(f, 'availableBytes')),
  TokenizerLoadError: (m, f) =>
    new TokenizerLoadError(m, str(f, 'source'), f.file === null ? null : str(f, 'file'), str(f, 'reason')),
  SafetensorsError: (m, f) =>
    new SafetensorsError(m, str(f, 'file'), str(f, 'reason'), f.tensor === null ? null : str(f, 'tensor')),
  HubError: (m, f) => new HubError(m, str(f, 'reason'), str(f, 'url'), num(f, 'status')),
  ShareLinkError: (m, f) =>
    new ShareLinkError(m, str(f, 'reason') as ShareLinkReason, f.path === null ? null : str(f, 'path')),
  AdapterImportError: (m, f) =>
    new AdapterImportError(
      m,
      str(f, 'file'),
      str(f, 'reason') as AdapterImportReason,
      f.key === null ? null : str(f, 'key'),
    ),
  Cancelled: (m, f) => new Cancelled(m, str(f, 'operation'), str(f, 'operationId')),
  ResumeMismatch: (m, f) => new ResumeMismatch(m, str(f, 'runId'), str(f, 'field'), str(f, 'saved'), str(f, 'given')),
  VerifiedFetchError: (m, f) =>
    new VerifiedFetchError(
      m,
      str(f, 'reason') as VerifiedFetchError['reason'],
      str(f, 'url'),
      str(f, 'expectedSha256'),
      f.actualSha256 === null ? null : str(f, 'actualSha256'),
      num(f, 'status'),
    ),
};

export function serializeError(e: unknown): SerializedError {
  if (e instanceof LorabookError) {
    return { kind: e.kind, name: e.name, message: e.message, stack: e.stack, fields: e.fields() };
  }
  if (e instanceof Error) return { kind: 'Error', name: e.name, message: e.message, stack: e.stack, fields: {} };
  return { kind: 'Error', name: 'Error', message: String(e), fields: {} };
}

export function deserializeError(s: SerializedError): Error {
  const make = rebuild[s.kind];
  const e = make ? make(s.message, s.fields) : Object.assign(new Error(s.message), { name: s.name });
  if (s.stack) e.stack = s.stack;
  return e;
}
