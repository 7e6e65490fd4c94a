// Between the GPU and a Checkpoint: read the trainable parameters and the AdamW moments into named
// tensors ('<param>', 'adam.m.<param>', 'adam.v.<param>'), and write them back. Writing checks that every
// parameter is there with its size, so a checkpoint of another model or mode fails loudly.

import type { Gpu } from '../gpu/gpu.ts';
import { numel } from '../gpu/tensor.ts';
import type { Param } from '../model/linear.ts';
import type { AdamWOptimizer } from './optimizer.ts';
import type { Checkpoint, CheckpointTensor } from './run-types.ts';

export async function readTensors(
  gpu: Gpu,
  params: readonly Param[],
  opt: AdamWOptimizer,
): Promise<CheckpointTensor[]> {
  const out: CheckpointTensor[] = [];
  for (const p of params) out.push({ name: p.name, data: await gpu.readF32(p.value) });
  const { m, v } = await opt.exportState();
  params.forEach((p, i) => {
    out.push({ name: `adam.m.${p.name}`, data: m[i] });
    out.push({ name: `adam.v.${p.name}`, data: v[i] });
  });
  return out;
}

function byName(c: Checkpoint): Map<string, Float32Array> {
  return new Map(c.tensors.map((t) => [t.name, t.data]));
}

function take(tensors: Map<string, Float32Array>, name: string, size: number, c: Checkpoint): Float32Array {
  const data = tensors.get(name);
  if (!data) throw new Error(`checkpoint ${c.state.runId}/${c.kind} at step ${c.state.step} has no tensor ${name}`);
  if (data.length !== size) {
    throw new Error(`checkpoint tensor ${name} has ${data.length} values, the model's has ${size}`);
  }
  return data;
}

/** Writes the checkpoint's parameter values into the model's trainable parameters. */
export function writeParams(gpu: Gpu, params: readonly Param[], c: Checkpoint): void {
  const tensors = byName(c);
  for (const p of params) gpu.write(p.value, take(tensors, p.name, numel(p.value.shape), c));
}

/** Restores the optimizer's moments and update count from the checkpoint. */
export async function writeOptimizer(params: readonly Param[], opt: AdamWOptimizer, c: Checkpoint): Promise<void> {
  const tensors = byName(c);
  const sizes = params.map((p) => numel(p.value.shape));
  await opt.importState({
    t: c.state.optimizerT,
    m: params.map((p, i) => take(tensors, `adam.m.${p.name}`, sizes[i], c)),
    v: params.map((p, i) => take(tensors, `adam.v.${p.name}`, sizes[i], c)),
  });
}
