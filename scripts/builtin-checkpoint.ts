// Checkpoints of the built-in model's pretraining, under an ignored folder (.cache/pretrain-builtin/):
// weights and AdamW moments as safetensors named by step, then state.json (the step reached, the loss
// log) written to a temporary name and renamed last, so a run stopped at any moment resumes from the last
// complete checkpoint. Older step files are removed only after the new state.json is in place.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OptimizerState } from '../src/builtin/pretrainer.ts';
import { SafetensorsReader, writeSafetensors } from '../src/model/safetensors.ts';

export interface RunLog {
  /** Steps completed. */
  step: number;
  losses: number[];
  gradNorms: number[];
  lrs: number[];
  evals: { step: number; loss: number }[];
  /** Seconds spent training, summed over sessions. */
  wallSeconds: number;
  sessions: number;
  commit: string;
  device: string;
}

export interface Checkpoint {
  log: RunLog;
  weights: Record<string, Float32Array>;
  opt: OptimizerState;
}

const tensors = (prefix: string, names: string[], arrays: Float32Array[]) =>
  names.map((n, i) => ({ name: prefix + n, dtype: 'F32' as const, shape: [arrays[i].length], data: arrays[i] }));

export function saveCheckpoint(dir: string, c: Checkpoint): void {
  mkdirSync(dir, { recursive: true });
  const names = Object.keys(c.weights);
  const s = c.log.step;
  writeFileSync(join(dir, `weights-${s}.safetensors`), writeSafetensors(tensors('', names, Object.values(c.weights))));
  const order = c.opt.m.map((_, i) => String(i).padStart(3, '0'));
  writeFileSync(
    join(dir, `adam-${s}.safetensors`),
    writeSafetensors([...tensors('m.', order, c.opt.m), ...tensors('v.', order, c.opt.v)], { t: String(c.opt.t) }),
  );
  writeFileSync(join(dir, 'state.json.tmp'), JSON.stringify({ ...c.log, names }));
  renameSync(join(dir, 'state.json.tmp'), join(dir, 'state.json'));
  for (const f of readdirSync(dir)) {
    const m = /^(weights|adam)-(\d+)\.safetensors$/.exec(f);
    if (m && Number(m[2]) !== s) rmSync(join(dir, f));
  }
}

export function loadCheckpoint(dir: string): Checkpoint | null {
  const statePath = join(dir, 'state.json');
  if (!existsSync(statePath)) return null;
  const { names, ...log } = JSON.parse(readFileSync(statePath, 'utf8')) as RunLog & { names: string[] };
  // Copied out of Node's Buffer: Buffer.slice is a view, which the reader's per-tensor copies rely on not being.
  const read = (f: string) => new SafetensorsReader(new Uint8Array(readFileSync(join(dir, f))), f);
  const w = read(`weights-${log.step}.safetensors`);
  const a = read(`adam-${log.step}.safetensors`);
  const weights = Object.fromEntries(names.map((n) => [n, w.tensorF32(n)]));
  const count = a.names().length / 2;
  const order = Array.from({ length: count }, (_, i) => String(i).padStart(3, '0'));
  const opt = {
    t: Number(a.metadata?.t),
    m: order.map((k) => a.tensorF32(`m.${k}`)),
    v: order.map((k) => a.tensorF32(`v.${k}`)),
  };
  return { log, weights, opt };
}
