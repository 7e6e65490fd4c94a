// The Node half of `npm run bench`: every shape on Dawn (lorabook f32 and f16, the naive kernel,
// @jax-js/jax on the same adapter) and on the CPU (onnxruntime-node), measured round-robin and each
// verified against the same CPU reference.

import { acquireDawn, dawnGpu } from '../companion/dawn.ts';
import { matmulBenchInputs, matmulReference } from '../src/engine/bench-matmul.ts';
import { adapterName } from '../src/gpu/capabilities.ts';
import type { BenchRecord } from './format.ts';
import { interleave, type Peer } from './measure.ts';
import { initJaxWebGpu, jaxPeer } from './peer-jax.ts';
import { enginePeer } from './peer-lorabook.ts';
import { ortNodePeer } from './peer-ort-node.ts';
import type { BenchShape } from './shapes.ts';

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
  const jaxReady = initJaxWebGpu();
  jaxReady.catch(() => {}); // reported by the jax-js peer of every shape
  const records: BenchRecord[] = [];
  try {
    for (const s of shapes) {
      const inputs = matmulBenchInputs(s.m, s.n, s.k);
      const reference = matmulReference(s.product, s.m, s.n, s.k, inputs.a, inputs.b);
      const peers: Peer[] = [enginePeer(gpu, s, 'node-dawn', 'tiled', 'f32', reps, reference)];
      // The f16 variant verifies against the reference on f16-rounded inputs, which it computes itself.
      if (gpu.caps.shaderF16) peers.push(enginePeer(gpu, s, 'node-dawn', 'tiled', 'f16', reps));
      peers.push(
        enginePeer(gpu, s, 'node-dawn', 'naive', 'f32', naiveReps(s, reps), reference),
        jaxPeer(s, inputs, reference, reps, 'node-dawn', adapter, jaxReady),
        ortNodePeer(s, inputs, reference, reps),
      );
      records.push(...(await interleave(s, peers, log)));
    }
  } finally {
    // jax-js's device is the process's (later benchmarks use jax-js too): run.ts exits explicitly.
    await jaxReady.catch(() => {});
    gpu.destroy();
  }
  return records;
}
