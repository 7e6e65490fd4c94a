// Lesson 1, "LoRA in five minutes": the whole loop on spam/ham classification with the built-in model
// (model, data, a LoRA run, evaluation against the majority baseline, base-versus-tuned outputs, export).

import type { Notebook } from '../notebook.ts';
import { SPAM_LABELS, builtinModel, lesson, lora, md, spamHam, train } from './kit.ts';

/**
 * Measured through the engine on Dawn + lavapipe (scripts/lesson-run.ts), e-mails cut to 64 tokens, lr 5e-3:
 * 120 steps of 4 with the final norm trained beside LoRA (modules_to_save): 78% test accuracy, macro-F1 0.70
 * (baseline 70%, validation 92.5%); 120 steps of 8: 77%; LoRA alone, 120 steps of 8: 73%; 80 steps of 8:
 * 70% (still "always ham"); the untrained model 30%. Without the norm, LoRA on this model cannot make its
 * label tokens likely (see the text).
 */
const LR = 5e-3;
/** The subject and first lines of an e-mail: enough to tell most spam, and half the work of 128 tokens. */
const SEQ = 64;

export const LESSON_LORA_IN_FIVE_MINUTES: Notebook = lesson('lesson-lora-in-five-minutes', 'LoRA in five minutes', [
  md('intro', [
    '# LoRA in five minutes',
    '',
    'Fine-tuning means taking a model that already knows something about language and nudging it towards',
    'one task. The obvious way is to keep training every weight. **LoRA** (low-rank adaptation) does',
    'something cheaper: it leaves every original weight matrix `W` frozen and learns a small correction',
    'next to it,',
    '',
    '```',
    "W' = W + (alpha / r) · B · A",
    '```',
    '',
    'where `A` has `r` rows and `B` has `r` columns, with `r` (the *rank*) far smaller than the matrix.',
    'For a 128 x 128 projection and `r = 8`, that is 2 x 8 x 128 = 2,048 numbers to learn instead of',
    '16,384. `B` starts at zero, so before the first step the tuned model is *exactly* the base model:',
    'everything it learns, it learns from your data.',
    '',
    'In this lesson you teach a tiny model to tell spam from ordinary e-mail ("ham"). Press',
    '**Run all** (or run the cells one by one with Shift+Enter) and read along while it trains.',
  ]),
  md('about-model', [
    '## The model',
    '',
    '`lorabook-tiny` ships with the app, so nothing is downloaded. It is a real Llama-style network, just',
    'a very small one: 4 layers, a hidden size of 128, a vocabulary of 1,024 tokens, at most 128 tokens',
    'of context, about 870 thousand parameters in all (a "small" chat model today has a thousand times',
    'more). It was pretrained on Moby-Dick and State of the Union addresses, so it writes vaguely',
    'nineteenth-century English and knows nothing about e-mail. The model cell shows its architecture and',
    "whether training fits in this device's memory.",
  ]),
  builtinModel(),
  md('about-data', [
    '## The data',
    '',
    'The built-in `spam-ham` set holds SpamAssassin e-mails, each a `text` with a `label`, `spam` or',
    '`ham`. We keep a random 600 of its 5,787 rows so that everything runs in a few minutes, and split',
    'them 80/10/10 into training, validation and test rows (the split keeps the share of spam the same in',
    'each).',
    '',
    'A classification row becomes a prompt and an answer: `Text: <the e-mail>` then `Label:` and the',
    'label. The loss is computed **only on the answer tokens**: the model is not asked to predict the',
    'e-mail, only what follows `Label:`. Each row is cut to 64 tokens: the subject and the first lines,',
    'which is enough to spot most spam and half the work of the 128 the model could read. The cut',
    "comes from the prompt's end (`truncate-prompt`), so the label is never the part that gets lost. Open",
    'the token view to see which tokens are trained (highlighted) and which only provide context.',
    '',
    'About 7 in 10 of these e-mails are ham. A model that always answers "ham" is therefore right 70% of',
    'the time: that **majority baseline** is the number to beat, not 50%.',
  ]),
  {
    id: 'data',
    type: 'dataset',
    config: spamHam({ maxLength: SEQ }),
  },
  md('about-train', [
    '## Training',
    '',
    'The settings below put LoRA adapters of rank 8 on every linear layer of the model (`all-linear`:',
    'the attention projections and the MLP), with `alpha = 16`, so the update is scaled by 16 / 8 = 2.',
    'That is about 75 thousand trainable numbers, under a tenth of the model.',
    '',
    '**One more trained piece: the final norm.** The model turns its last hidden state into a score for',
    "each of its 1,024 tokens by comparing it with that token's embedding, after a final normalization",
    'whose gain (128 numbers) sets how large those scores can get. This small model rarely saw ` ham` or',
    '` spam`, so their embeddings are short; with the gain frozen, no adapter can make them much likelier',
    'than a thousand other tokens, and LoRA alone learns slowly here. PEFT has a setting for such cases,',
    '`modules_to_save`: modules trained whole next to the adapters and saved with them. We list the final',
    'norm, `model.norm`, there: 128 more numbers. (With a big model you would rarely need it; when you teach a model',
    'new tokens, the embeddings go there.)',
    '',
    `**Why the learning rate is ${LR}.** You will often read that LoRA wants a learning rate of`,
    'about 1e-4. That advice is for models with billions of parameters, whose every weight sits in a',
    'huge sum and where a small step already moves the output a lot. Our model is a thousand times',
    `smaller, and with 1e-4 it would barely move in a hundred steps. ${LR} (fifty times larger)`,
    'lets it learn within minutes; for a tiny model anything from about 1e-3 to 5e-3 works for LoRA. If',
    'you later fine-tune a real model, go back to the usual 1e-4 to 2e-4.',
    '',
    'Each step sees 4 e-mails (the micro-batch) of up to 64 tokens. Watch the training loss fall, and',
    'the validation loss, measured every 40 steps on rows the model never trains on, fall with it. The',
    'accuracy tends to sit at the baseline for the first few dozen steps (the model first learns which',
    'label is common) before it starts telling the e-mails apart.',
  ]),
  {
    id: 'train',
    type: 'train',
    label: `LoRA r = 8, alpha = 16, lr ${LR}`,
    config: train({
      lora: lora({ r: 8, alpha: 16, dropout: 0.05, targetModules: 'all-linear', modulesToSave: ['model.norm'] }),
      lr: LR,
      epochs: 2,
      maxSteps: 120,
      microBatch: 4,
      seq: SEQ,
      evalEvery: 40,
      evalExamples: 40,
      labels: SPAM_LABELS,
    }),
  },
  md('about-eval', [
    '## Did it learn?',
    '',
    'The evaluation scores every test e-mail twice, with the base model and with the tuned one. For each',
    'e-mail it asks the model how likely `ham` and `spam` are after `Label:` and takes the likelier one,',
    'so even the base model gets an accuracy. Compare three numbers: the majority baseline, the base',
    "model's accuracy and the tuned model's. The untrained model tends to prefer one label for every",
    'e-mail, so it scores about 70% or about 30% depending on which one it happens to like. The tuned',
    'model should beat the baseline. Look at the per-class precision and recall too: a model that learned',
    'nothing but "always ham" has a spam recall of zero, however good its accuracy looks.',
  ]),
  { id: 'eval', type: 'evaluate' },
  md('about-generate', [
    '## Base and tuned, side by side',
    '',
    'The same prompts go through the base model and the tuned adapter. The base model continues in its',
    'own rambling style; the tuned one has learned that after `Label:` comes a label.',
  ]),
  {
    id: 'compare',
    type: 'generate',
    config: {
      prompts: [
        'Text: Subject: You have WON a FREE vacation! Click now to claim your prize, limited offer\nLabel:',
        'Text: Subject: Re: patch for the build script\n\nThanks, I applied it and the tests pass now.\nLabel:',
      ],
      maxNewTokens: 4,
      temperature: 0,
      topK: 0,
      topP: 1,
      seed: 0,
    },
  },
  md('about-export', [
    '## Take it with you',
    '',
    'The adapter exports in the PEFT format: `adapter_config.json` and `adapter_model.safetensors`, the',
    'two files that `PeftModel.from_pretrained` loads in Python. It weighs a few hundred kilobytes,',
    'because only `A`, `B` and the final norm (`modules_to_save`) are saved, never the frozen model.',
  ]),
  { id: 'export', type: 'export', config: { formats: ['peft', 'metrics'] } },
  md('next', [
    '## Try this',
    '',
    '- Unlock the lesson and set `r` to 1. Does it still beat the baseline? (Lesson 2 explores this.)',
    '- Set the learning rate to 1e-4 and run again: the loss hardly moves. That is the rate that suits',
    '  billion-parameter models, not this one.',
    '- Change the seed of the training cell: how much does the accuracy vary from run to run?',
  ]),
]);
