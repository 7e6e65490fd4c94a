import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { randomArray } from '../reference/compare.ts';
import { adamwStepRef, clipCoefficientRef, TORCH_ADAMW_DEFAULTS, type AdamWConfig } from '../reference/optim.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { adamw, gradNorm } from './optim.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

describe('gradient norm and clipping on Dawn', () => {
  const sizes = [1, 257, 5000, 300_001];
  const grads = sizes.map((n, i) => randomArray(n, i + 1));
  for (const maxNorm of [0, 1, 1e6]) {
    it(`max_norm ${maxNorm}`, async () => {
      const ts = grads.map((g, i) => gpu.upload(g, [g.length], 'f32', `g${i}`));
      const stats = gpu.empty([2], 'f32', 'stats');
      const step = gpu.step('norm');
      await gradNorm(step, ts, stats, maxNorm);
      await step.submit();
      const [norm, coef] = await gpu.readF32(stats);
      const ref = clipCoefficientRef(grads, maxNorm);
      expectClose([norm], [ref.norm], 0, 1e-5, 'norm');
      expectClose([coef], [ref.coef], 0, 1e-5, 'coef');
      if (maxNorm === 1) expect(coef).toBeLessThan(1);
      if (maxNorm !== 1) expect(coef).toBe(1);
      gpu.release(...ts, stats);
    });
  }
});

describe('AdamW on Dawn', () => {
  const cfgs: [string, AdamWConfig][] = [
    ['torch defaults', TORCH_ADAMW_DEFAULTS],
    ['LoRA-like', { lr: 2e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }],
    ['strong decay', { lr: 0.05, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.3 }],
  ];
  for (const [name, cfg] of cfgs) {
    it(`5 steps with clipping, ${name}`, async () => {
      const n = 1031;
      const p = Float64Array.from(randomArray(n, 1));
      const m = new Float64Array(n);
      const v = new Float64Array(n);
      const tp = gpu.upload(p, [n], 'f32', 'p');
      const tg = gpu.empty([n], 'f32', 'g');
      const tm = gpu.upload(m, [n], 'f32', 'm');
      const tv = gpu.upload(v, [n], 'f32', 'v');
      const stats = gpu.empty([2], 'f32', 'stats');
      for (let t = 1; t <= 5; t++) {
        const g = randomArray(n, 100 + t).map((x) => x * (t % 2 ? 3 : 0.01));
        gpu.write(tg, g);
        const step = gpu.step('adamw');
        await gradNorm(step, [tg], stats, 1.0);
        await adamw(step, [{ param: tp, grad: tg, m: tm, v: tv }], stats, cfg, t);
        await step.submit();
        const { coef } = clipCoefficientRef([g], 1.0);
        adamwStepRef(
          p,
          g.map((x) => x * coef),
          m,
          v,
          cfg,
          t,
        );
      }
      expectClose(await gpu.readF32(tp), p, 1e-6, 1e-5, 'p');
      expectClose(await gpu.readF32(tm), m, 1e-7, 1e-4, 'm');
      expectClose(await gpu.readF32(tv), v, 1e-9, 1e-4, 'v');
      gpu.release(tp, tg, tm, tv, stats);
    });
  }
});
