// Test-side access to the committed built-in model folder (public/models/lorabook-tiny/) and its corpus,
// read from disk the way a user's picked folder would be: Node only, for tests.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBuiltinCorpus } from '../../scripts/builtin-corpus.ts';
import { chunkCorpus, splitCorpus } from './corpus.ts';
import { BUILTIN_NAME } from './recipe.ts';

export const MODEL_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'public', 'models', BUILTIN_NAME);

export const readModelFile = (name: string) => new Uint8Array(readFileSync(join(MODEL_DIR, name)));
export const readModelJson = <T = Record<string, unknown>>(name: string) =>
  JSON.parse(new TextDecoder().decode(readModelFile(name))) as T;

/** The folder's files as a user would pick them ({ path, blob }). */
export function pickedModelFolder(): { path: string; blob: Blob }[] {
  return readdirSync(MODEL_DIR).map((path) => ({ path, blob: new Blob([readModelFile(path)]) }));
}

export function builtinChunks() {
  const { train, heldOut } = splitCorpus(readBuiltinCorpus());
  return { train, heldOut, trainChunks: chunkCorpus(train), heldOutChunks: chunkCorpus(heldOut) };
}
