// Compute pipelines compiled once per (WGSL source, entry point) and bind groups reused while their
// buffers live. Pipelines are created asynchronously so a WGSL or layout error surfaces as a typed
// GpuValidationError naming the pipeline's label instead of an uncaptured device error later.

import { GpuValidationError } from '../errors.ts';
import { objectId } from './pool.ts';

export interface Binding {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}

export class PipelineCache {
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly keysByBuffer = new Map<number, Set<string>>();

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.pipelines.size;
  }

  /** The pipeline for this WGSL, compiled on first use. `label` names it in errors and GPU captures. */
  pipeline(label: string, code: string, entryPoint = 'main'): Promise<GPUComputePipeline> {
    const key = `${entryPoint}\u0000${code}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.compile(label, code, entryPoint);
      this.pipelines.set(key, p);
      p.catch(() => this.pipelines.delete(key));
    }
    return p;
  }

  private async compile(label: string, code: string, entryPoint: string): Promise<GPUComputePipeline> {
    const module = this.device.createShaderModule({ label, code });
    try {
      return await this.device.createComputePipelineAsync({ label, layout: 'auto', compute: { module, entryPoint } });
    } catch (e) {
      const info = await module.getCompilationInfo();
      const errors = info.messages
        .filter((m) => m.type === 'error')
        .map((m) => `line ${m.lineNum}:${m.linePos} ${m.message}`);
      const detail = errors.length > 0 ? errors.join('; ') : (e as Error).message;
      throw new GpuValidationError(`pipeline "${label}" failed to compile: ${detail}`, label);
    }
  }

  /** A bind group for group 0 of `pipeline` with the bindings in order 0..n-1, cached by buffer identity. */
  bindGroup(pipeline: GPUComputePipeline, bindings: readonly Binding[]): GPUBindGroup {
    const ids = bindings.map((b) => `${objectId(b.buffer)}@${b.offset ?? 0}+${b.size ?? -1}`);
    const key = `${pipeline.label}|${objectId(pipeline)}|${ids.join(',')}`;
    let group = this.bindGroups.get(key);
    if (!group) {
      group = this.device.createBindGroup({
        label: pipeline.label,
        layout: pipeline.getBindGroupLayout(0),
        entries: bindings.map((b, i) => ({
          binding: i,
          resource: { buffer: b.buffer, offset: b.offset ?? 0, size: b.size },
        })),
      });
      this.bindGroups.set(key, group);
      for (const b of bindings) {
        const id = objectId(b.buffer);
        let keys = this.keysByBuffer.get(id);
        if (!keys) this.keysByBuffer.set(id, (keys = new Set()));
        keys.add(key);
      }
    }
    return group;
  }

  /** Forgets the bind groups that use a destroyed buffer. */
  forgetBuffer(id: number): void {
    const keys = this.keysByBuffer.get(id);
    if (!keys) return;
    for (const k of keys) this.bindGroups.delete(k);
    this.keysByBuffer.delete(id);
  }
}
