import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../gpu/gpu.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { attentionBackwardRef, attentionRef, type AttentionShape } from '../reference/attention.ts';
import { randomArray } from '../reference/compare.ts';
import { expectClose, testGpu } from '../test/gpu.ts';
import { attentionBackward, attentionForward, attentionTiles, attentionWorkgroupBytes } from './attention.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

interface Case extends AttentionShape {
  /** Per batch row: the lengths of its packed examples (summing to seq), and optionally their ids. */
  examples?: number[][];
  ids?: number[][];
  /** Multiplies q, to make the softmax peaky (exercises the online max's rescaling). */
  qGain?: number;
  maxWorkgroupBytes?: number;
}

function segmentIds(c: Case): number[] {
  const out: number[] = [];
  for (let b = 0; b < c.batch; b++) {
    const lengths = c.examples?.[b] ?? [c.seq];
    if (lengths.reduce((x, y) => x + y, 0) !== c.seq) throw new Error('example lengths must sum to seq');
    lengths.forEach((n, e) => out.push(...Array<number>(n).fill(c.ids?.[b][e] ?? e)));
  }
  return out;
}

interface Inputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  dO: Float32Array;
  seg: number[];
}

function inputs(c: Case, seed: number): Inputs {
  const nq = c.batch * c.seq * c.headsQ * c.headDim;
  const nkv = c.batch * c.seq * c.headsKV * c.headDim;
  const gain = c.qGain ?? 1;
  return {
    q: randomArray(nq, seed).map((x) => x * gain),
    k: randomArray(nkv, seed + 1),
    v: randomArray(nkv, seed + 2),
    dO: randomArray(nq, seed + 3),
    seg: segmentIds(c),
  };
}

interface Outputs {
  o: Float32Array;
  lse: Float32Array;
  dq: Float32Array;
  dk: Float32Array;
  dv: Float32Array;
}

/** Forward and backward on the GPU in one step. */
async function runGpu(c: Case, x: Inputs): Promise<Outputs> {
  const { batch: B, seq: T, headsQ: hq, headsKV: hkv, headDim: d } = c;
  const qShape = [B, T, hq, d];
  const kvShape = [B, T, hkv, d];
  const t: Record<string, Tensor> = {
    q: gpu.upload(x.q, qShape, 'f32', 'q'),
    k: gpu.upload(x.k, kvShape, 'f32', 'k'),
    v: gpu.upload(x.v, kvShape, 'f32', 'v'),
    dO: gpu.upload(x.dO, qShape, 'f32', 'dO'),
    segments: gpu.upload(x.seg, [B, T], 'u32', 'segments'),
    o: gpu.empty(qShape, 'f32', 'o'),
    lse: gpu.empty([B, hq, T], 'f32', 'lse'),
    dq: gpu.empty(qShape, 'f32', 'dq'),
    dk: gpu.empty(kvShape, 'f32', 'dk'),
    dv: gpu.empty(kvShape, 'f32', 'dv'),
  };
  const shape = {
    segments: t.segments,
    batch: B,
    seq: T,
    headsQ: hq,
    headsKV: hkv,
    headDim: d,
    window: c.window,
    maxWorkgroupBytes: c.maxWorkgroupBytes,
  };
  const step = gpu.step('attention');
  await attentionForward(step, { ...shape, q: t.q, k: t.k, v: t.v, o: t.o, lse: t.lse });
  await attentionBackward(step, {
    ...shape,
    q: t.q,
    k: t.k,
    v: t.v,
    o: t.o,
    lse: t.lse,
    dO: t.dO,
    dq: t.dq,
    dk: t.dk,
    dv: t.dv,
  });
  await step.submit();
  const out: Outputs = {
    o: await gpu.readF32(t.o),
    lse: await gpu.readF32(t.lse),
    dq: await gpu.readF32(t.dq),
    dk: await gpu.readF32(t.dk),
    dv: await gpu.readF32(t.dv),
  };
  gpu.release(...Object.values(t));
  return out;
}

async function checkCase(c: Case, seed: number): Promise<void> {
  const live = gpu.pool.liveBytes;
  const x = inputs(c, seed);
  const got = await runGpu(c, x);
  const ref = attentionRef(x.q, x.k, x.v, x.seg, c);
  const g = attentionBackwardRef(x.dO, x.q, x.k, x.v, x.seg, c);
  expectClose(got.o, ref.o, 1e-5, 1e-4, 'o');
  expectClose(got.lse, ref.lse, 1e-5, 1e-4, 'lse');
  expectClose(got.dq, g.dq, 1e-4, 1e-3, 'dq');
  expectClose(got.dk, g.dk, 1e-4, 1e-3, 'dk');
  expectClose(got.dv, g.dv, 1e-4, 1e-3, 'dv');
  expect(gpu.pool.liveBytes).toBe(live); // the backward's δ went back to the pool
}

describe('attention on Dawn against the float64 reference', () => {
  const cases: [string, Case][] = [
    ['T=1', { batch: 1, seq: 1, headsQ: 1, headsKV: 1, headDim: 32 }],
    ['T=37, MHA (ratio 1), D=32', { batch: 1, seq: 37, headsQ: 4, headsKV: 4, headDim: 32 }],
    [
      'B=2, T=37, GQA ratio 2, D=64, packed examples with boundaries at odd offsets and unordered ids',
      {
        batch: 2,
        seq: 37,
        headsQ: 4,
        headsKV: 2,
        headDim: 64,
        examples: [
          [5, 13, 19],
          [1, 22, 3, 11],
        ],
        ids: [
          [0, 1, 2],
          [9, 2, 5, 0],
        ],
      },
    ],
    [
      // Whole tiles fall outside the window and are skipped; with 32-wide tiles, key 31's last visible
      // query (31 + 34 − 1 = 64) is the first of a query tile, so an off-by-one in the skipping shows.
      'T=101, GQA ratio 3, D=32, sliding window 34, peaky softmax, packed',
      { batch: 1, seq: 101, headsQ: 6, headsKV: 2, headDim: 32, window: 34, qGain: 4, examples: [[21, 80]] },
    ],
    ['T=19, GQA ratio 2, D=128', { batch: 1, seq: 19, headsQ: 4, headsKV: 2, headDim: 128 }],
    [
      'T=45, GQA ratio 3, D=64, tiles for a 16 KiB workgroup memory, sliding window 10, packed',
      {
        batch: 1,
        seq: 45,
        headsQ: 3,
        headsKV: 1,
        headDim: 64,
        window: 10,
        examples: [[17, 28]],
        maxWorkgroupBytes: 16384,
      },
    ],
    [
      // Evaluation's layout: a prompt (segment 3) and continuations that each see it but not each other
      // (branch ids 3·2^16 + j), across tile boundaries, then padding (segment 0) that no branch sees.
      'T=70, GQA ratio 2, D=32, a prefix with three branches, then padding',
      {
        batch: 1,
        seq: 70,
        headsQ: 4,
        headsKV: 2,
        headDim: 32,
        examples: [[30, 9, 14, 5, 12]],
        ids: [[3, 3 * 65536 + 1, 3 * 65536 + 2, 3 * 65536 + 7, 0]],
      },
    ],
    [
      "B=1, T=512, Hq=9, Hkv=3, D=64 (SmolLM2-135M's heads), packed",
      { batch: 1, seq: 512, headsQ: 9, headsKV: 3, headDim: 64, examples: [[301, 211]] },
    ],
  ];
  cases.forEach(([name, c], n) => it(name, () => checkCase(c, 10 * n + 1)));
});

describe('attention properties', () => {
  const c: Case = {
    batch: 2,
    seq: 70,
    headsQ: 6,
    headsKV: 2,
    headDim: 32,
    examples: [
      [33, 37],
      [9, 61],
    ],
  };

  it('two runs are bitwise identical', async () => {
    const x = inputs(c, 5);
    const a = await runGpu(c, x);
    const b = await runGpu(c, x);
    for (const key of ['o', 'lse', 'dq', 'dk', 'dv'] as const) {
      expect(Buffer.from(a[key].buffer).equals(Buffer.from(b[key].buffer)), key).toBe(true);
    }
  });

  it('a query never sees keys of another example', async () => {
    const x = inputs(c, 6);
    const a = await runGpu(c, x);
    // Change k and v at every position of each row's first example (positions < 33 and < 9).
    const y: Inputs = { ...x, k: x.k.slice(), v: x.v.slice() };
    const perToken = c.headsKV * c.headDim;
    const firstLen = [33, 9];
    for (let b = 0; b < c.batch; b++) {
      for (let i = b * c.seq * perToken; i < (b * c.seq + firstLen[b]) * perToken; i++) {
        y.k[i] += 0.5;
        y.v[i] -= 0.25;
      }
    }
    const z = await runGpu(c, y);
    const perQ = c.headsQ * c.headDim;
    for (let b = 0; b < c.batch; b++) {
      const first = [b * c.seq * perQ, (b * c.seq + firstLen[b]) * perQ];
      const second = [first[1], (b + 1) * c.seq * perQ];
      // The second example's outputs and dq are bitwise unchanged; the first example's did change.
      for (const key of ['o', 'dq'] as const) {
        expect(Array.from(z[key].subarray(second[0], second[1]))).toEqual(
          Array.from(a[key].subarray(second[0], second[1])),
        );
        expect(Array.from(z[key].subarray(first[0], first[1]))).not.toEqual(
          Array.from(a[key].subarray(first[0], first[1])),
        );
      }
      const kvSecond = [(b * c.seq + firstLen[b]) * perToken, (b + 1) * c.seq * perToken];
      for (const key of ['dk', 'dv'] as const) {
        expect(Array.from(z[key].subarray(kvSecond[0], kvSecond[1]))).toEqual(
          Array.from(a[key].subarray(kvSecond[0], kvSecond[1])),
        );
      }
    }
  });

  it('tilings fit the workgroup memory they were chosen for', () => {
    for (const d of [32, 64, 128]) {
      for (const limit of [16384, 32768, 49152]) {
        for (const kind of ['fwd', 'dq', 'dkv'] as const) {
          if (d === 128 && limit === 16384 && kind !== 'fwd') {
            expect(() => attentionTiles(kind, d, limit)).toThrow(RangeError);
            continue;
          }
          const t = attentionTiles(kind, d, limit);
          expect(attentionWorkgroupBytes(kind, d, t.rows, t.cols)).toBeLessThanOrEqual(limit);
          expect(t.rows * t.tpr).toBeLessThanOrEqual(128);
        }
      }
    }
  });
});
