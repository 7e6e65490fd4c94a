import { describe, expect, it } from 'vitest';
import type { Engine } from '../engine/protocol.ts';
import { DeviceLost, WebGPUUnavailable } from '../errors.ts';
import type { CapabilityReport } from '../gpu/capabilities.ts';
import { EngineSession } from './engine-session.svelte.ts';

const caps = { adapter: { vendor: 'fake' } } as CapabilityReport;
const memory = { liveBytes: 1, pooledBytes: 2, peakLiveBytes: 3 };

function engine(init: () => Promise<CapabilityReport>): Engine {
  return { init, memory: async () => memory } as unknown as Engine;
}

describe('EngineSession', () => {
  it('becomes ready with the capability report and memory', async () => {
    const s = new EngineSession(true);
    expect(s.status).toBe('starting');
    await s.start(() => engine(async () => caps));
    expect(s.status).toBe('ready');
    expect(s.caps).toBe(caps);
    expect(s.memory).toEqual(memory);
    expect(s.engine).toBeDefined();
  });

  it('answers "unavailable" at once without navigator.gpu, then takes the worker advice', async () => {
    const s = new EngineSession(false);
    let reject: (e: unknown) => void = () => {};
    const started = s.start(() => engine(() => new Promise((_, r) => (reject = r))));
    expect(s.status).toBe('unavailable');
    expect(s.confirming).toBe(true);
    expect(s.problem?.advice).toBeNull();
    reject(new WebGPUUnavailable('no navigator.gpu', 'use Chrome'));
    await started;
    expect(s.status).toBe('unavailable');
    expect(s.confirming).toBe(false);
    expect(s.problem).toMatchObject({ name: 'WebGPUUnavailable', message: 'no navigator.gpu', advice: 'use Chrome' });
    expect(() => s.engine).toThrow(/not ready/);
  });

  it('reports other start errors as a failure, with their fields', async () => {
    const s = new EngineSession(true);
    await s.start(() => engine(() => Promise.reject(new DeviceLost('gone', 'unknown'))));
    expect(s.status).toBe('failed');
    expect(s.problem).toMatchObject({ name: 'DeviceLost', details: [['reason', 'unknown']] });
  });
});
