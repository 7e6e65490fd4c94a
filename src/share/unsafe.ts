// Which markdown cells of a notebook carried content the sanitizer removed (a script, an event handler, a
// javascript: link), so the UI can warn that a shared notebook tried something. Not an error: the cells
// render, sanitized. Needs a DOM (the sanitizer's), like src/ui/markdown.ts.

import { renderMarkdownReport } from '../ui/markdown.ts';
import type { Notebook } from './notebook.ts';

export interface UnsafeCell {
  cellId: string;
  /** What was removed, e.g. ['script', 'onerror@img']. */
  removed: string[];
}

export function findUnsafeMarkdown(nb: Notebook): UnsafeCell[] {
  const out: UnsafeCell[] = [];
  for (const c of nb.cells) {
    if (c.type !== 'markdown') continue;
    const { removed } = renderMarkdownReport(c.source);
    if (removed.length) out.push({ cellId: c.id, removed });
  }
  return out;
}
