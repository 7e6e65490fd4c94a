// Markdown cells to safe HTML: marked renders, DOMPurify sanitizes. Notebooks arrive through links, so no
// cell may run script: script/iframe/object/embed/style/form elements, SVG and MathML, on* handlers, style
// attributes and javascript: URLs are removed, and links open in a new tab with rel="noopener noreferrer".
// Needs a DOM (the browser; its tests run in vitest's browser project).

import createDOMPurify, { type DOMPurify } from 'dompurify';
import { Marked } from 'marked';

export interface RenderedMarkdown {
  html: string;
  /** What the sanitizer removed (element names, or "attr@element"); empty for ordinary markdown. */
  removed: string[];
}

const marked = new Marked({ gfm: true, breaks: false, async: false });

const FORBID_TAGS = [
  'style',
  'iframe',
  'frame',
  'frameset',
  'object',
  'embed',
  'form',
  'button',
  'textarea',
  'select',
  'base',
  'link',
  'meta',
];

let purifier: DOMPurify | null = null;

/** One sanitizer of our own (its hooks do not leak into other users of DOMPurify). */
function sanitizer(): DOMPurify {
  if (purifier) return purifier;
  if (typeof window === 'undefined') throw new Error('renderMarkdown needs a DOM (run it in the browser)');
  const p = createDOMPurify(window);
  p.addHook('afterSanitizeAttributes', (node) => {
    if (node.nodeName === 'A' && node.hasAttribute('href')) {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer');
    }
  });
  purifier = p;
  return p;
}

/** Sanitized HTML of a markdown source, and what was removed from it. */
export function renderMarkdownReport(source: string): RenderedMarkdown {
  const raw = marked.parse(source, { async: false });
  const p = sanitizer();
  const html = p.sanitize(raw, {
    USE_PROFILES: { html: true },
    FORBID_TAGS,
    FORBID_ATTR: ['style'],
    ALLOW_DATA_ATTR: false,
  });
  const removed = p.removed.map((r) =>
    'attribute' in r
      ? `${r.attribute?.name ?? '?'}@${r.from.nodeName.toLowerCase()}`
      : r.element.nodeName.toLowerCase(),
  );
  return { html, removed };
}

/** Sanitized HTML of a markdown source. */
export function renderMarkdown(source: string): string {
  return renderMarkdownReport(source).html;
}
