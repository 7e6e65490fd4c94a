// @jax-js/jax on WebGPU as a matmul peer (in Node on Dawn, in the page on Chromium's adapter): the
// product is one jit-compiled np.matmul whose transposes jax-js folds into the kernel's indexing.
// Inputs live on the GPU; a rep ends when blockUntilReady has seen the result (a read after the work).

import { defaultDevice, init, jit, numpy as np } from '@jax-js/jax';
import type { Array as JaxArray } from '@jax-js/jax';
import type { Where } from './format.ts';
import { recordBase, timed, verifyMatmul, type Peer } from './measure.ts';
import { storedShapes } from './onnx-matmul.ts';
import type { BenchShape } from './shapes.ts';

export const JAX_PEER = 'jax-js';

/** Initializes jax-js's WebGPU backend (navigator.gpu must exist) and makes it the default device. */
export async function initJaxWebGpu(): Promise<void> {
  const devices = await init('webgpu');
  if (!devices.includes('webgpu')) throw new Error('jax-js found no WebGPU adapter');
  defaultDevice('webgpu');
}

export function jaxPeer(
  s: BenchShape,
  inputs: { a: Float32Array; b: Float32Array },
  reference: Float32Array,
  reps: number,
  where: Where,
  adapter: string,
  ready: Promise<void>,
): Peer {
  return {
    base: recordBase(s, where, JAX_PEER, adapter),
    reps,
    prepare: async () => {
      await ready;
      const shapes = storedShapes(s.product, s.m, s.n, s.k);
      const a = np.array(inputs.a, { shape: shapes.a, device: 'webgpu' });
      const b = np.array(inputs.b, { shape: shapes.b, device: 'webgpu' });
      const product = s.product;
      const f = jit((x: JaxArray, y: JaxArray) =>
        np.matmul(product === 'tn' ? x.transpose() : x, product === 'nt' ? y.transpose() : y),
      );
      return {
        rep: () =>
          timed(async () => {
            const c = f(a.ref, b.ref);
            await c.blockUntilReady();
            c.dispose();
          }),
        finish: async () => {
          try {
            const got = (await f(a.ref, b.ref).data()) as Float32Array;
            return verifyMatmul(reference, s.k, got);
          } finally {
            a.dispose();
            b.dispose();
            f.dispose();
          }
        },
      };
    },
  };
}
