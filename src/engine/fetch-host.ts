// The engine host of a browser worker: built-in models and datasets are fetched from the app's own origin
// (the Hub-shaped public/ folder the build ships), and Hub weights are cached in IndexedDB.

import { HubError } from '../errors.ts';
import { WeightCache } from '../store/weight-cache.ts';
import type { EngineHost } from './models.ts';

/** `base`: the URL public/ is served under (the worker passes its origin plus Vite's base). */
export function fetchEngineHost(base: string): EngineHost {
  let cache: Promise<WeightCache | null> | null = null;
  return {
    async builtinFile(path: string): Promise<Blob> {
      const url = new URL(path, base).href;
      let res: Response;
      try {
        res = await fetch(url);
      } catch (e) {
        throw new HubError(`could not fetch the built-in file ${path}: ${String(e)}`, 'network', path, 0);
      }
      if (!res.ok)
        throw new HubError(`the built-in file ${path} answered ${res.status}`, 'not-found', path, res.status);
      return res.blob();
    },
    weightCache: () => (cache ??= WeightCache.open().catch(() => null)),
  };
}
