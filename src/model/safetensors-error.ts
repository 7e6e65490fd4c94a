// A safetensors file or shard index that cannot be read. Why its own class: a download can be truncated or
// a file mislabeled, and the user needs to know which file and what is wrong with it (re-download, pick
// another revision), which none of the engine's other errors say. `tensor` is set when one entry is at fault.

import { LorabookError, type ErrorFields } from '../errors.ts';

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
