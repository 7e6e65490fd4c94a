// Learning-rate schedules against values worked out by hand from HF transformers' lr_lambda formulas.

import { describe, expect, it } from 'vitest';
import { lrAtStep, lrMultiplier } from './schedule.ts';

describe('learning-rate schedules (HF get_*_schedule_with_warmup)', () => {
  const base = { warmupSteps: 4, totalSteps: 12 };

  it('warmup rises linearly from 0; the first update has lr 0', () => {
    for (const schedule of ['constant', 'linear', 'cosine'] as const) {
      const m = [0, 1, 2, 3].map((s) => lrMultiplier({ ...base, schedule }, s));
      expect(m).toEqual([0, 0.25, 0.5, 0.75]);
      expect(lrAtStep({ ...base, schedule, lr: 0.002 }, 1)).toBe(0);
      expect(lrAtStep({ ...base, schedule, lr: 0.002 }, 3)).toBe(0.001);
    }
  });

  it('constant stays at the peak after warmup', () => {
    for (const s of [4, 5, 11, 12, 40]) expect(lrMultiplier({ ...base, schedule: 'constant' }, s)).toBe(1);
  });

  it('linear decays from 1 at the end of warmup to 0 at totalSteps, never below', () => {
    const m = [4, 5, 6, 8, 10, 11, 12, 13].map((s) => lrMultiplier({ ...base, schedule: 'linear' }, s));
    expect(m).toEqual([1, 7 / 8, 6 / 8, 4 / 8, 2 / 8, 1 / 8, 0, 0]);
  });

  it('cosine follows half a cosine from 1 to 0', () => {
    const cos = (s: number) => lrMultiplier({ ...base, schedule: 'cosine' }, s);
    expect(cos(4)).toBe(1);
    expect(cos(6)).toBeCloseTo(0.5 * (1 + Math.SQRT1_2), 15); // progress 1/4
    expect(cos(8)).toBeCloseTo(0.5, 15); // progress 1/2
    expect(cos(10)).toBeCloseTo(0.5 * (1 - Math.SQRT1_2), 15);
    expect(cos(12)).toBe(0);
  });

  it('no warmup: the first update uses the peak rate', () => {
    expect(lrAtStep({ schedule: 'linear', lr: 0.1, warmupSteps: 0, totalSteps: 10 }, 1)).toBe(0.1);
    expect(lrAtStep({ schedule: 'linear', lr: 0.1, warmupSteps: 0, totalSteps: 10 }, 10)).toBeCloseTo(0.01, 15);
    expect(lrAtStep({ schedule: 'cosine', lr: 0.1, warmupSteps: 0, totalSteps: 10 }, 6)).toBeCloseTo(0.05, 15);
  });

  it('rejects bad steps', () => {
    expect(() => lrAtStep({ schedule: 'constant', lr: 1, warmupSteps: 0, totalSteps: 1 }, 0)).toThrow(RangeError);
    expect(() => lrMultiplier({ schedule: 'constant', warmupSteps: -1, totalSteps: 1 }, 0)).toThrow(RangeError);
  });
});
