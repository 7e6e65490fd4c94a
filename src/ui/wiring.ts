// The notebook's services as the app uses them: saved notebooks in IndexedDB (src/store/notebooks.ts),
// share links (src/share/link.ts) that refuse a notebook whose markdown carries script, and the weight
// cache for the device panel. Kept apart from main.ts so the state classes stay free of IndexedDB and DOM.

import { ShareLinkError } from '../errors.ts';
import { decodeNotebookFragment, encodeNotebookFragment, isShareFragment } from '../share/link.ts';
import type { Notebook } from '../share/notebook.ts';
import { findUnsafeMarkdown } from '../share/unsafe.ts';
import { NotebookStore as IdbNotebookStore } from '../store/notebooks.ts';
import { WeightCache } from '../store/weight-cache.ts';
import type { NotebookStore, ShareCodec } from './state/library.svelte.ts';

/** The IndexedDB notebook store, opened on first use. */
export function idbNotebookStore(): NotebookStore {
  let opened: Promise<IdbNotebookStore> | null = null;
  const store = () => (opened ??= IdbNotebookStore.open());
  return {
    list: async () => (await store()).list(),
    load: async (id) => (await store()).load(id),
    save: async (nb) => (await store()).save(nb),
    delete: async (id) => (await store()).delete(id),
    importNotebook: async (nb) => (await store()).importNotebook(nb),
  };
}

/** Share links; a decoded notebook whose markdown the sanitizer had to change is refused as a whole. */
export const shareCodec: ShareCodec = {
  isShareFragment: (f) => isShareFragment(f),
  encode: async (nb: Notebook) => encodeNotebookFragment(nb),
  decode: async (fragment: string) => {
    const nb = decodeNotebookFragment(fragment);
    const unsafe = findUnsafeMarkdown(nb);
    if (unsafe.length > 0) {
      const first = unsafe[0];
      const index = nb.cells.findIndex((c) => c.id === first.cellId);
      throw new ShareLinkError(
        `The shared notebook's text in cell ${index + 1} carries content that could run code in this page ` +
          `(${first.removed.join(', ')}). lorabook does not open it.`,
        'invalid',
        `cells[${index}].source`,
      );
    }
    return nb;
  },
};

let cache: Promise<WeightCache> | null = null;
export const openWeightCache = (): Promise<WeightCache> => (cache ??= WeightCache.open());
