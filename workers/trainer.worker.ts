// The trainer worker: the in-process engine on this worker's navigator.gpu, exposed with comlink.
// GPU work never runs on the page's main thread.

import * as Comlink from 'comlink';
import { installErrorTransfer } from '../src/engine/comlink-errors.ts';
import { LocalEngine } from '../src/engine/local-engine.ts';
import { acquireGpu } from '../src/gpu/acquire.ts';
import { fetchEngineHost } from '../src/engine/fetch-host.ts';
import { lazyRunStore } from '../src/engine/runs.ts';
import { IdbCheckpointStore } from '../src/store/checkpoints.ts';

installErrorTransfer();
const gpu = (self.navigator as Navigator & { gpu?: GPU }).gpu;
// Built-in models and datasets come from the app's public folder on this origin; checkpoints go to IndexedDB.
const host = {
  ...fetchEngineHost(new URL(import.meta.env.BASE_URL, self.location.origin).href),
  checkpoints: lazyRunStore(() => IdbCheckpointStore.open()),
};
Comlink.expose(new LocalEngine((options) => acquireGpu(gpu, 'browser', options), host));
