// Quality gates of the committed built-in model (public/models/lorabook-tiny/): it loads through the same
// path as a Hub model (the loader reading a picked folder: config.json, safetensors, tokenizer files), it
// learned more than token frequencies (held-out loss at least 0.5 nats below the best unigram model of the
// very same held-out tokens), it generates text, and its files stay small.

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizerFromFiles, type TextTokenizer } from '../data/tokenizer.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { loadFromFiles } from '../hub/loader.ts';
import { engineWeights } from '../hub/weights.ts';
import { LlamaGpu } from '../model/llama-gpu.ts';
import { testGpu } from '../test/gpu.ts';
import { builtinChunks, MODEL_DIR, pickedModelFolder, readModelJson } from './builtin-files.ts';
import { meanLoss } from './pretrainer.ts';
import { BUILTIN_NAME, chunkIds, evalBatch, evalChunks, MODEL_CONFIG } from './recipe.ts';
import { sample } from './sample.ts';
import { plugInEntropy } from './unigram.ts';

const HUB_FILES = [
  'config.json',
  'generation_config.json',
  'model.safetensors',
  'tokenizer.json',
  'tokenizer_config.json',
];

describe('the built-in model lorabook-tiny', () => {
  let gpu: Gpu;
  let model: LlamaGpu;
  let tok: TextTokenizer;
  beforeAll(async () => {
    gpu = await testGpu();
    const loaded = await loadFromFiles(BUILTIN_NAME, pickedModelFolder(), { storage: 'f32', storageManager: null });
    const file = (name: string) => loaded.files.get(name)!;
    tok = await loadTokenizerFromFiles(
      { 'tokenizer.json': file('tokenizer.json'), 'tokenizer_config.json': file('tokenizer_config.json') },
      BUILTIN_NAME,
    );
    model = LlamaGpu.create(gpu, loaded.spec, engineWeights(loaded.tensors), { mode: 'full', seed: 0 });
  });
  afterAll(() => {
    model?.dispose();
    gpu?.destroy();
  });

  it('is a small Hub-layout folder', () => {
    const sizes = Object.fromEntries(HUB_FILES.map((f) => [f, statSync(join(MODEL_DIR, f)).size]));
    expect(sizes['model.safetensors']).toBeLessThan(4_000_000);
    expect(Object.values(sizes).reduce((a, b) => a + b, 0)).toBeLessThan(4_500_000);
    expect(readModelJson('config.json')).toEqual(MODEL_CONFIG);
    expect(model.spec.numKvHeads).toBeLessThan(model.spec.numHeads); // GQA
  });

  it('beats the unigram baseline on held-out text by at least 0.5 nats', async () => {
    const { heldOutChunks } = builtinChunks();
    const batch = evalBatch(evalChunks(heldOutChunks.length).map((i) => chunkIds(tok, heldOutChunks[i])));
    const loss = await meanLoss(gpu, model, batch);
    const unigram = plugInEntropy(batch.labels);
    const recorded = readModelJson<{ valLoss: number }>('training_log.json').valLoss;
    console.info(`[builtin] held-out loss ${loss.toFixed(4)} (recorded ${recorded}), unigram ${unigram.toFixed(4)}`);
    expect(loss).toBeLessThan(unigram - 0.5);
    expect(Math.abs(loss - recorded)).toBeLessThan(1e-3); // the card's number is the committed weights'
  });

  it('generates text from a prompt', async () => {
    const prompt = [MODEL_CONFIG.bos_token_id, ...tok.encode('The whale')];
    const greedy = await sample(model, prompt, { maxNewTokens: 16, topK: 1 });
    const again = await sample(model, prompt, { maxNewTokens: 16, topK: 1 });
    const sampled = await sample(model, prompt, { maxNewTokens: 16, topK: 40, temperature: 0.8, seed: 7 });
    const text = tok.decode(greedy);
    console.info(`[builtin] greedy: ${JSON.stringify('The whale' + text)}`);
    expect(again).toEqual(greedy);
    expect(greedy.length).toBe(16);
    expect(sampled.length).toBeGreaterThan(0);
    expect(text).toMatch(/[a-z]{2,}/); // words, not byte soup
    for (const id of [...greedy, ...sampled]) expect(id).toBeLessThan(MODEL_CONFIG.vocab_size);
  });
});
