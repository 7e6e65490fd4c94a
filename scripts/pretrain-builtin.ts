// Pretrains the built-in model (public/models/lorabook-tiny/) with lorabook's own engine on Dawn, in full
// fine-tuning mode, from the recipe in src/builtin/recipe.ts: deterministic from its seed, resumable
// (checkpoints in .cache/pretrain-builtin/ every few steps; run it again to continue), held-out documents
// never trained on. At the end (or with --export, from the last checkpoint) it writes config.json,
// generation_config.json, model.safetensors, training_log.json and the model card README.md next to the
// tokenizer that scripts/train-tokenizer.ts wrote.
// Run: nice -n 19 bash scripts/with-gpu-env.sh npx tsx scripts/pretrain-builtin.ts [--until STEP] [--export]
//      [--checkpoints DIR]  (--until stops early without changing the schedule; --export only writes the files)

import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireDawn } from '../companion/dawn.ts';
import { chunkCorpus, splitCorpus } from '../src/builtin/corpus.ts';
import { Pretrainer } from '../src/builtin/pretrainer.ts';
import {
  BUILTIN_NAME,
  chunkIds,
  evalBatch,
  evalChunks,
  initialWeights,
  learningRate,
  RECIPE,
  trainBatch,
} from '../src/builtin/recipe.ts';
import { loadTokenizerFromFiles } from '../src/data/tokenizer.ts';
import { adapterName } from '../src/gpu/capabilities.ts';
import { loadCheckpoint, saveCheckpoint, type RunLog } from './builtin-checkpoint.ts';
import { exportModel } from './builtin-export.ts';
import { readBuiltinCorpus } from './builtin-corpus.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const modelDir = join(root, 'public', 'models', BUILTIN_NAME);
const CHECKPOINT_EVERY = 25;

const args = process.argv.slice(2);
const ckptArg = args.indexOf('--checkpoints');
const ckptDir = ckptArg >= 0 ? args[ckptArg + 1] : join(root, '.cache', 'pretrain-builtin');
const untilArg = args.indexOf('--until');
const until = Math.min(RECIPE.steps, untilArg >= 0 ? Number(args[untilArg + 1]) : RECIPE.steps);
const exportOnly = args.includes('--export');

/** The run's code; the commit is marked "+dirty" when any of it differs from HEAD. */
const CODE_PATHS = 'scripts/pretrain-builtin.ts scripts/builtin-*.ts src/builtin src/model src/kernels src/train';
const sh = (cmd: string) => execSync(cmd, { cwd: root, encoding: 'utf8' }).trim();

const tok = await loadTokenizerFromFiles(
  {
    'tokenizer.json': readFileSync(join(modelDir, 'tokenizer.json'), 'utf8'),
    'tokenizer_config.json': readFileSync(join(modelDir, 'tokenizer_config.json'), 'utf8'),
  },
  modelDir,
);
const { train, heldOut } = splitCorpus(readBuiltinCorpus());
const trainChunks = chunkCorpus(train);
const heldOutChunks = chunkCorpus(heldOut);
const cache = new Map<number, number[]>();
const idsOf = (i: number) => {
  let ids = cache.get(i);
  if (!ids) cache.set(i, (ids = chunkIds(tok, trainChunks[i])));
  return ids;
};
const valBatch = evalBatch(evalChunks(heldOutChunks.length).map((i) => chunkIds(tok, heldOutChunks[i])));

const gpu = await acquireDawn();
const device = adapterName(gpu.caps);
const saved = loadCheckpoint(ckptDir);
const log: RunLog = saved?.log ?? {
  step: 0,
  losses: [],
  gradNorms: [],
  lrs: [],
  evals: [],
  wallSeconds: 0,
  sessions: 0,
  commit: '',
  device,
};
// The code of the latest training session is what the card names (earlier sessions' steps are reproduced
// by it: CI replays them). Tracked files only: new, uncommitted tests do not change what runs.
if (!exportOnly) {
  log.commit = sh('git rev-parse HEAD') + (sh('git status --porcelain -uno -- ' + CODE_PATHS) ? '+dirty' : '');
}
const trainer = await Pretrainer.create(gpu, saved?.weights ?? initialWeights(), saved?.opt);
console.log(
  `${saved ? `resuming at step ${log.step}` : 'starting'} of ${RECIPE.steps}; ${trainChunks.length} training chunks, ` +
    `${heldOutChunks.length} held-out chunks; device ${device}`,
);

if (!exportOnly) {
  log.sessions += 1;
  if (log.evals.length === 0) log.evals.push({ step: 0, loss: await trainer.evalLoss(valBatch) });
  let t0 = performance.now();
  while (log.step < until) {
    const s = log.step;
    const { loss, gradNorm } = await trainer.step(s, trainBatch(s, trainChunks.length, idsOf));
    log.losses.push(loss);
    log.gradNorms.push(gradNorm);
    log.lrs.push(learningRate(s));
    log.step = s + 1;
    const evalNow = log.step % RECIPE.evalEvery === 0 || log.step === RECIPE.steps;
    if (evalNow) log.evals.push({ step: log.step, loss: await trainer.evalLoss(valBatch) });
    if (log.step % CHECKPOINT_EVERY === 0 || log.step === until) {
      const now = performance.now();
      log.wallSeconds += (now - t0) / 1000;
      t0 = now;
      saveCheckpoint(ckptDir, { log, weights: await trainer.weights(), opt: await trainer.optimizerState() });
    }
    const ev = evalNow ? ` val ${log.evals[log.evals.length - 1].loss.toFixed(4)}` : '';
    console.log(
      `step ${log.step} loss ${loss.toFixed(4)} |g| ${gradNorm.toFixed(3)}${ev} (${log.wallSeconds.toFixed(0)} s)`,
    );
  }
}
if (exportOnly || log.step === RECIPE.steps) {
  await exportModel({ gpu, tok, trainer, log, modelDir, trainChunks, valBatch, idsOf });
}
trainer.dispose();
gpu.destroy();
