// The browser half of `npm run bench`, loaded by bench/browser.ts in Chromium: window.runBench(shape,
// reps) measures every browser peer on one shape, round-robin, and returns their records. Inputs and
// the CPU reference are the same as in Node (matmulBenchInputs, matmulReference).

import { matmulBenchInputs, matmulReference } from '../../src/engine/bench-matmul.ts';
import { acquireGpu } from '../../src/gpu/acquire.ts';
import { adapterName } from '../../src/gpu/capabilities.ts';
import type { Gpu } from '../../src/gpu/gpu.ts';
import type { BenchRecord } from '../format.ts';
import { interleave } from '../measure.ts';
import { initJaxWebGpu, jaxPeer } from '../peer-jax.ts';
import { loraRecords } from '../lora-matmul.ts';
import { enginePeer } from '../peer-lorabook.ts';
import { BROWSER_SHAPES } from '../shapes.ts';
import { ortWasmPeer, ortWebGpuPeer } from './ort-web.ts';

declare global {
  interface Window {
    /** Measures every browser peer on BROWSER_SHAPES[shape]. */
    runBench: (shape: number, reps: number) => Promise<BenchRecord[]>;
    /** The LoRA figures of bench/lora-matmul.ts (tiled vs skinny matmul, a LoRA training step). */
    runLoraBench: (reps: number) => Promise<object[]>;
  }
}

let gpu: Promise<Gpu> | null = null;
let jax: Promise<void> | null = null;

window.runBench = async (index, reps) => {
  const s = BROWSER_SHAPES[index];
  const g = await (gpu ??= acquireGpu(navigator.gpu, 'browser'));
  jax ??= initJaxWebGpu();
  jax.catch(() => {}); // reported by the jax-js peer
  const inputs = matmulBenchInputs(s.m, s.n, s.k);
  const reference = matmulReference(s.product, s.m, s.n, s.k, inputs.a, inputs.b);
  const where = 'chromium-swiftshader';
  // The naive floor costs seconds a rep on a CPU-emulated adapter: 3 reps.
  return interleave(
    s,
    [
      enginePeer(g, s, where, 'tiled', 'f32', reps, reference),
      enginePeer(g, s, where, 'naive', 'f32', Math.min(reps, 3), reference),
      jaxPeer(s, inputs, reference, reps, where, adapterName(g.caps), jax),
      ortWebGpuPeer(s, inputs, reference, reps),
      ortWasmPeer(s, inputs, reference, reps),
    ],
    (message) => console.info(message),
  );
};

window.runLoraBench = async (reps) => {
  const g = await (gpu ??= acquireGpu(navigator.gpu, 'browser'));
  return loraRecords(g, 'chromium-swiftshader', reps, (message) => console.info(message));
};
