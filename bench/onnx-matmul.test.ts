import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { matmulReference } from '../src/engine/bench-matmul.ts';
import { compareClose, randomArray } from '../src/reference/compare.ts';
import { matmulModel, storedShapes } from './onnx-matmul.ts';

describe('hand-encoded ONNX matmul models', () => {
  for (const product of ['nn', 'nt', 'tn'] as const) {
    it(`${product}: onnxruntime-node loads the model and computes the product`, async () => {
      const [m, n, k] = [5, 7, 3];
      const session = await ort.InferenceSession.create(matmulModel(product, m, n, k));
      try {
        expect(session.inputNames).toEqual(['A', 'B']);
        expect(session.outputNames).toEqual(['Y']);
        const a = randomArray(m * k, 1);
        const b = randomArray(k * n, 2);
        const shapes = storedShapes(product, m, n, k);
        const out = await session.run({
          A: new ort.Tensor('float32', a, shapes.a),
          B: new ort.Tensor('float32', b, shapes.b),
        });
        expect(out.Y.dims).toEqual([m, n]);
        const c = compareClose(out.Y.data as Float32Array, matmulReference(product, m, n, k, a, b), 1e-6, 1e-5);
        expect(c.first).toEqual([]);
      } finally {
        await session.release();
      }
    });
  }
});
