// onnxruntime-node's CPU execution provider as the Node CPU reference: the same one-node model
// (MatMul, or Gemm with transA/transB) on the same inputs, all threads of the machine.

import { cpus } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { BenchRecord } from './format.ts';
import { peerRecord, timeReps, verifyMatmul } from './measure.ts';
import { matmulModel, storedShapes } from './onnx-matmul.ts';
import type { BenchShape } from './shapes.ts';

export const ORT_NODE_PEER = 'onnxruntime-node';

export function cpuName(): string {
  const list = cpus();
  return `${list[0]?.model.trim() ?? 'cpu'} (${list.length} threads)`;
}

export async function ortNodeMatmul(
  s: BenchShape,
  inputs: { a: Float32Array; b: Float32Array },
  ref: Float32Array,
  reps: number,
): Promise<BenchRecord> {
  const session = await ort.InferenceSession.create(matmulModel(s.product, s.m, s.n, s.k), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
  });
  try {
    const shapes = storedShapes(s.product, s.m, s.n, s.k);
    const feeds = {
      A: new ort.Tensor('float32', inputs.a, shapes.a),
      B: new ort.Tensor('float32', inputs.b, shapes.b),
    };
    let got: ArrayLike<number> = new Float32Array(0);
    const t = await timeReps(async () => {
      const out = await session.run(feeds);
      got = out.Y.data as Float32Array;
    }, reps);
    return peerRecord(s, 'node-cpu', ORT_NODE_PEER, `${cpuName()}, CPU EP`, t, verifyMatmul(got, ref, s.k));
  } finally {
    await session.release();
  }
}
