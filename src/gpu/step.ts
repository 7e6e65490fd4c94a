// A step: the dispatches of one unit of work (a training step, a benchmark rep) recorded into a single
// command encoder and submitted once. Each dispatch gets its own compute pass so GPU timestamps (where
// timestamp-query exists) can say how long each kernel took. Small per-dispatch parameters live in a
// uniform arena owned by the Gpu and written once at submit.

import { encodeTensorData, type Gpu } from './gpu.ts';
import { numel, type DType, type Tensor } from './tensor.ts';
import type { Binding } from './pipelines.ts';

export interface StepOptions {
  /** Record GPU timestamps around each pass (ignored when the device has no timestamp-query). */
  timed?: boolean;
}

/** A kernel's compiled identity: WGSL source and a label that names it in errors and timings. */
export interface KernelSource {
  label: string;
  code: string;
  entryPoint?: string;
}

export interface Dispatch {
  kernel: KernelSource;
  /** Bytes for binding 0 (a uniform struct); omit for kernels without parameters. */
  params?: ArrayBuffer | ArrayBufferView;
  /** Storage buffers, bound in order after the parameters (binding 1, 2, ... or 0, 1, ... without params). */
  buffers: readonly Binding[];
  workgroups: readonly [number, number?, number?];
}

export interface PassTiming {
  label: string;
  ms: number;
}

const SLOT_BYTES = 256;
const SLOTS_PER_CHUNK = 256;

/** Uniform storage reused by every step of a Gpu: chunk i, slot j always has the same buffer and offset. */
export class UniformArena {
  readonly chunks: GPUBuffer[] = [];
  constructor(private readonly device: GPUDevice) {}
  chunk(i: number): GPUBuffer {
    while (this.chunks.length <= i) {
      this.chunks.push(
        this.device.createBuffer({
          size: SLOT_BYTES * SLOTS_PER_CHUNK,
          usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
          label: `uniforms ${this.chunks.length}`,
        }),
      );
    }
    return this.chunks[i];
  }
}

const arenas = new WeakMap<Gpu, UniformArena>();

export class Step {
  private readonly encoder: GPUCommandEncoder;
  private readonly uniformData: Uint8Array[] = [];
  private slots = 0;
  private passes = 0;
  private readonly passLabels: string[] = [];
  private readonly querySet: GPUQuerySet | null;
  private readonly maxTimedPasses = 1024;
  private submitted = false;
  private readonly afterSubmit: (() => void)[] = [];

  constructor(
    readonly gpu: Gpu,
    readonly label: string,
    options: StepOptions,
  ) {
    this.encoder = gpu.device.createCommandEncoder({ label });
    this.querySet =
      options.timed && gpu.caps.timestampQuery
        ? gpu.device.createQuerySet({ type: 'timestamp', count: 2 * this.maxTimedPasses, label: `${label} timing` })
        : null;
  }

  get dispatchCount(): number {
    return this.passes;
  }

  /** Records one dispatch. Awaits only the (cached) pipeline compilation. */
  async dispatch(d: Dispatch): Promise<void> {
    if (this.submitted) throw new Error(`step "${this.label}" was already submitted`);
    const pipeline = await this.gpu.pipelines.pipeline(d.kernel.label, d.kernel.code, d.kernel.entryPoint);
    const bindings: Binding[] = [];
    if (d.params) bindings.push(this.uniform(d.params));
    bindings.push(...d.buffers);
    const group = this.gpu.pipelines.bindGroup(pipeline, bindings);
    const timed = this.querySet && this.passes < this.maxTimedPasses;
    const pass = this.encoder.beginComputePass({
      label: d.kernel.label,
      timestampWrites: timed
        ? {
            querySet: this.querySet!,
            beginningOfPassWriteIndex: 2 * this.passes,
            endOfPassWriteIndex: 2 * this.passes + 1,
          }
        : undefined,
    });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1] ?? 1, d.workgroups[2] ?? 1);
    pass.end();
    this.passLabels.push(d.kernel.label);
    this.passes++;
  }

  /**
   * Runs `fn` once the step is submitted: the place to release temporaries. Queue order makes that
   * safe: any later use of a released buffer is submitted after this step's commands.
   */
  onDone(fn: () => void): void {
    this.afterSubmit.push(fn);
  }

  /**
   * A tensor filled with `data` at this point of the step. The copy is recorded in the encoder, so it
   * lands after earlier dispatches of the step: safe even when the pool hands back a buffer that an
   * earlier dispatch of this step still uses (queue.writeBuffer would land before all of them).
   */
  upload(data: ArrayLike<number>, shape: readonly number[], dtype: DType, label: string): Tensor {
    if (data.length !== numel(shape)) throw new RangeError(`${label}: ${data.length} values for [${shape.join(', ')}]`);
    const t = this.gpu.empty(shape, dtype, label);
    const bytes = encodeTensorData(data, dtype);
    const staging = this.gpu.device.createBuffer({
      size: bytes.byteLength,
      usage: GPUBufferUsage.COPY_SRC,
      mappedAtCreation: true,
      label: `${label} staging`,
    });
    new Uint8Array(staging.getMappedRange()).set(bytes);
    staging.unmap();
    this.encoder.copyBufferToBuffer(staging, 0, t.buffer, 0, bytes.byteLength);
    this.onDone(() => staging.destroy()); // destruction waits for the submitted copy
    return t;
  }

  /** Records zero-filling a whole buffer (gradient buffers at the start of an accumulated step). */
  clear(buffer: GPUBuffer): void {
    this.encoder.clearBuffer(buffer);
  }

  /** Records a buffer-to-buffer copy in order with the dispatches. */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  private uniform(params: ArrayBuffer | ArrayBufferView): Binding {
    const bytes =
      params instanceof ArrayBuffer
        ? new Uint8Array(params)
        : new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
    if (bytes.byteLength > SLOT_BYTES) throw new RangeError(`uniform parameters over ${SLOT_BYTES} bytes`);
    let arena = arenas.get(this.gpu);
    if (!arena) arenas.set(this.gpu, (arena = new UniformArena(this.gpu.device)));
    const slot = this.slots++;
    const chunk = Math.floor(slot / SLOTS_PER_CHUNK);
    if (this.uniformData.length <= chunk) this.uniformData.push(new Uint8Array(SLOT_BYTES * SLOTS_PER_CHUNK));
    const offset = (slot % SLOTS_PER_CHUNK) * SLOT_BYTES;
    this.uniformData[chunk].set(bytes, offset);
    const size = Math.ceil(Math.max(bytes.byteLength, 16) / 16) * 16;
    return { buffer: arena.chunk(chunk), offset, size };
  }

  /**
   * Writes the uniforms, submits the encoder and checks for validation and out-of-memory errors.
   * With `timed`, resolves the per-pass GPU times once the work is done; otherwise returns at once.
   */
  async submit(): Promise<PassTiming[] | null> {
    if (this.submitted) throw new Error(`step "${this.label}" was already submitted`);
    this.submitted = true;
    const gpu = this.gpu;
    const arena = arenas.get(gpu);
    let resolveBuf: GPUBuffer | null = null;
    let readBuf: GPUBuffer | null = null;
    const timedPasses = Math.min(this.passes, this.maxTimedPasses);
    await gpu.scoped(this.label, () => {
      if (this.querySet && timedPasses > 0) {
        const bytes = 16 * timedPasses;
        resolveBuf = gpu.device.createBuffer({
          size: bytes,
          usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
          label: `${this.label} timestamps`,
        });
        readBuf = gpu.device.createBuffer({
          size: bytes,
          usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
          label: `${this.label} timestamps read`,
        });
        this.encoder.resolveQuerySet(this.querySet, 0, 2 * timedPasses, resolveBuf, 0);
        this.encoder.copyBufferToBuffer(resolveBuf, 0, readBuf, 0, bytes);
      }
      for (let i = 0; i < this.uniformData.length && arena; i++) {
        const used = Math.min(SLOT_BYTES * SLOTS_PER_CHUNK, (this.slots - i * SLOTS_PER_CHUNK) * SLOT_BYTES);
        gpu.device.queue.writeBuffer(arena.chunk(i), 0, this.uniformData[i], 0, used);
      }
      gpu.device.queue.submit([this.encoder.finish()]);
    });
    for (const fn of this.afterSubmit.splice(0)) fn();
    if (!readBuf) {
      this.querySet?.destroy();
      return this.querySet ? [] : null;
    }
    const rb = readBuf as GPUBuffer;
    try {
      await rb.mapAsync(GPUMapMode.READ);
      const ticks = new BigInt64Array(rb.getMappedRange().slice(0));
      const out: PassTiming[] = [];
      for (let i = 0; i < timedPasses; i++) {
        out.push({ label: this.passLabels[i], ms: Number(ticks[2 * i + 1] - ticks[2 * i]) / 1e6 });
      }
      return out;
    } finally {
      rb.destroy();
      (resolveBuf as GPUBuffer | null)?.destroy();
      this.querySet?.destroy();
    }
  }
}
