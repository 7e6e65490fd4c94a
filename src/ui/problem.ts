// What the notebook shows for an error: its name, message and typed fields, never a stack trace.

import { LorabookError, WebGPUUnavailable } from '../errors.ts';

export interface Problem {
  name: string;
  message: string;
  /** What to do about it, when the error says (WebGPUUnavailable). */
  advice: string | null;
  /** The typed error's other fields (file, row, requestedBytes, ...), as label/value pairs. */
  details: [string, string][];
}

export function describeError(e: unknown): Problem {
  if (e instanceof WebGPUUnavailable) {
    return { name: e.name, message: e.message, advice: e.advice || null, details: [] };
  }
  if (e instanceof LorabookError) {
    const details = Object.entries(e.fields())
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]): [string, string] => [k, String(v)]);
    return { name: e.name, message: e.message, advice: null, details };
  }
  if (e instanceof Error) return { name: e.name || 'Error', message: e.message, advice: null, details: [] };
  return { name: 'Error', message: String(e), advice: null, details: [] };
}
