// Trains the built-in model's tokenizer: byte-level BPE, vocabulary 1,024 (256 bytes, 765 merges, 3 special
// tokens), learned on the training documents only (held-out documents never shape the merges). Writes
// tokenizer.json and tokenizer_config.json into public/models/lorabook-tiny/. Deterministic.
// Run: npx tsx scripts/train-tokenizer.ts

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countWords, trainBpe } from '../src/builtin/bpe-train.ts';
import { splitCorpus } from '../src/builtin/corpus.ts';
import { BUILTIN_NAME, MODEL_CONFIG } from '../src/builtin/recipe.ts';
import { SPECIAL_TOKENS, tokenizerFiles } from '../src/builtin/tokenizer-files.ts';
import { readBuiltinCorpus } from './builtin-corpus.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'public', 'models', BUILTIN_NAME);
const vocabSize = MODEL_CONFIG.vocab_size;

const t0 = performance.now();
const { train, heldOut } = splitCorpus(readBuiltinCorpus());
const counts = countWords(train.map((d) => d.text));
const bpe = trainBpe(counts, vocabSize - 256 - SPECIAL_TOKENS.length);
if (bpe.tokens.length + SPECIAL_TOKENS.length !== vocabSize)
  throw new Error(`only ${bpe.merges.length} merges learned`);
const files = tokenizerFiles(bpe, MODEL_CONFIG.max_position_embeddings);
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'tokenizer.json'), JSON.stringify(files.tokenizer, null, 2) + '\n');
writeFileSync(join(out, 'tokenizer_config.json'), JSON.stringify(files.config, null, 2) + '\n');
console.log(
  `tokenizer: ${train.length} training documents (${heldOut.length} held out), ${counts.size} distinct words, ` +
    `${bpe.merges.length} merges, vocabulary ${vocabSize}, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
