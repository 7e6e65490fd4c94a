// Lesson 3, "Overfitting and early stopping": a small training set trained far too long, so the
// validation loss turns up while the training loss keeps falling; then the same run with early stopping
// (patience), which stops after the turn and restores the best checkpoint.
// Measured through the engine on lavapipe (scripts/lesson-run.ts, rows cut to 64 tokens; 100 steps then):
// validation loss 5.20 at step 5, lowest 4.69 at step 35, then up to 4.96 by step 80 (5.04 by 100); with
// early stopping the run stops at step 50 and restores step 35, test loss 4.56.

import type { Notebook } from '../notebook.ts';
import { builtinModel, lesson, lora, md, spamHam, train } from './kit.ts';

const tooLong = {
  lora: lora({ r: 16, alpha: 32, dropout: 0, targetModules: 'all-linear' }),
  epochs: 100,
  maxSteps: 80,
  seq: 64,
  lr: 5e-3,
  schedule: 'constant' as const,
  warmupSteps: 5,
  evalEvery: 5,
  evalExamples: 0,
};

export const LESSON_OVERFITTING: Notebook = lesson('lesson-overfitting', 'Overfitting and early stopping', [
  md('intro', [
    '# Overfitting and early stopping',
    '',
    'A model that trains long enough on few examples stops learning the *language* of the data and starts',
    'learning the *examples*: it memorises them. The training loss keeps going down, but on text it has',
    'never seen, it gets worse. That is **overfitting**, and the way to catch it is to keep some rows',
    'aside (the validation split), measure the loss on them as training goes, and stop when it turns up.',
  ]),
  builtinModel(),
  md('about-data', [
    '## A deliberately small set',
    '',
    'Only 80 e-mails from the `spam-ham` set, read this time as plain text (the `text` shape: the model',
    'learns to continue e-mails, the labels are ignored), cut to 64 tokens and split 60/20/20: 48 rows',
    'to train on, 16 to validate, 16 to test. The model was pretrained on books and speeches and has',
    'never seen an e-mail, so there is real, general learning to do at first (headers, quoting, the',
    'vocabulary of mailing lists) before there is nothing left to learn but the 48 e-mails themselves.',
    'With 8 rows a step, one pass over the training rows (an *epoch*) takes six steps, so 80 steps see',
    'every training row about thirteen times.',
  ]),
  {
    id: 'data',
    type: 'dataset',
    config: spamHam({
      shape: 'text',
      overLength: 'truncate',
      limitRows: 80,
      maxLength: 64,
      fractions: [0.6, 0.2, 0.2],
    }),
  },
  md('about-overfit', [
    '## Run 1: too long, on purpose',
    '',
    'A large adapter (rank 16 on every linear layer, about 150 thousand trainable numbers, more than the',
    'training set has tokens), no dropout, a constant learning rate of 5e-3 and 80 steps. (The rate is',
    'large for the usual reasons: 1e-4 suits billion-parameter models; this one has under a million.)',
    'The validation loss is measured every 5 steps on all 16 validation rows.',
    '',
    'Watch both curves. Early on they fall together: the model is learning how e-mails are',
    'written. Then they part: training loss keeps falling towards zero while validation loss bottoms out',
    'and climbs. Every step after that low point makes the model worse at the thing you care about.',
  ]),
  { id: 'train-overfit', type: 'train', label: 'No early stopping: 80 steps', config: train({ ...tooLong }) },
  md('about-early', [
    '## Run 2: early stopping',
    '',
    'The same run, with early stopping: after each evaluation, if the validation loss has not improved',
    'on its best value by more than the threshold (0.01) for `patience` evaluations in a row (here 3,',
    'so 15 steps), training stops. The best checkpoint is kept as the run goes, and when the run',
    'stops, the weights of that best step are **restored**: you get the model from the bottom of the',
    'valley, not from the step that noticed the climb. The chart marks the stop and the restored step.',
  ]),
  {
    id: 'train-early',
    type: 'train',
    label: 'Early stopping: patience 3',
    config: train({ ...tooLong, earlyStopping: { patience: 3, threshold: 0.01 }, checkpointEvery: 5 }),
  },
  md('about-eval', [
    '## Compare on the test rows',
    '',
    'The test rows were used for nothing so far, not even to decide when to stop, so they give an honest',
    'verdict. The early-stopped adapter should have a lower test loss than the one trained to the end,',
    'after fewer steps.',
  ]),
  { id: 'eval', type: 'evaluate' },
  md('next', [
    '## Things that also fight overfitting',
    '',
    '- **More data**: set `limitRows` to 400 and run 1 again. Where does the validation loss turn now?',
    '- **Less capacity**: rank 2 instead of 16.',
    '- **Dropout** on the adapter input (try 0.1), and **weight decay**.',
    '- **Patience** is a trade: too small and a noisy evaluation stops a run that was still improving;',
    '  too large and you pay for steps you throw away.',
  ]),
]);
