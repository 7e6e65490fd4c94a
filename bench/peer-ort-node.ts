// onnxruntime-node's CPU execution provider as the Node CPU reference: the same one-node model
// (MatMul, or Gemm with transA/transB) on the same inputs, all threads of the machine. Its threads do
// not spin between runs, which would steal the CPU from the GPU peers measured in between.

import { cpus } from 'node:os';
import * as ort from 'onnxruntime-node';
import { recordBase, timed, verifyMatmul, type Peer } from './measure.ts';
import { matmulModel, storedShapes } from './onnx-matmul.ts';
import type { BenchShape } from './shapes.ts';

export const ORT_NODE_PEER = 'onnxruntime-node';

export function cpuName(): string {
  const list = cpus();
  return `${list[0]?.model.trim() ?? 'cpu'} (${list.length} threads)`;
}

export function ortNodePeer(
  s: BenchShape,
  inputs: { a: Float32Array; b: Float32Array },
  reference: Float32Array,
  reps: number,
): Peer {
  return {
    base: recordBase(s, 'node-cpu', ORT_NODE_PEER, `${cpuName()}, CPU EP`),
    reps,
    prepare: async () => {
      const session = await ort.InferenceSession.create(matmulModel(s.product, s.m, s.n, s.k), {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
      });
      const shapes = storedShapes(s.product, s.m, s.n, s.k);
      const feeds = {
        A: new ort.Tensor('float32', inputs.a, shapes.a),
        B: new ort.Tensor('float32', inputs.b, shapes.b),
      };
      let got: ArrayLike<number> = new Float32Array(0);
      return {
        rep: () =>
          timed(async () => {
            got = (await session.run(feeds)).Y.data as Float32Array;
          }),
        finish: async () => {
          await session.release();
          return verifyMatmul(reference, s.k, got);
        },
      };
    },
  };
}
