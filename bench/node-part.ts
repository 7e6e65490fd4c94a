// The Node half of `npm run bench`: every shape on Dawn (lorabook f32 and f16, the naive kernel,
// @jax-js/jax on the same adapter) and on the CPU (onnxruntime-node), each verified against the same
// CPU reference.

import { dawnGpu, acquireDawn } from '../companion/dawn.ts';
import { benchmarkMatmulOn, matmulBenchInputs, matmulReference } from '../src/engine/bench-matmul.ts';
import { adapterName } from '../src/gpu/capabilities.ts';
import { failedRecord, OURS, type BenchRecord, type RecordBase } from './format.ts';
import { engineRecord, matmulName } from './measure.ts';
import { destroyJaxWebGpu, initJaxWebGpu, JAX_PEER, jaxMatmul } from './peer-jax.ts';
import { cpuName, ORT_NODE_PEER, ortNodeMatmul } from './peer-ort-node.ts';
import { shapeKey, type BenchShape } from './shapes.ts';

export const NAIVE_PEER = 'naive';

/** The naive floor takes seconds a rep: 3 reps on the LM-head chunk (the run stays under 10 minutes). */
export function naiveReps(s: BenchShape, reps: number): number {
  return s.dawnOnly ? Math.min(reps, 3) : reps;
}

/** jax-js looks for navigator.gpu (and navigator.userAgent): give it Dawn's. */
function exposeDawnAsNavigatorGpu(): void {
  const g = globalThis as { navigator?: { gpu?: GPU; userAgent?: string } };
  if (!g.navigator) g.navigator = { userAgent: `Node.js ${process.version}` };
  if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: dawnGpu(), configurable: true });
}

export async function runNodePart(
  shapes: readonly BenchShape[],
  reps: number,
  log: (message: string) => void,
): Promise<BenchRecord[]> {
  const gpu = await acquireDawn();
  const adapter = adapterName(gpu.caps);
  exposeDawnAsNavigatorGpu();
  const jaxReady = initJaxWebGpu().then(
    () => null,
    (e: unknown) => e,
  );
  const records: BenchRecord[] = [];
  const attempt = async (base: RecordBase, run: () => Promise<BenchRecord>) => {
    const t0 = performance.now();
    try {
      records.push(await run());
    } catch (e) {
      records.push(failedRecord(base, e));
    }
    const r = records[records.length - 1];
    log(
      `${r.where} ${r.peer} ${r.name} ${r.shape}: ${r.gflops.toFixed(2)} GFLOP/s ${r.verified ? 'verified' : 'FAILED'} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
  };
  try {
    for (const s of shapes) {
      const { product, m, n, k } = s;
      const inputs = matmulBenchInputs(m, n, k);
      const reference = matmulReference(product, m, n, k, inputs.a, inputs.b);
      const shape = shapeKey(s);
      const base = (
        peer: string,
        where: BenchRecord['where'] = 'node-dawn',
        dtype: 'f32' | 'f16' = 'f32',
        adapterText = adapter,
      ) => ({
        name: matmulName(s, dtype),
        where,
        peer,
        shape,
        adapter: adapterText,
      });
      const req = { product, m, n, k, reps, warmup: 1 } as const;
      await attempt(base(OURS), async () =>
        engineRecord(
          s,
          'node-dawn',
          OURS,
          await benchmarkMatmulOn(gpu, { ...req, dtype: 'f32', kernel: 'tiled' }, undefined, { reference }),
        ),
      );
      if (gpu.caps.shaderF16) {
        await attempt(base(OURS, 'node-dawn', 'f16'), async () =>
          engineRecord(
            s,
            'node-dawn',
            OURS,
            await benchmarkMatmulOn(gpu, { ...req, dtype: 'f16', kernel: 'tiled' }),
            'f16',
          ),
        );
      }
      await attempt(base(NAIVE_PEER), async () =>
        engineRecord(
          s,
          'node-dawn',
          NAIVE_PEER,
          await benchmarkMatmulOn(gpu, { ...req, reps: naiveReps(s, reps), dtype: 'f32', kernel: 'naive' }, undefined, {
            reference,
          }),
        ),
      );
      await attempt(base(JAX_PEER), async () => {
        const failure = await jaxReady;
        if (failure) throw failure;
        return jaxMatmul(s, inputs, reference, reps, 'node-dawn', adapter);
      });
      await attempt(base(ORT_NODE_PEER, 'node-cpu', 'f32', `${cpuName()}, CPU EP`), () =>
        ortNodeMatmul(s, inputs, reference, reps),
      );
    }
  } finally {
    await jaxReady;
    destroyJaxWebGpu();
    gpu.destroy();
  }
  return records;
}
