// The notebook's connection to the engine (the trainer worker): whether a GPU device could be had, its
// capability report and memory. Only plain, structured-cloneable data is reactive here; the engine itself
// (a comlink proxy of the worker) is a private, non-reactive field.

import type { Engine, MemoryReport } from '../engine/protocol.ts';
import { WebGPUUnavailable } from '../errors.ts';
import type { CapabilityReport } from '../gpu/capabilities.ts';
import { describeError, type Problem } from './problem.ts';

export type SessionStatus = 'starting' | 'ready' | 'unavailable' | 'failed';

/** After this long without an answer from the worker the notebook says that it is still waiting. */
const SLOW_START_MS = 20_000;

export class EngineSession {
  status = $state<SessionStatus>('starting');
  caps = $state.raw<CapabilityReport | null>(null);
  memory = $state.raw<MemoryReport | null>(null);
  problem = $state.raw<Problem | null>(null);
  /** The main thread already found no navigator.gpu; the worker's typed answer is still on its way. */
  confirming = $state(false);
  /** The worker is taking unusually long to acquire a device. */
  slow = $state(false);

  #engine: Engine | null = null;

  /** `mainThreadHasGpu`: whether this page's navigator has `gpu` (the fast, preliminary answer). */
  constructor(private readonly mainThreadHasGpu: boolean) {}

  /** The engine, once a device is ready. */
  get engine(): Engine {
    if (!this.#engine || this.status !== 'ready') throw new Error('the GPU engine is not ready');
    return this.#engine;
  }

  /** Starts the engine and acquires its device. The worker's typed error decides "unavailable". */
  async start(createEngine: () => Engine): Promise<void> {
    if (!this.mainThreadHasGpu) {
      this.status = 'unavailable';
      this.confirming = true;
      this.problem = {
        name: 'WebGPUUnavailable',
        message: 'This browser does not expose WebGPU (navigator.gpu is missing).',
        advice: null,
        details: [],
      };
    }
    const timer = setTimeout(() => (this.slow = true), SLOW_START_MS);
    try {
      this.#engine = createEngine();
      this.caps = await this.#engine.init();
      this.problem = null;
      this.status = 'ready';
      await this.refreshMemory();
    } catch (e) {
      this.problem = describeError(e);
      this.status = e instanceof WebGPUUnavailable ? 'unavailable' : 'failed';
    } finally {
      clearTimeout(timer);
      this.slow = false;
      this.confirming = false;
    }
  }

  /** Re-reads the engine's GPU memory counters (after work that allocates). */
  async refreshMemory(): Promise<void> {
    if (!this.#engine || this.status !== 'ready') return;
    this.memory = await this.#engine.memory();
  }

  async dispose(): Promise<void> {
    const engine = this.#engine;
    this.#engine = null;
    this.status = 'starting';
    await engine?.dispose();
  }
}
