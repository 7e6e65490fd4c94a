// Writes the built-in model's Hub-layout files from a pretraining run: model.safetensors (F32), config.json,
// generation_config.json, training_log.json (the recorded losses CI replays against) and the model card
// README.md with the run's numbers, baselines and samples. Called by scripts/pretrain-builtin.ts.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Chunk } from '../src/builtin/corpus.ts';
import type { Pretrainer } from '../src/builtin/pretrainer.ts';
import { BUILTIN_NAME, MODEL_CONFIG, RECIPE, SPEC } from '../src/builtin/recipe.ts';
import { sample } from '../src/builtin/sample.ts';
import { plugInEntropy, unigramCrossEntropy } from '../src/builtin/unigram.ts';
import type { PackedBatch } from '../src/data/batch.ts';
import type { TextTokenizer } from '../src/data/tokenizer.ts';
import type { Gpu } from '../src/gpu/gpu.ts';
import { expectedTensorNames, parameterCount } from '../src/model/config.ts';
import { writeSafetensors } from '../src/model/safetensors.ts';
import type { RunLog } from './builtin-checkpoint.ts';
import { renderCard } from './builtin-card.ts';

export const GENERATION_CONFIG = {
  bos_token_id: MODEL_CONFIG.bos_token_id,
  eos_token_id: [MODEL_CONFIG.eos_token_id, 1023],
  pad_token_id: MODEL_CONFIG.pad_token_id,
  do_sample: true,
  top_k: 40,
  temperature: 0.8,
  max_length: MODEL_CONFIG.max_position_embeddings,
};

export const SAMPLE_PROMPTS = [
  'Call me Ishmael. ',
  'The whale',
  'Fellow-Citizens of the Senate and House of Representatives:',
];

export interface ExportInput {
  gpu: Gpu;
  tok: TextTokenizer;
  trainer: Pretrainer;
  log: RunLog;
  modelDir: string;
  trainChunks: readonly Chunk[];
  valBatch: PackedBatch;
  idsOf: (chunk: number) => readonly number[];
}

const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
const round = (x: number) => Math.round(x * 1e6) / 1e6;

export async function exportModel(x: ExportInput): Promise<void> {
  const weights = await x.trainer.weights();
  const tensors = expectedTensorNames(SPEC).map((e) => ({
    name: e.name,
    dtype: 'F32' as const,
    shape: e.shape,
    data: weights[e.name],
  }));
  writeFileSync(join(x.modelDir, 'model.safetensors'), writeSafetensors(tensors, { format: 'pt' }));
  writeFileSync(join(x.modelDir, 'config.json'), json(MODEL_CONFIG));
  writeFileSync(join(x.modelDir, 'generation_config.json'), json(GENERATION_CONFIG));

  // Baselines on the evaluation labels: the plug-in unigram (the gate) and training-text unigram counts.
  const counts = new Float64Array(SPEC.vocabSize);
  let trainTextTokens = 0;
  for (let i = 0; i < x.trainChunks.length; i++) {
    for (const id of x.idsOf(i)) counts[id]++;
    trainTextTokens += x.idsOf(i).length;
  }
  const valLoss = x.log.evals[x.log.evals.length - 1].loss;
  const baselines = {
    plugInUnigram: plugInEntropy(x.valBatch.labels),
    trainUnigram: unigramCrossEntropy(x.valBatch.labels, counts),
  };
  const labelled = (b: PackedBatch) => Array.from(b.labels).filter((l) => l >= 0).length;

  const samples: { prompt: string; mode: string; text: string }[] = [];
  for (const prompt of SAMPLE_PROMPTS) {
    const ids = [MODEL_CONFIG.bos_token_id, ...x.tok.encode(prompt)];
    for (const mode of ['greedy', 'top-k 40, temperature 0.8, seed 1'] as const) {
      const out = await sample(x.trainer.model, ids, {
        maxNewTokens: 40,
        topK: mode === 'greedy' ? 1 : 40,
        temperature: 0.8,
        seed: 1,
        stopIds: GENERATION_CONFIG.eos_token_id,
      });
      samples.push({ prompt, mode, text: x.tok.decode(out) });
    }
  }

  const record = {
    model: BUILTIN_NAME,
    recipe: RECIPE,
    parameters: parameterCount(SPEC),
    commit: x.log.commit,
    device: x.log.device,
    steps: x.log.step,
    trainedTokens: x.log.step * RECIPE.batch * RECIPE.seq,
    trainTextTokens,
    trainChunks: x.trainChunks.length,
    evalTokens: labelled(x.valBatch),
    wallSeconds: Math.round(x.log.wallSeconds),
    sessions: x.log.sessions,
    valLoss: round(valLoss),
    baselines: { plugInUnigram: round(baselines.plugInUnigram), trainUnigram: round(baselines.trainUnigram) },
    evals: x.log.evals.map((e) => ({ step: e.step, loss: round(e.loss) })),
    losses: x.log.losses.map(round),
    gradNorms: x.log.gradNorms.map(round),
    lrs: x.log.lrs.map((l) => Number(l.toPrecision(6))),
    samples,
  };
  writeFileSync(join(x.modelDir, 'training_log.json'), JSON.stringify(record) + '\n');
  writeFileSync(join(x.modelDir, 'README.md'), renderCard(record));
  console.log(
    `exported ${BUILTIN_NAME}: val loss ${valLoss.toFixed(4)} (ppl ${Math.exp(valLoss).toFixed(1)}), ` +
      `plug-in unigram ${baselines.plugInUnigram.toFixed(4)}, training unigram ${baselines.trainUnigram.toFixed(4)}`,
  );
}
