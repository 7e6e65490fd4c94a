// The GPU layer's one object: a device with its capability report, buffer pool, pipeline cache, tensor
// upload and readback, and steps (one command encoder per step). The same code runs in a browser worker
// (navigator.gpu) and in Node (Dawn); it never touches the DOM or Node APIs.

import { DeviceLost, GpuValidationError, OutOfMemory } from '../errors.ts';
import type { CapabilityReport } from './capabilities.ts';
import { f16BitsToF32, toF16Array } from './f16.ts';
import { PipelineCache } from './pipelines.ts';
import { BufferPool } from './pool.ts';
import { Step, type StepOptions } from './step.ts';
import { BYTES_PER_ELEMENT, numel, tensorBytes, type DType, type Tensor } from './tensor.ts';

export class Gpu {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  private lostInfo: GPUDeviceLostInfo | null = null;
  private uncaptured: GPUError | null = null;
  private destroyed = false;

  constructor(
    readonly device: GPUDevice,
    readonly caps: CapabilityReport,
  ) {
    this.pool = new BufferPool(device, caps.limits.maxBufferSize);
    this.pipelines = new PipelineCache(device);
    this.pool.onDestroy = (id) => this.pipelines.forgetBuffer(id);
    void device.lost.then((info) => {
      this.lostInfo = info;
    });
    device.addEventListener('uncapturederror', (ev) => {
      this.uncaptured ??= (ev as GPUUncapturedErrorEvent).error;
    });
  }

  /** Whether the device is gone (lost or destroyed): its holder should acquire a new one. */
  get lost(): boolean {
    return this.lostInfo !== null || this.destroyed;
  }

  /** Throws DeviceLost if the device is gone; steps and readbacks call it first. */
  assertAlive(): void {
    if (this.lostInfo) {
      const reason = this.lostInfo.reason === 'destroyed' ? 'destroyed' : this.lostInfo.message || 'unknown';
      throw new DeviceLost(`the GPU device was lost (${reason})`, reason);
    }
    if (this.destroyed) throw new DeviceLost('the GPU device was destroyed', 'destroyed');
  }

  /** An error the device raised outside any error scope (null if none); clears it. */
  takeUncapturedError(): GPUError | null {
    const e = this.uncaptured;
    this.uncaptured = null;
    return e;
  }

  /** Begins a step: every dispatch until submit() goes into one command encoder. */
  step(label: string, options: StepOptions = {}): Step {
    this.assertAlive();
    return new Step(this, label, options);
  }

  /** An uninitialized tensor from the pool. Release it with `release` when done. */
  empty(shape: readonly number[], dtype: DType, label: string): Tensor {
    return { shape: [...shape], dtype, label, buffer: this.pool.acquire(tensorBytes(shape, dtype), label) };
  }

  /** A tensor holding `data`; f16 tensors take f32 values and round them to nearest even. */
  upload(data: ArrayLike<number>, shape: readonly number[], dtype: DType, label: string): Tensor {
    const n = numel(shape);
    if (data.length !== n) throw new RangeError(`${label}: ${data.length} values for shape [${shape.join(', ')}]`);
    const t = this.empty(shape, dtype, label);
    this.write(t, data);
    return t;
  }

  /**
   * Overwrites a tensor's contents from the CPU on the queue timeline: before every command submitted
   * later, and so before the commands of a step still being recorded. Inside a step use step.upload,
   * which orders the write with the step's own dispatches.
   */
  write(t: Tensor, data: ArrayLike<number>): void {
    this.device.queue.writeBuffer(t.buffer, 0, encodeTensorData(data, t.dtype));
  }

  release(...tensors: Tensor[]): void {
    for (const t of tensors) this.pool.release(t.buffer);
  }

  /** Copies a tensor back to the CPU as f32 (f16 widened), or as u32/i32 for integer tensors. */
  async read(t: Tensor): Promise<Float32Array | Uint32Array | Int32Array> {
    const raw = await this.readBytes(t.buffer, numel(t.shape) * BYTES_PER_ELEMENT[t.dtype]);
    switch (t.dtype) {
      case 'f32':
        return new Float32Array(raw);
      case 'u32':
        return new Uint32Array(raw);
      case 'i32':
        return new Int32Array(raw);
      case 'f16': {
        const h = new Uint16Array(raw);
        const out = new Float32Array(h.length);
        for (let i = 0; i < h.length; i++) out[i] = f16BitsToF32(h[i]);
        return out;
      }
    }
  }

  /** Reads an f32 tensor (throws for other types, so callers get a Float32Array without casts). */
  async readF32(t: Tensor): Promise<Float32Array> {
    if (t.dtype !== 'f32' && t.dtype !== 'f16') throw new TypeError(`${t.label} is ${t.dtype}, not a float tensor`);
    return (await this.read(t)) as Float32Array;
  }

  /** Copies `byteLength` bytes from the start of a buffer through a mappable staging buffer. */
  async readBytes(buffer: GPUBuffer, byteLength: number): Promise<ArrayBuffer> {
    this.assertAlive();
    const size = Math.max(4, Math.ceil(byteLength / 4) * 4);
    const staging = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: `readback ${buffer.label}`,
    });
    const enc = this.device.createCommandEncoder({ label: `readback ${buffer.label}` });
    enc.copyBufferToBuffer(buffer, 0, staging, 0, size);
    this.device.queue.submit([enc.finish()]);
    try {
      await staging.mapAsync(GPUMapMode.READ);
      return staging.getMappedRange().slice(0, byteLength);
    } catch (e) {
      this.assertAlive();
      throw e;
    } finally {
      staging.destroy();
    }
  }

  /** Waits until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
    this.assertAlive();
  }

  /**
   * Runs the synchronous `fn` inside validation and out-of-memory error scopes and turns a captured
   * error (or an earlier uncaptured one) into a typed error. `label` names the work when the message
   * names no pipeline.
   */
  async scoped<T>(label: string, fn: () => T): Promise<T> {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let result: T | undefined;
    let thrown: unknown = null;
    try {
      result = fn();
    } catch (e) {
      thrown = e;
    }
    // Both pops are issued before any await, so a concurrent scope cannot interleave with this one.
    const [validation, oom] = await Promise.all([this.device.popErrorScope(), this.device.popErrorScope()]);
    if (oom) throw new OutOfMemory(`${label}: ${oom.message}`, 0, this.pool.liveBytes);
    if (validation) {
      throw new GpuValidationError(`${label}: ${validation.message}`, failingLabel(validation.message) ?? label);
    }
    if (thrown) throw thrown;
    const late = this.takeUncapturedError();
    if (late) throw new GpuValidationError(`${label}: ${late.message}`, failingLabel(late.message) ?? label);
    this.assertAlive();
    return result as T;
  }

  /** Frees every buffer and destroys the device (Dawn processes exit cleanly only after this). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pool.destroyAll();
    this.device.destroy();
  }
}

/** The label of the first pipeline or bind group named in a WebGPU error message, if any. */
export function failingLabel(message: string): string | null {
  const m = /\[(?:Invalid )?(?:ComputePipeline|BindGroup|ComputePassEncoder|ShaderModule|Buffer) "([^"]+)"\]/.exec(
    message,
  );
  return m ? m[1] : null;
}

/** The bytes a tensor of this dtype holds for `data`, padded to a multiple of 4. */
export function encodeTensorData(data: ArrayLike<number>, dtype: DType): Uint8Array {
  const bytes = encode(data, dtype);
  return bytes.byteLength % 4 === 0 ? bytes : padTo4(bytes);
}

function encode(data: ArrayLike<number>, dtype: DType): Uint8Array {
  switch (dtype) {
    case 'f32':
      return new Uint8Array(Float32Array.from(data).buffer);
    case 'u32':
      return new Uint8Array(Uint32Array.from(data).buffer);
    case 'i32':
      return new Uint8Array(Int32Array.from(data).buffer);
    case 'f16':
      return new Uint8Array(toF16Array(data).buffer);
  }
}

function padTo4(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
  out.set(bytes);
  return out;
}
