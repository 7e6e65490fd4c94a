// Building blocks of the built-in lessons: the built-in model and datasets, a training configuration
// sized for a CPU WebGPU (small steps, seq 128, micro-batch 8), and cell constructors with stable ids.
// Why a kit: the four lessons differ in what they teach, not in how a cell is spelled.

import { DEFAULT_LORA, type LoraConfig } from '../../model/lora.ts';
import { OPTIMIZER_DEFAULTS, type TrainConfig } from '../../train/run-types.ts';
import { NOTEBOOK_VERSION, type Cell, type DatasetCellConfig, type LessonView, type Notebook } from '../notebook.ts';

export const LESSON_MODEL_ID = 'lorabook-tiny';
/** When the lessons were written (fixed, so a lesson's link never changes between builds). */
export const LESSON_DATE = Date.UTC(2026, 10, 29);

/** The built-in model learns with steps ~30x larger than the 1e-4 meant for billion-parameter models. */
export const TINY_LORA_LR = 3e-3;

export const md = (id: string, lines: string[]): Cell => ({ id, type: 'markdown', source: lines.join('\n') });

export const builtinModel = (id = 'model'): Cell => ({
  id,
  type: 'model',
  source: { kind: 'builtin', id: LESSON_MODEL_ID },
});

export function lora(over: Partial<LoraConfig> = {}): LoraConfig {
  return { ...DEFAULT_LORA, targetModules: [...(DEFAULT_LORA.targetModules as readonly string[])], ...over };
}

export function spamHam(over: Partial<DatasetCellConfig> = {}): DatasetCellConfig {
  return {
    source: { kind: 'builtin', id: 'spam-ham' },
    shape: 'classification',
    maxLength: 128,
    overLength: 'truncate-prompt',
    fractions: [0.8, 0.1, 0.1],
    seed: 42,
    limitRows: 600,
    ...over,
  };
}

export function sotu(over: Partial<DatasetCellConfig> = {}): DatasetCellConfig {
  return {
    source: { kind: 'builtin', id: 'sotu' },
    shape: 'text',
    maxLength: 128,
    overLength: 'truncate',
    fractions: [0.8, 0.1, 0.1],
    seed: 42,
    limitRows: 300,
    ...over,
  };
}

export function train(over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    mode: 'lora',
    lora: lora(),
    epochs: 1,
    maxSteps: 60,
    microBatch: 8,
    gradAccum: 1,
    seq: 128,
    packing: false,
    lr: TINY_LORA_LR,
    schedule: 'cosine',
    warmupSteps: 5,
    ...OPTIMIZER_DEFAULTS,
    seed: 42,
    checkpointing: false,
    evalEvery: 10,
    evalExamples: 60,
    earlyStopping: null,
    // A checkpoint of the tiny model's adapter is a few hundred KB: a reload resumes within 10 steps.
    checkpointEvery: 10,
    ...over,
  };
}

export const SPAM_LABELS = ['ham', 'spam'];

export function lesson(id: string, title: string, cells: Cell[], view: Partial<LessonView> = {}): Notebook {
  return {
    version: NOTEBOOK_VERSION,
    id,
    title,
    cells,
    createdAt: LESSON_DATE,
    updatedAt: LESSON_DATE,
    lesson: { readOnly: true, hideConfig: [], hideControls: [], ...view },
  };
}
