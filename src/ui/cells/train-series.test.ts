import { describe, expect, it } from 'vitest';
import type { EvalMetrics, StepMetrics } from '../../train/run-types.ts';
import { zipFiles } from '../download.ts';
import { unzipSync } from 'fflate';
import { chartMarks, trainSeries } from './train-series.ts';
import { formatDuration, formatSci } from './time.ts';

const step = (s: number, loss: number): StepMetrics => ({
  step: s,
  epoch: 0,
  loss,
  lr: s * 1e-3,
  gradNorm: 1 / s,
  tokens: 10,
  tokensPerSec: 100 * s,
  rowTokens: 80,
  rowTokensPerSec: 800 * s,
  elapsedMs: s,
  etaMs: 0,
  totalSteps: 3,
});
const val = (s: number, loss: number): EvalMetrics => ({
  split: 'validation',
  step: s,
  examples: 1,
  tokens: 1,
  loss,
  perplexity: 1,
});

describe('trainSeries', () => {
  it('aligns validation points (including step 0) with the steps, null elsewhere', () => {
    const t = trainSeries(
      [step(1, 3), step(2, 2), step(3, 1)],
      [val(0, 4), val(2, 2.5), { ...val(2, 9), split: 'test' }],
    );
    expect(t.x).toEqual([0, 1, 2, 3]);
    expect(t.loss).toEqual([null, 3, 2, 1]);
    expect(t.validation).toEqual([4, null, 2.5, null]);
    expect(t.lr).toEqual([null, 1e-3, 2e-3, 3e-3]);
    expect(t.tokensPerSec).toEqual([null, 100, 200, 300]);
    expect(t.rowTokensPerSec).toEqual([null, 800, 1600, 2400]);
  });

  it('draws steps recorded without processed tokens (older checkpoints) as gaps, not zeros', () => {
    const { rowTokens: _r, rowTokensPerSec: _p, ...old } = step(1, 3);
    const t = trainSeries([old, step(2, 2)], []);
    expect(t.x).toEqual([1, 2]);
    expect(t.rowTokensPerSec).toEqual([null, 1600]);
    expect(t.tokensPerSec).toEqual([100, 200]);
  });

  it('marks early stopping and the restored best step', () => {
    expect(
      chartMarks([
        { step: 7, kind: 'early-stop', label: '' },
        { step: 4, kind: 'best', label: '' },
      ]),
    ).toEqual([
      { x: 7, label: 'early stop · step 7', color: 'var(--warn)' },
      { x: 4, label: 'best · step 4', color: 'var(--ok)' },
    ]);
  });
});

describe('formatting and downloads', () => {
  it('formats durations and learning rates for people', () => {
    expect(formatDuration(45_000)).toBe('45 s');
    expect(formatDuration(200_000)).toBe('3 min 20 s');
    expect(formatDuration(3_900_000)).toBe('1 h 5 min');
    expect(formatSci(0.003)).toBe('3e-3');
    expect(formatSci(0.0002)).toBe('2e-4');
    expect(formatSci(0.05)).toBe('0.05');
  });

  it('zips an export folder with every file intact', () => {
    const files = [
      { path: 'adapter_config.json', bytes: new TextEncoder().encode('{"peft_type":"LORA"}') },
      {
        path: 'adapter_model.safetensors',
        bytes: new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]),
      },
    ];
    const out = unzipSync(zipFiles(files, 'my-adapter'));
    expect(Object.keys(out).sort()).toEqual(['my-adapter/adapter_config.json', 'my-adapter/adapter_model.safetensors']);
    expect(out['my-adapter/adapter_model.safetensors']).toEqual(files[1].bytes);
  });
});
