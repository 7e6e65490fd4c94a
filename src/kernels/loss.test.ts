import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import { randomArray } from '../reference/compare.ts';
import { inverseTokenCount, lmHeadCrossEntropyRef } from '../reference/loss.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { lmHeadCrossEntropy } from './loss.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

function makeLabels(n: number, vocab: number, seed: number): number[] {
  const r = randomArray(n, seed);
  return Array.from(r, (x, i) => (i % 5 === 3 ? -100 : Math.floor(((x + 1) / 2) * vocab) % vocab));
}

describe('LM head fused with cross-entropy on Dawn', () => {
  const cases = [
    { n: 1, d: 8, vocab: 10, chunk: 10 },
    { n: 7, d: 33, vocab: 200, chunk: 64 }, // 4 chunks, the last one a tail of 8
    { n: 37, d: 64, vocab: 1024, chunk: 256 },
    { n: 64, d: 128, vocab: 1024, chunk: 1024 },
  ];
  for (const c of cases) {
    it(`N=${c.n} D=${c.d} V=${c.vocab} in chunks of ${c.chunk}`, async () => {
      const h = randomArray(c.n * c.d, 1);
      const w = randomArray(c.vocab * c.d, 2).map((x) => x * 0.5);
      const labels = makeLabels(c.n, c.vocab, 3);
      const inv = inverseTokenCount([labels]);
      const dw0 = randomArray(c.vocab * c.d, 4);
      const th = gpu.upload(h, [c.n, c.d], 'f32', 'h');
      const tw = gpu.upload(w, [c.vocab, c.d], 'f32', 'W');
      const tl = gpu.upload(labels, [c.n], 'i32', 'labels');
      const loss = gpu.empty([1], 'f32', 'loss');
      const rowLoss = gpu.empty([c.n], 'f32', 'row loss');
      const dh = gpu.empty([c.n, c.d], 'f32', 'dh');
      const dw = gpu.upload(dw0, [c.vocab, c.d], 'f32', 'dW');
      const live = gpu.pool.liveBytes;
      const step = gpu.step('lm head');
      await lmHeadCrossEntropy(step, {
        h: th,
        w: tw,
        labels: tl,
        n: c.n,
        d: c.d,
        vocab: c.vocab,
        invCount: inv,
        loss,
        rowLoss,
        dh,
        dw,
        chunk: c.chunk,
      });
      await step.submit();
      expect(gpu.pool.liveBytes).toBe(live); // temporaries given back
      const ref = lmHeadCrossEntropyRef(h, w, labels, c.d, c.vocab, inv);
      expectClose(await gpu.readF32(loss), [ref.loss], 1e-5, 1e-5, 'loss');
      expectClose(await gpu.readF32(rowLoss), ref.rowLoss, 1e-5, 1e-5, 'row loss');
      expectClose(await gpu.readF32(dh), ref.dh, 1e-6, 1e-4, 'dh');
      expectClose(
        await gpu.readF32(dw),
        ref.dw.map((v, i) => v + dw0[i]),
        1e-6,
        1e-4,
        'dW',
      );
      gpu.release(th, tw, tl, loss, rowLoss, dh, dw);
    });
  }

  it('4 micro-batches of 1 row equal 1 batch of 4 (loss and gradients)', async () => {
    const [d, vocab] = [16, 300];
    const h = randomArray(4 * d, 7);
    const w = randomArray(vocab * d, 8);
    const labels = [5, -100, 299, 0];
    const inv = inverseTokenCount(labels.map((l) => [l]));
    const tw = gpu.upload(w, [vocab, d], 'f32', 'W');
    const run = async (rows: number[][]) => {
      const loss = gpu.empty([1], 'f32', 'loss');
      const dw = gpu.upload(new Float32Array(vocab * d), [vocab, d], 'f32', 'dW');
      const dhs: Float32Array[] = [];
      let offset = 0;
      for (let i = 0; i < rows.length; i++) {
        const n = rows[i].length;
        const th = gpu.upload(h.subarray(offset * d, (offset + n) * d), [n, d], 'f32', 'h');
        const tl = gpu.upload(rows[i], [n], 'i32', 'labels');
        const dh = gpu.empty([n, d], 'f32', 'dh');
        const step = gpu.step('micro');
        const args = { h: th, w: tw, labels: tl, n, d, vocab, invCount: inv, loss, accumulateLoss: i > 0 };
        await lmHeadCrossEntropy(step, { ...args, dh, dw, chunk: 128 });
        await step.submit();
        dhs.push(await gpu.readF32(dh));
        gpu.release(th, tl, dh);
        offset += n;
      }
      const out = {
        loss: (await gpu.readF32(loss))[0],
        dw: await gpu.readF32(dw),
        dh: Float32Array.from(dhs.flatMap((x) => [...x])),
      };
      gpu.release(loss, dw);
      return out;
    };
    const whole = await run([labels]);
    const micro = await run(labels.map((l) => [l]));
    expectClose([micro.loss], [whole.loss], 1e-6, 1e-5, 'loss');
    expectClose(micro.dh, whole.dh, 1e-7, 1e-5, 'dh');
    expectClose(micro.dw, whole.dw, 1e-7, 1e-5, 'dW');
    const ref = lmHeadCrossEntropyRef(h, w, labels, d, vocab, inv);
    expectClose([whole.loss], [ref.loss], 1e-5, 1e-5, 'loss vs reference');
    gpu.release(tw);
  });
});
