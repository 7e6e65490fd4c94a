// The trainer worker: the in-process engine on this worker's navigator.gpu, exposed with comlink.
// GPU work never runs on the page's main thread.

import * as Comlink from 'comlink';
import { installErrorTransfer } from '../src/engine/comlink-errors.ts';
import { LocalEngine } from '../src/engine/local-engine.ts';
import { acquireGpu } from '../src/gpu/acquire.ts';

installErrorTransfer();
const gpu = (self.navigator as Navigator & { gpu?: GPU }).gpu;
Comlink.expose(new LocalEngine((options) => acquireGpu(gpu, 'browser', options)));
