// The one place the notebook names the engine it drives: the device/benchmark Engine plus the run API
// (load model and dataset, train, compare, export). When `Engine` extends `RunApi` this stays an alias.

import type { Engine } from '../../engine/protocol.ts';
import type { RunApi } from '../../engine/run-api.ts';

export type NotebookEngine = Engine & RunApi;
