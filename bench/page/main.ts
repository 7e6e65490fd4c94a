// The browser half of `npm run bench`, loaded by bench/browser.ts in Chromium: window.runBench(peer,
// reps) measures one peer on every browser shape and returns its records. Inputs and CPU references
// are the same as in Node (matmulBenchInputs, matmulReference) and computed once per page.

import { benchmarkMatmulOn, matmulBenchInputs, matmulReference } from '../../src/engine/bench-matmul.ts';
import { acquireGpu } from '../../src/gpu/acquire.ts';
import { adapterName } from '../../src/gpu/capabilities.ts';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { failedRecord, type BenchRecord, type Where } from '../format.ts';
import { engineRecord, matmulName } from '../measure.ts';
import { initJaxWebGpu, jaxMatmul } from '../peer-jax.ts';
import { SHAPES, shapeKey, type BenchShape } from '../shapes.ts';
import { ORT_WEB_PEER, ortWasmMatmul, ortWebGpuMatmul } from './ort-web.ts';

export type BrowserPeer = 'lorabook' | 'naive' | 'jax-js' | 'onnxruntime-web-webgpu' | 'onnxruntime-web-wasm';

declare global {
  interface Window {
    runBench: (peer: BrowserPeer, reps: number) => Promise<BenchRecord[]>;
  }
}

const data = new Map<string, { inputs: { a: Float32Array; b: Float32Array }; reference: Float32Array }>();
function shapeData(s: BenchShape) {
  const key = `${s.product}|${shapeKey(s)}`;
  let d = data.get(key);
  if (!d) {
    const inputs = matmulBenchInputs(s.m, s.n, s.k);
    d = { inputs, reference: matmulReference(s.product, s.m, s.n, s.k, inputs.a, inputs.b) };
    data.set(key, d);
  }
  return d;
}

let gpu: Promise<Gpu> | null = null;
let jax: Promise<void> | null = null;

async function measure(peer: BrowserPeer, s: BenchShape, reps: number): Promise<BenchRecord> {
  const { inputs, reference } = shapeData(s);
  const { product, m, n, k } = s;
  switch (peer) {
    case 'lorabook':
    case 'naive': {
      const g = await (gpu ??= acquireGpu(navigator.gpu, 'browser'));
      const kernel = peer === 'lorabook' ? 'tiled' : 'naive';
      // The naive floor costs seconds a rep on a CPU-emulated adapter: 3 reps.
      const peerReps = peer === 'naive' ? Math.min(reps, 3) : reps;
      const r = await benchmarkMatmulOn(
        g,
        { product, m, n, k, dtype: 'f32', kernel, reps: peerReps, warmup: 1 },
        undefined,
        {
          reference,
        },
      );
      return engineRecord(s, 'chromium-swiftshader', peer, r);
    }
    case 'jax-js': {
      await (jax ??= initJaxWebGpu());
      const g = await (gpu ??= acquireGpu(navigator.gpu, 'browser'));
      return jaxMatmul(s, inputs, reference, reps, 'chromium-swiftshader', adapterName(g.caps));
    }
    case 'onnxruntime-web-webgpu':
      return ortWebGpuMatmul(s, inputs, reference, reps);
    case 'onnxruntime-web-wasm':
      return ortWasmMatmul(s, inputs, reference, reps);
  }
}

window.runBench = async (peer, reps) => {
  const records: BenchRecord[] = [];
  for (const s of SHAPES.filter((x) => !x.dawnOnly)) {
    const t0 = performance.now();
    try {
      records.push(await measure(peer, s, reps));
    } catch (e) {
      const where: Where = peer === 'onnxruntime-web-wasm' ? 'chromium-wasm' : 'chromium-swiftshader';
      const name = peer.startsWith('onnxruntime') ? ORT_WEB_PEER : peer;
      records.push(failedRecord({ name: matmulName(s), where, peer: name, shape: shapeKey(s), adapter: '' }, e));
    }
    const r = records[records.length - 1];
    console.info(
      `${r.where} ${r.peer} ${r.name} ${r.shape}: ${r.gflops.toFixed(2)} GFLOP/s ${r.verified ? 'verified' : 'FAILED'} ` +
        `(${((performance.now() - t0) / 1000).toFixed(1)} s)${r.error ? ` ${String(r.error)}` : ''}`,
    );
  }
  return records;
};
