// The benchmark cell's state: which product and shape to time, the run in flight (progress from the
// worker's events) and the results so far. Shapes are M×K×N: C[M,N] = A[M,K]·B[K,N] in the 'nn' layout.

import type { MatmulBenchResult } from '../engine/protocol.ts';
import type { MatmulProduct } from '../reference/matmul.ts';
import type { EngineSession } from './engine-session.svelte.ts';
import { describeError, type Problem } from './problem.ts';

export interface ProductOption {
  id: MatmulProduct;
  formula: string;
  use: string;
}

export const PRODUCTS: readonly ProductOption[] = [
  { id: 'nn', formula: 'A·B', use: 'plain product' },
  { id: 'nt', formula: 'A·Bᵀ', use: 'linear layer forward, x·Wᵀ' },
  { id: 'tn', formula: 'Aᵀ·B', use: 'weight gradient, dYᵀ·X' },
];

export interface ShapePreset {
  id: string;
  label: string;
  m: number;
  k: number;
  n: number;
}

export const SHAPE_PRESETS: readonly ShapePreset[] = [
  { id: 'small', label: 'Small (quick everywhere)', m: 256, k: 256, n: 256 },
  { id: 'smollm2-attn', label: 'SmolLM2 attention projection', m: 512, k: 576, n: 576 },
  { id: 'smollm2-mlp', label: 'SmolLM2 MLP up-projection', m: 512, k: 576, n: 1536 },
];

export const CUSTOM = 'custom';
export const REPS_OPTIONS = [3, 5, 10, 20] as const;
const MAX_DIM = 4096;
const HISTORY = 8;

export interface Shape {
  m: number;
  k: number;
  n: number;
}

export interface BenchRun {
  id: number;
  product: MatmulProduct;
  shape: Shape;
  result: MatmulBenchResult;
}

export type BenchPhase = 'idle' | 'starting' | 'timing' | 'verifying';

let nextRunId = 1;

export class MatmulBenchmark {
  product = $state<MatmulProduct>('nn');
  presetId = $state<string>('small');
  custom = $state<Shape>({ m: 256, k: 256, n: 256 });
  reps = $state<number>(5);
  running = $state(false);
  progress = $state.raw<{ done: number; total: number } | null>(null);
  /** Newest first. */
  runs = $state.raw<BenchRun[]>([]);
  problem = $state.raw<Problem | null>(null);

  shape: Shape = $derived.by(() => {
    const preset = SHAPE_PRESETS.find((p) => p.id === this.presetId);
    return preset ? { m: preset.m, k: preset.k, n: preset.n } : { ...this.custom };
  });

  /** Why the shape cannot run, or null. */
  shapeError: string | null = $derived.by(() => {
    for (const [name, v] of Object.entries(this.shape)) {
      if (!Number.isInteger(v) || v < 1 || v > MAX_DIM)
        return `${name.toUpperCase()} must be a whole number from 1 to ${MAX_DIM}`;
    }
    return null;
  });

  /** Floating-point operations per rep: 2·M·N·K. */
  flops = $derived(2 * this.shape.m * this.shape.n * this.shape.k);

  phase: BenchPhase = $derived.by(() => {
    if (!this.running) return 'idle';
    if (!this.progress) return 'starting';
    return this.progress.done < this.progress.total ? 'timing' : 'verifying';
  });

  get latest(): BenchRun | null {
    return this.runs[0] ?? null;
  }

  async run(session: EngineSession): Promise<void> {
    if (this.running || this.shapeError) return;
    const shape = this.shape;
    const product = this.product;
    this.running = true;
    this.progress = null;
    this.problem = null;
    try {
      const result = await session.engine.benchmarkMatmul(
        { product, ...shape, dtype: 'f32', kernel: 'tiled', reps: this.reps, warmup: 1 },
        (event) => {
          if (event.type === 'progress') this.progress = { done: event.done, total: event.total };
        },
      );
      this.runs = [{ id: nextRunId++, product, shape, result }, ...this.runs].slice(0, HISTORY);
      await session.refreshMemory();
    } catch (e) {
      this.problem = describeError(e);
    } finally {
      this.running = false;
      this.progress = null;
    }
  }
}
