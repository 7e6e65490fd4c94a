// Buffer pool: hands out storage buffers by exact byte size and usage, takes them back on an explicit
// release, and keeps a byte count of what is live. Training steps allocate the same activation shapes
// every step, so exact-size reuse removes nearly all createBuffer calls after the first step without
// the waste of power-of-two rounding on large weight tensors.

import { OutOfMemory } from '../errors.ts';

/** Usage of every tensor buffer (read lazily: Node installs GPUBufferUsage only when Dawn starts). */
export const storageUsage = (): number => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

let nextObjectId = 1;
const objectIds = new WeakMap<object, number>();

/** A stable small integer per GPU object (buffer, pipeline), for cache keys. */
export function objectId(o: object): number {
  let id = objectIds.get(o);
  if (id === undefined) {
    id = nextObjectId++;
    objectIds.set(o, id);
  }
  return id;
}

export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly live = new Set<GPUBuffer>();
  private live_ = 0;
  private pooled_ = 0;
  private peak_ = 0;
  /** Called with a buffer's id when it is destroyed, so bind-group caches can forget it. */
  onDestroy: ((id: number) => void) | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
  ) {}

  /** Bytes in buffers handed out and not yet released. */
  get liveBytes(): number {
    return this.live_;
  }
  /** Bytes in released buffers kept for reuse. */
  get pooledBytes(): number {
    return this.pooled_;
  }
  /** Highest liveBytes seen since creation or the last resetPeak(). */
  get peakLiveBytes(): number {
    return this.peak_;
  }
  resetPeak(): void {
    this.peak_ = this.live_;
  }

  acquire(bytes: number, label: string, usage: number = storageUsage()): GPUBuffer {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    if (size > this.maxBufferSize) {
      throw new OutOfMemory(
        `${label}: ${size} bytes is over this device's maxBufferSize of ${this.maxBufferSize}`,
        size,
        this.live_,
      );
    }
    const key = `${size}:${usage}`;
    const list = this.free.get(key);
    let buffer = list?.pop();
    if (buffer) {
      this.pooled_ -= size;
      buffer.label = label;
    } else {
      buffer = this.device.createBuffer({ size, usage, label });
    }
    this.live.add(buffer);
    this.live_ += size;
    this.peak_ = Math.max(this.peak_, this.live_);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) throw new Error(`buffer "${buffer.label}" released twice or not from this pool`);
    this.live_ -= buffer.size;
    const key = `${buffer.size}:${buffer.usage}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(buffer);
    this.pooled_ += buffer.size;
  }

  /** Destroys every pooled (released) buffer, returning their memory to the device. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) this.destroy(b);
    this.free.clear();
    this.pooled_ = 0;
  }

  /** Destroys everything, live buffers included (device teardown). */
  destroyAll(): void {
    this.trim();
    for (const b of this.live) this.destroy(b);
    this.live.clear();
    this.live_ = 0;
  }

  private destroy(buffer: GPUBuffer): void {
    this.onDestroy?.(objectId(buffer));
    buffer.destroy();
  }
}
