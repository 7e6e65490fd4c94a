// onnxruntime-web peers in the page: the WebGPU execution provider of `onnxruntime-web/webgpu` with
// inputs and output in GPU buffers (IO binding: nothing crosses to the CPU in the timed region), and
// the wasm CPU provider of `onnxruntime-web/wasm` on all threads as the browser's CPU reference.

import { recordBase, timed, verifyMatmul, type Peer } from '../measure.ts';
import { matmulModel, storedShapes } from '../onnx-matmul.ts';
import type { BenchShape } from '../shapes.ts';

export const ORT_WEB_PEER = 'onnxruntime-web';

type Inputs = { a: Float32Array; b: Float32Array };

/** Worker threads that do not spin between runs (they would slow the peers measured in between). */
const NO_SPIN = { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } };

async function readBuffer(device: GPUDevice, buffer: GPUBuffer, bytes: number): Promise<Float32Array> {
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return out;
}

export function ortWebGpuPeer(s: BenchShape, inputs: Inputs, reference: Float32Array, reps: number): Peer {
  return {
    base: recordBase(s, 'chromium-swiftshader', ORT_WEB_PEER, 'WebGPU EP'),
    reps,
    prepare: async () => {
      const ort = await import('onnxruntime-web/webgpu');
      const session = await ort.InferenceSession.create(matmulModel(s.product, s.m, s.n, s.k), {
        executionProviders: ['webgpu'],
        preferredOutputLocation: 'gpu-buffer',
        extra: NO_SPIN,
      });
      const device = (await ort.env.webgpu.device) as GPUDevice;
      const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
      const upload = (data: Float32Array) => {
        const buffer = device.createBuffer({ size: data.byteLength, usage });
        device.queue.writeBuffer(buffer, 0, data);
        return buffer;
      };
      const shapes = storedShapes(s.product, s.m, s.n, s.k);
      const bufA = upload(inputs.a);
      const bufB = upload(inputs.b);
      const bufY = device.createBuffer({ size: s.m * s.n * 4, usage });
      const feeds = {
        A: ort.Tensor.fromGpuBuffer(bufA, { dataType: 'float32', dims: shapes.a }),
        B: ort.Tensor.fromGpuBuffer(bufB, { dataType: 'float32', dims: shapes.b }),
      };
      const fetches = { Y: ort.Tensor.fromGpuBuffer(bufY, { dataType: 'float32', dims: [s.m, s.n] }) };
      await device.queue.onSubmittedWorkDone();
      return {
        rep: () =>
          timed(async () => {
            await session.run(feeds, fetches);
            await device.queue.onSubmittedWorkDone();
          }),
        finish: async () => {
          try {
            const got = await readBuffer(device, bufY, s.m * s.n * 4);
            const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
            const adapter = info ? [info.vendor, info.architecture].filter(Boolean).join(' / ') : 'webgpu';
            return { ...verifyMatmul(reference, s.k, got), extras: { adapter: `${adapter}, WebGPU EP` } };
          } finally {
            await session.release();
            bufA.destroy();
            bufB.destroy();
            bufY.destroy();
          }
        },
      };
    },
  };
}

export function ortWasmPeer(s: BenchShape, inputs: Inputs, reference: Float32Array, reps: number): Peer {
  const threads = crossOriginIsolated ? navigator.hardwareConcurrency : 1;
  return {
    base: recordBase(s, 'chromium-wasm', ORT_WEB_PEER, `wasm SIMD, ${threads} threads`),
    reps,
    prepare: async () => {
      const ort = await import('onnxruntime-web/wasm');
      ort.env.wasm.numThreads = threads;
      const session = await ort.InferenceSession.create(matmulModel(s.product, s.m, s.n, s.k), {
        executionProviders: ['wasm'],
        extra: NO_SPIN,
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
