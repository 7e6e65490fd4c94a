// The manifest of a stored checkpoint: its state (step, data cursor, RNG counters, history) and, for every
// tensor, its length and the pieces its bytes were written as, each with its size and SHA-256. It is the
// one record that makes a checkpoint exist: written after every piece, in its own transaction. The record
// of a run and kind keeps the current write and the one before it, so a current write whose pieces turn
// out missing or altered falls back to the previous complete one.

import type { CheckpointKind, CheckpointState } from '../train/run-types.ts';
import type { PartRecord } from './manifest.ts';

export const CHECKPOINT_MANIFEST_VERSION = 1;

export interface CheckpointTensorManifest {
  name: string;
  /** Float32 values (the bytes are 4 × length). */
  length: number;
  parts: PartRecord[];
}

/** One complete write of a checkpoint: its pieces are keyed [runId, kind, writeId, tensor index, part]. */
export interface CheckpointWrite {
  version: number;
  writeId: string;
  step: number;
  createdAt: number;
  totalBytes: number;
  state: CheckpointState;
  tensors: CheckpointTensorManifest[];
}

/** The record in the `checkpoints` store, one per run and kind. */
export interface CheckpointRecord {
  /** `${kind}:${runId}` */
  id: string;
  runId: string;
  kind: CheckpointKind;
  current: CheckpointWrite;
  /** The write before `current`, kept (with its pieces) until the next one commits. */
  previous: CheckpointWrite | null;
}

export const checkpointId = (runId: string, kind: CheckpointKind): string => `${kind}:${runId}`;
