// The engine host in Node (the companion and the tests): built-in models and datasets are read from the
// repository's public/ folder; there is no IndexedDB, so Hub weights are not cached across runs.

import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HubError } from '../src/errors.ts';
import type { EngineHost } from '../src/engine/models.ts';

export const PUBLIC_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'public');

export function nodeEngineHost(publicDir = PUBLIC_DIR): EngineHost {
  return {
    async builtinFile(path: string): Promise<Blob> {
      if (path.split('/').includes('..'))
        throw new HubError(`${path} leaves the public folder`, 'not-found', path, 404);
      try {
        return new Blob([await readFile(join(publicDir, path))]);
      } catch {
        throw new HubError(`the built-in file ${path} is missing`, 'not-found', path, 404);
      }
    },
  };
}
