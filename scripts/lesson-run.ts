// Runs a built-in lesson's model, dataset and train cells through the engine on Dawn, the way the notebook
// does (same requests), and prints one JSON line per train cell: validation losses, test accuracy and
// macro-F1 of the base and tuned model, the majority baseline, steps, the tokens processed in training and
// in evaluation, and wall time. For sizing lessons: a CPU browser (SwiftShader) runs about 3x slower than
// lavapipe, so multiply the wall time here by that to estimate a lesson in a browser without a GPU.
// Run: bash scripts/with-gpu-env.sh node --import tsx scripts/lesson-run.ts <lesson id> [--key=value ...]
//   keys override the train config (maxSteps=40, lr=0.005, microBatch=4, seq=64, evalEvery=10, ...) and
//   dataset.<key> the dataset cell (dataset.maxLength=64, dataset.limitRows=400); --cell=<id> runs one
//   train cell only.

import { acquireDawn } from '../companion/dawn.ts';
import { nodeEngineHost } from '../companion/host.ts';
import type { ShapeName } from '../src/data/shapes.ts';
import { LocalEngine } from '../src/engine/local-engine.ts';
import { lessonById } from '../src/share/lessons/index.ts';
import type { DatasetCellConfig } from '../src/share/notebook.ts';
import type { EvalMetrics, TrainConfig } from '../src/train/run-types.ts';

const [lessonId, ...rest] = process.argv.slice(2);
const lesson = lessonId ? lessonById(lessonId) : undefined;
if (!lesson) throw new Error(`usage: lesson-run.ts <lesson id> [--key=value ...] (got ${lessonId})`);
const overrides = new Map(
  rest.map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'] as const;
  }),
);
const value = (v: string): unknown => (v === 'true' ? true : v === 'false' ? false : isNaN(Number(v)) ? v : Number(v));
const overridden = <T extends object>(base: T, prefix: string): T => {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of overrides) {
    const own = prefix ? k.startsWith(prefix) : !k.includes('.') && k !== 'cell';
    if (own) out[k.slice(prefix.length)] = value(v);
  }
  return out as T;
};

const engine = new LocalEngine((o) => acquireDawn(o), nodeEngineHost());
const t0 = performance.now();
const seconds = () => Number(((performance.now() - t0) / 1000).toFixed(1));
const log = (m: string) => process.stderr.write(`[${seconds()} s] ${m}\n`);

const modelCell = lesson.cells.find((c) => c.type === 'model');
if (modelCell?.type !== 'model' || !modelCell.source) throw new Error('the lesson has no model cell');
const model = await engine.loadModel({ source: modelCell.source });
log(`model ${model.name}`);
let datasetId = '';
for (const cell of lesson.cells) {
  if (cell.type === 'dataset') datasetId = await loadDataset(cell.config);
  if (cell.type !== 'train') continue;
  if (overrides.has('cell') && overrides.get('cell') !== cell.id) continue;
  const config = overridden<TrainConfig>(cell.config, '');
  if (config.lora) config.lora = overridden(config.lora, 'lora.');
  const save = overrides.get('lora.modulesToSave');
  if (config.lora && save !== undefined) config.lora.modulesToSave = save ? save.split(',') : [];
  const started = performance.now();
  let trainTokens = 0;
  const evals: EvalMetrics[] = [];
  const summary = await engine.startRun(
    { runId: `${lesson.id}/${cell.id}`, modelId: model.modelId, datasetId, config, resume: false },
    (e) => {
      if (e.type === 'train-step') {
        trainTokens += e.metrics.tokens;
        if (e.metrics.step % 10 === 0) log(`${cell.id} step ${e.metrics.step} loss ${e.metrics.loss.toFixed(3)}`);
      }
      if (e.type === 'eval') {
        evals.push(e.metrics);
        log(
          `${cell.id} ${e.metrics.split} @${e.metrics.step}: loss ${e.metrics.loss.toFixed(3)} acc ${e.metrics.accuracy}`,
        );
      }
    },
  );
  const r = (x: number | undefined) => (x === undefined ? null : Number(x.toFixed(4)));
  console.log(
    JSON.stringify({
      lesson: lesson.id,
      cell: cell.id,
      steps: summary.steps,
      stoppedBy: summary.stoppedBy,
      bestStep: summary.bestStep,
      validationLoss: evals.filter((e) => e.split === 'validation').map((e) => [e.step, r(e.loss), r(e.accuracy)]),
      test: summary.test && {
        examples: summary.test.tuned.examples,
        majorityBaseline: r(summary.test.tuned.majorityBaseline),
        base: {
          accuracy: r(summary.test.base.accuracy),
          macroF1: r(summary.test.base.macroF1),
          loss: r(summary.test.base.loss),
        },
        tuned: {
          accuracy: r(summary.test.tuned.accuracy),
          macroF1: r(summary.test.tuned.macroF1),
          loss: r(summary.test.tuned.loss),
        },
      },
      trainedTokens: trainTokens,
      config: {
        maxSteps: config.maxSteps,
        microBatch: config.microBatch,
        seq: config.seq,
        lr: config.lr,
        evalEvery: config.evalEvery,
        evalExamples: config.evalExamples,
      },
      wallSeconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    }),
  );
}
await engine.dispose();

async function loadDataset(cfg: DatasetCellConfig): Promise<string> {
  const c = overridden(cfg, 'dataset.');
  if (!c.source) throw new Error('the dataset cell has no source');
  const info = await engine.loadDataset({
    modelId: model.modelId,
    source: c.source,
    options: {
      seed: c.seed,
      fractions: c.fractions,
      maxLength: c.maxLength,
      overLength: c.overLength,
      shape: c.shape as ShapeName | 'auto',
      badRows: 'skip',
      ...('appendEos' in c ? { appendEos: (c as { appendEos?: boolean }).appendEos } : {}),
    },
    limitRows: c.limitRows,
  });
  log(`dataset ${JSON.stringify(info.stats)}`);
  return info.datasetId;
}
