// Defaults for new cells, chosen for the model they will train: a tiny built-in model learns with a far
// larger learning rate than a billion-parameter one (its LoRA updates are small next to its weights and
// its lessons must finish in minutes), so the train form starts from the model's own defaults and says why.
// A dataset cell's handling of rows over the token budget follows its shape in the same way.

import { SHAPES, type ShapeName } from '../../data/shapes.ts';
import { DEFAULT_LORA } from '../../model/lora.ts';
import type { Cell, CellType, DatasetCellConfig, GenerateCellConfig } from '../../share/notebook.ts';
import { OPTIMIZER_DEFAULTS, type TrainConfig } from '../../train/run-types.ts';

export const BUILTIN_MODEL_ID = 'lorabook-tiny';

export const BUILTIN_MODELS = [
  { id: BUILTIN_MODEL_ID, label: 'lorabook-tiny (0.9 M parameters, Llama layout, ships with the app)' },
] as const;

/** The built-in datasets and the shape each is read as under 'auto'. */
export const BUILTIN_DATASETS: readonly { id: string; label: string; shape: ShapeName }[] = [
  { id: 'spam-ham', label: 'Spam or ham: SpamAssassin e-mails, labelled (classification)', shape: 'classification' },
  { id: 'sotu', label: 'State of the Union passages (plain text, continuation)', shape: 'text' },
];

/** What the train form needs to know about the model to pick its defaults. */
export interface ModelFacts {
  builtin: boolean;
  parameters: number | null;
  maxPositions: number | null;
}

export interface TrainDefaults {
  config: TrainConfig;
  /** Why the learning rate is what it is, for the form. */
  lrWhy: string;
}

export function trainDefaults(model: ModelFacts): TrainDefaults {
  const params = model.parameters ?? 0;
  const small = model.builtin || (params > 0 && params < 50e6);
  const lr = model.builtin ? 3e-3 : params > 0 && params < 500e6 ? 2e-4 : 1e-4;
  const seq = Math.min(model.maxPositions ?? 256, small ? 128 : 256);
  const lrWhy = model.builtin
    ? 'The built-in model has under a million parameters, so its LoRA updates need a larger step: 3e-3 ' +
      'instead of the 1e-4 that suits billion-parameter models, or a lesson would not move in a few minutes.'
    : params > 0 && params < 500e6
      ? 'Models under 500 M parameters tolerate a somewhat larger LoRA learning rate than 1e-4: 2e-4.'
      : 'The usual LoRA learning rate for models of a billion parameters or more: 1e-4.';
  return {
    lrWhy,
    config: {
      mode: 'lora',
      lora: { ...DEFAULT_LORA, targetModules: [...(DEFAULT_LORA.targetModules as readonly string[])] },
      epochs: 1,
      maxSteps: small ? 60 : 200,
      microBatch: small ? 8 : 4,
      gradAccum: 1,
      seq,
      packing: false,
      lr,
      schedule: 'cosine',
      warmupSteps: small ? 5 : 20,
      ...OPTIMIZER_DEFAULTS,
      seed: 42,
      checkpointing: false,
      evalEvery: small ? 10 : 50,
      evalExamples: small ? 64 : 200,
      earlyStopping: null,
      checkpointEvery: small ? 10 : 50,
    },
  };
}

type OverLength = DatasetCellConfig['overLength'];

/** The shapes whose rows have a prompt text that 'truncate-prompt' can shorten (see src/data/tokenize.ts). */
const PROMPT_SHAPES: ReadonlySet<ShapeName> = new Set(['classification', 'prompt-completion', 'alpaca']);

/** Whether 'truncate-prompt' can shorten rows of `shape`; where it cannot, it drops every row over the budget. */
export function promptCutApplies(shape: ShapeName): boolean {
  return PROMPT_SHAPES.has(shape);
}

/**
 * The default for rows over the token budget, by shape. 'truncate-prompt' cuts the end of the prompt's free
 * text and keeps the completion whole: the label after a long e-mail (plain 'truncate' would cut the label
 * off, leaving nothing to learn), the answer of a prompt/completion or alpaca row. Chat (and ShareGPT) and
 * plain-text rows have no prompt text it can cut, so it would drop every long row; they keep their first
 * tokens instead ('truncate'): a passage cut short is still text to learn, a conversation keeps its first
 * turns (a row left with nothing trained is dropped and counted in the cleaning report).
 */
export function overLengthFor(shape: ShapeName): OverLength {
  return promptCutApplies(shape) ? 'truncate-prompt' : 'truncate';
}

/** The shape a dataset cell reads: its own, or under 'auto' a built-in dataset's; null until reading tells. */
export function cellShape(config: DatasetCellConfig): ShapeName | null {
  if (config.shape !== 'auto')
    return (SHAPES as readonly string[]).includes(config.shape) ? (config.shape as ShapeName) : null;
  const src = config.source;
  return src?.kind === 'builtin' ? (BUILTIN_DATASETS.find((d) => d.id === src.id)?.shape ?? null) : null;
}

/**
 * The over-budget setting once the shape or source changed from `before` to `after`: the new shape's default
 * when the setting was a default (the old shape's, or any shape's while the old shape was unknown); a choice
 * of the user's stays.
 */
export function overLengthAfter(before: DatasetCellConfig, after: DatasetCellConfig): OverLength {
  const was = cellShape(before);
  const now = cellShape(after);
  if (now === null || now === was) return after.overLength;
  const defaults = was === null ? SHAPES.map(overLengthFor) : [overLengthFor(was)];
  return defaults.includes(before.overLength) ? overLengthFor(now) : after.overLength;
}

/** The built-in spam/ham e-mails, classification under 'auto': long e-mails lose their end, never their label. */
export const DEFAULT_DATASET: DatasetCellConfig = {
  source: { kind: 'builtin', id: 'spam-ham' },
  shape: 'auto',
  maxLength: 128,
  overLength: 'truncate-prompt',
  fractions: [0.8, 0.1, 0.1],
  seed: 42,
  limitRows: 400,
};

export const DEFAULT_GENERATE: GenerateCellConfig = {
  prompts: ['Subject: '],
  maxNewTokens: 24,
  temperature: 0,
  topK: 50,
  topP: 1,
  seed: 0,
};

/** A fresh random id for a cell or notebook (crypto.randomUUID where there is one). */
export function newId(prefix: string): string {
  const c = globalThis.crypto;
  const raw =
    typeof c?.randomUUID === 'function' ? c.randomUUID() : `${Date.now().toString(36)}${Math.random().toString(36)}`;
  return `${prefix}-${raw.replaceAll('-', '').slice(0, 12)}`;
}

/** A new cell of `type` with the defaults above (train defaults for `model`). */
export function newCell(
  type: CellType,
  model: ModelFacts = { builtin: true, parameters: null, maxPositions: 128 },
): Cell {
  const id = newId(type);
  switch (type) {
    case 'markdown':
      return { id, type, source: '## Notes\n\nWrite what this part of the notebook is for.' };
    case 'model':
      return { id, type, source: { kind: 'builtin', id: BUILTIN_MODEL_ID } };
    case 'dataset':
      return { id, type, config: structuredClone(DEFAULT_DATASET) };
    case 'train':
      return { id, type, config: trainDefaults(model).config };
    case 'evaluate':
      return { id, type };
    case 'generate':
      return { id, type, config: structuredClone(DEFAULT_GENERATE) };
    case 'export':
      return { id, type, config: { formats: ['peft', 'metrics'] } };
    case 'device':
      return { id, type };
  }
}

export const CELL_TYPES: { type: CellType; label: string; hint: string }[] = [
  { type: 'markdown', label: 'Text', hint: 'Notes and explanations (markdown)' },
  { type: 'model', label: 'Model', hint: 'Built-in, Hugging Face Hub, or a local folder' },
  { type: 'dataset', label: 'Dataset', hint: 'Built-in, upload, paste, or URL' },
  { type: 'train', label: 'Train', hint: 'LoRA or full fine-tuning with live charts' },
  { type: 'evaluate', label: 'Evaluate', hint: 'Validation and test metrics, base vs tuned' },
  { type: 'generate', label: 'Compare', hint: 'Base and tuned outputs side by side' },
  { type: 'export', label: 'Export', hint: 'PEFT adapter, merged model, ONNX, metrics' },
  { type: 'device', label: 'Device', hint: 'Your GPU, its limits and cached models' },
];

/** An empty notebook with a model, dataset, train, evaluate cell chain to start from. */
export function starterCells(): Cell[] {
  return [
    {
      id: newId('markdown'),
      type: 'markdown',
      source: '# Untitled notebook\n\nDescribe what you are fine-tuning and why.',
    },
    newCell('model'),
    newCell('dataset'),
    newCell('train'),
    newCell('evaluate'),
  ];
}
