// Lesson 2, "Rank and alpha": several LoRA runs on the same data and seed, differing only in r and
// alpha, whose loss curves overlay; the text explains capacity (r) and scale (alpha / r).

import type { Notebook } from '../notebook.ts';
import { builtinModel, lesson, lora, md, spamHam, train } from './kit.ts';

// Sized for a CPU browser: 128 training e-mails of at most 64 tokens, 4 a step, one pass (32 steps) a run.
// Measured through the engine on lavapipe (scripts/lesson-run.ts, 92 s for the four runs): validation loss
// after 32 steps A 5.31, B 5.01, C 4.85, D 4.90 (from 5.87); at step 8 C 5.19 and D 5.35, D starting slower.
const SEQ = 64;
const run = (r: number, alpha: number) =>
  train({
    lora: lora({ r, alpha, dropout: 0, targetModules: 'all-linear' }),
    maxSteps: 40,
    microBatch: 4,
    seq: SEQ,
    evalEvery: 8,
    evalExamples: 16,
  });

export const LESSON_RANK_AND_ALPHA: Notebook = lesson('lesson-rank-and-alpha', 'Rank and alpha', [
  md('intro', [
    '# Rank and alpha',
    '',
    'A LoRA adapter has two numbers that people tune more than any other: the **rank** `r` and **alpha**.',
    'This lesson trains the same model on the same data four times, changing only those two, and draws',
    'the four loss curves on one chart so you can see what each does.',
    '',
    'Recall the update: `W + (alpha / r) · B · A`, where `B · A` is a matrix of rank at most `r`.',
    '',
    '- **`r` is capacity.** A rank-1 update can only push every input along one direction; rank 16 can',
    '  express sixteen independent directions. More rank means more trainable numbers (and more memory),',
    '  and past some point, no better results: a fine-tune usually needs surprisingly few directions.',
    '- **`alpha / r` is the scale.** It multiplies the update. With `alpha = 2r` (a common habit) the',
    '  scale is 2 whatever the rank. Keep the rank and lower alpha, and the same learned `A` and `B`',
    '  move the model half as far, which acts much like a smaller learning rate.',
  ]),
  builtinModel(),
  md('about-data', [
    '## The data',
    '',
    'Plain text this time: 160 e-mails from the `spam-ham` set read with the `text` shape (the labels',
    'are ignored), each cut to 64 tokens. Every token is trained (there is no prompt to mask), so the',
    'loss says how well the model predicts the next token of an e-mail. The model was pretrained on',
    'books and speeches and has never seen e-mail headers, quoted replies or mailing-list jargon, so',
    'there is a lot to adapt to, and the runs show how fast each adapter does it.',
  ]),
  {
    id: 'data',
    type: 'dataset',
    config: spamHam({ shape: 'text', overLength: 'truncate', limitRows: 160, maxLength: SEQ }),
  },
  md('about-runs', [
    '## Four runs',
    '',
    'All four use the same seed (so the same batches in the same order), one pass over the 128 training',
    'e-mails (32 steps of 4), a learning rate of',
    '3e-3 (large, because the model is tiny: the usual 1e-4 is for billion-parameter models) and adapters',
    'on every linear layer. Only `r` and `alpha` change:',
    '',
    '| run | r | alpha | scale alpha/r | trainable numbers |',
    '| --- | - | ----- | ------------- | ----------------- |',
    '| A   | 1 | 2     | 2             | about 9 thousand  |',
    '| B   | 4 | 8     | 2             | about 37 thousand |',
    '| C   | 16 | 32   | 2             | about 150 thousand |',
    '| D   | 16 | 16   | 1             | about 150 thousand |',
    '',
    'Run them one after another; each adds its curve to the chart of the cells before it.',
  ]),
  { id: 'train-r1', type: 'train', label: 'A: r = 1, alpha = 2', config: run(1, 2) },
  { id: 'train-r4', type: 'train', label: 'B: r = 4, alpha = 8', config: run(4, 8) },
  { id: 'train-r16', type: 'train', label: 'C: r = 16, alpha = 32', config: run(16, 32) },
  { id: 'train-r16-a16', type: 'train', label: 'D: r = 16, alpha = 16', config: run(16, 16) },
  md('reading', [
    '## Reading the chart',
    '',
    '- **A against B against C** (same scale, growing rank): the gap between rank 1 and rank 4 is usually',
    '  larger than the gap between 4 and 16. Each extra direction helps less than the one before;',
    '  a rank of 4 to 16 is enough for most fine-tunes, even of large models.',
    '- **C against D** (same rank, half the scale): D starts more slowly, as if its learning rate were',
    '  lower. This is why changing `r` while keeping `alpha` fixed also changes the effective step size,',
    '  and why many people scale alpha with r. (rsLoRA, another option, scales by `alpha / sqrt(r)`',
    '  instead, so that large ranks are not damped as much.)',
    '- Compare the **validation** curves, not only the training ones: more capacity can fit the training',
    '  rows better without predicting unseen text any better.',
  ]),
  { id: 'eval', type: 'evaluate' },
  md('next', [
    '## Try this',
    '',
    '- Add a run with `r = 64`. Is it any better than 16 here?',
    '- Keep `r = 4` and try alpha 4, 8 and 32. Which one looks like the learning rate doubled?',
    '- Put the adapters on `q_proj` and `v_proj` only (the classic LoRA paper setting) and compare with',
    '  all linear layers at the same number of trainable parameters.',
  ]),
]);
