// comlink's default 'throw' handler rebuilds every error as a plain Error, dropping a DatasetError's
// class and row. This handler sends the typed wire form instead; both sides of a worker must install it.

import * as Comlink from 'comlink';
import { deserializeError, serializeError, type SerializedError } from '../errors.ts';

interface ThrownValue {
  value: unknown;
}

let installed = false;

export function installErrorTransfer(): void {
  if (installed) return;
  installed = true;
  // comlink does not export its thrown-value marker; its own handler knows how to recognise one.
  const builtin = Comlink.transferHandlers.get('throw');
  if (!builtin) throw new Error("comlink has no 'throw' transfer handler to replace");
  Comlink.transferHandlers.set('throw', {
    canHandle: builtin.canHandle,
    serialize: (v: ThrownValue) => [serializeError(v.value), []],
    deserialize: (s: unknown) => {
      throw deserializeError(s as SerializedError);
    },
  } as Comlink.TransferHandler<unknown, unknown>);
}
