import { describe, expect, it } from 'vitest';
import {
  DatasetError,
  DeviceLost,
  GpuValidationError,
  HubError,
  OutOfMemory,
  QuotaExceeded,
  SafetensorsError,
  UnsupportedArchitecture,
  WebGPUUnavailable,
  deserializeError,
  serializeError,
} from './errors.ts';

describe('typed errors on the wire', () => {
  const cases = [
    new WebGPUUnavailable('no gpu', 'use Chrome'),
    new OutOfMemory('too big', 123, 456),
    new DeviceLost('lost', 'destroyed'),
    new GpuValidationError('bad', 'matmul_nt_f32'),
    new UnsupportedArchitecture('nope', 'model_type', 'mamba'),
    new DatasetError('bad row', 'train.jsonl', 7, 'text', 'a string'),
    new DatasetError('bad row', 'train.jsonl', 8, null, 'a JSON object'),
    new QuotaExceeded('full', 1000, 10),
    new SafetensorsError('truncated', 'model.safetensors', 'data-short', 'lm_head.weight'),
    new HubError('gated', 'gated', 'http://127.0.0.1/meta-llama/x/resolve/main/config.json', 401),
  ];
  for (const e of cases) {
    it(`${e.kind} keeps its class and fields through JSON`, () => {
      const wire = JSON.parse(JSON.stringify(serializeError(e)));
      const back = deserializeError(wire);
      expect(back).toBeInstanceOf(e.constructor);
      expect(back.message).toBe(e.message);
      expect((back as typeof e).fields()).toEqual(e.fields());
    });
  }

  it('plain errors stay plain errors with their message', () => {
    const back = deserializeError(serializeError(new TypeError('boom')));
    expect(back.message).toBe('boom');
    expect(back.name).toBe('TypeError');
    expect(deserializeError(serializeError('a string')).message).toBe('a string');
  });
});
