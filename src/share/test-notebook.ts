// A small notebook with one cell of every type, for the share, storage and UI tests.

import { DEFAULT_LORA } from '../model/lora.ts';
import type { TrainConfig } from '../train/run-types.ts';
import { NOTEBOOK_VERSION, type Notebook } from './notebook.ts';

export function sampleTrainConfig(over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    mode: 'lora',
    lora: { ...DEFAULT_LORA, targetModules: [...DEFAULT_LORA.targetModules] },
    epochs: 1,
    maxSteps: 40,
    microBatch: 8,
    gradAccum: 1,
    seq: 128,
    packing: false,
    lr: 2e-3,
    schedule: 'cosine',
    warmupSteps: 4,
    weightDecay: 0,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    maxGradNorm: 1,
    seed: 7,
    checkpointing: false,
    evalEvery: 10,
    evalExamples: 64,
    earlyStopping: null,
    checkpointEvery: 0,
    ...over,
  };
}

export function sampleNotebook(over: Partial<Notebook> = {}): Notebook {
  return {
    version: NOTEBOOK_VERSION,
    id: 'nb-sample',
    title: 'A sample notebook',
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_100_000,
    cells: [
      { id: 'intro', type: 'markdown', source: '# Hello\n\nSome *text* and `code`.' },
      {
        id: 'model',
        type: 'model',
        source: { kind: 'hub', repo: 'HuggingFaceTB/SmolLM2-135M', revision: 'main', resolvedSha: 'a'.repeat(40) },
      },
      {
        id: 'data',
        type: 'dataset',
        config: {
          source: {
            kind: 'inline',
            name: 'pairs.jsonl',
            text: '{"prompt":"2+2=","completion":"4"}\n{"prompt":"3+3=","completion":"6"}\n',
          },
          shape: 'prompt-completion',
          maxLength: 128,
          overLength: 'truncate',
          fractions: [0.8, 0.1, 0.1],
          seed: 1,
          limitRows: 0,
        },
      },
      { id: 'train', type: 'train', config: sampleTrainConfig(), label: 'r = 8' },
      { id: 'eval', type: 'evaluate' },
      {
        id: 'gen',
        type: 'generate',
        config: { prompts: ['2+2='], maxNewTokens: 16, temperature: 0.7, topK: 40, topP: 0.9, seed: 3 },
      },
      { id: 'export', type: 'export', config: { formats: ['peft', 'metrics'] } },
      { id: 'device', type: 'device' },
    ],
    lesson: { readOnly: true, hideConfig: ['train'], hideControls: ['train.lr', 'train.schedule'] },
    recordedLosses: { train: [6.931471805599453, 5.123456789012345, 4.5, 3.0000001] },
    ...over,
  };
}
