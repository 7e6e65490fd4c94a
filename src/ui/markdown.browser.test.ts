// Safe markdown in a real browser DOM: every way of smuggling script into a cell (script tags, event
// handlers, javascript: links, SVG onload, iframes, styles) is removed and reported, links open in a new
// tab without an opener, and ordinary markdown (headings, lists, code, links, emphasis, tables) survives.

import { describe, expect, it } from 'vitest';
import { LESSONS } from '../share/lessons/index.ts';
import { findUnsafeMarkdown } from '../share/unsafe.ts';
import { sampleNotebook } from '../share/test-notebook.ts';
import { renderMarkdown, renderMarkdownReport } from './markdown.ts';

function dom(html: string): HTMLElement {
  const div = document.createElement('div');
  div.innerHTML = html;
  return div;
}

/** Every attribute name in the rendered tree, and every element name. */
function inventory(root: HTMLElement): { tags: Set<string>; attrs: string[] } {
  const tags = new Set<string>();
  const attrs: string[] = [];
  for (const el of root.querySelectorAll('*')) {
    tags.add(el.nodeName.toLowerCase());
    for (const a of el.attributes) attrs.push(`${a.name}=${a.value}`);
  }
  return { tags, attrs };
}

describe('renderMarkdown', () => {
  const hostile: [string, string][] = [
    ['a script tag', 'Hi <script>window.__pwned = 1</script> there'],
    ['an img onerror', '<img src="x" onerror="window.__pwned = 1">'],
    ['a javascript: link', '[click me](javascript:window.__pwned=1)'],
    ['a raw javascript: anchor', '<a href="JaVaScRiPt:window.__pwned=1">x</a>'],
    ['an svg with onload', '<svg onload="window.__pwned = 1"><circle r="4"/></svg>'],
    ['an iframe', '<iframe src="https://example.test/"></iframe>'],
    ['an object and an embed', '<object data="x.swf"></object><embed src="x.swf">'],
    ['a style element and attribute', '<style>body{display:none}</style><p style="position:fixed">x</p>'],
    ['a form', '<form action="https://example.test/"><button>go</button></form>'],
  ];

  for (const [what, src] of hostile) {
    it(`removes ${what}`, async () => {
      const { html, removed } = renderMarkdownReport(src);
      expect(removed.length, what).toBeGreaterThan(0);
      const root = dom(html);
      document.body.append(root);
      await new Promise((r) => setTimeout(r, 20)); // let an onerror/onload fire if one survived
      root.remove();
      const { tags, attrs } = inventory(root);
      for (const t of ['script', 'svg', 'iframe', 'object', 'embed', 'style', 'form', 'button']) {
        expect(tags.has(t), `${what}: <${t}>`).toBe(false);
      }
      expect(
        attrs.filter((a) => /^on/i.test(a) || /javascript:/i.test(a) || /^style=/.test(a)),
        what,
      ).toEqual([]);
      expect((window as unknown as { __pwned?: number }).__pwned, what).toBeUndefined();
    });
  }

  it('keeps ordinary markdown: headings, lists, code, links, emphasis, tables', () => {
    const src = [
      '# Title',
      '## Part two',
      '',
      'Some *emphasis*, **strong** and `inline code`, with a [link](https://huggingface.co/docs).',
      '',
      '- one',
      '- two',
      '',
      '1. first',
      '2. second',
      '',
      '```ts',
      'const lr = 2e-3; // <not a tag>',
      '```',
      '',
      '| r | alpha |',
      '| - | ----- |',
      '| 4 | 8     |',
      '',
      '> a quote, and $W + BA$ as plain text',
    ].join('\n');
    const { html, removed } = renderMarkdownReport(src);
    expect(removed).toEqual([]);
    const root = dom(html);
    expect(root.querySelector('h1')?.textContent).toBe('Title');
    expect(root.querySelector('h2')?.textContent).toBe('Part two');
    expect(root.querySelector('em')?.textContent).toBe('emphasis');
    expect(root.querySelector('strong')?.textContent).toBe('strong');
    expect(root.querySelectorAll('ul li').length).toBe(2);
    expect(root.querySelectorAll('ol li').length).toBe(2);
    expect(root.querySelector('pre code')?.textContent).toContain('const lr = 2e-3; // <not a tag>');
    expect(root.querySelectorAll('table td').length).toBe(2);
    expect(root.querySelector('blockquote')?.textContent).toContain('$W + BA$');
    const a = root.querySelector('a');
    expect(a?.getAttribute('href')).toBe('https://huggingface.co/docs');
    expect(a?.getAttribute('target')).toBe('_blank');
    expect(a?.getAttribute('rel')).toBe('noopener noreferrer');
  });

  it('renders to a string', () => {
    expect(renderMarkdown('**x**')).toContain('<strong>x</strong>');
  });
});

describe('findUnsafeMarkdown', () => {
  it('names the markdown cells whose content the sanitizer removed', () => {
    const nb = sampleNotebook();
    nb.cells.push({ id: 'evil', type: 'markdown', source: 'ok <img src=x onerror=alert(1)> <script>1</script>' });
    const found = findUnsafeMarkdown(nb);
    expect(found.map((f) => f.cellId)).toEqual(['evil']);
    expect(found[0].removed).toEqual(expect.arrayContaining(['script', 'onerror@img']));
    expect(findUnsafeMarkdown(sampleNotebook())).toEqual([]);
  });
});

describe('the built-in lessons', () => {
  it('render without anything removed, with their tables and code blocks', () => {
    for (const nb of LESSONS) expect(findUnsafeMarkdown(nb), nb.id).toEqual([]);
    const all = LESSONS.flatMap((nb) => nb.cells.filter((c) => c.type === 'markdown').map((c) => c.source));
    const root = dom(all.map((s) => renderMarkdown(s)).join(''));
    expect(root.querySelectorAll('h1').length).toBe(LESSONS.length);
    expect(root.querySelectorAll('table').length).toBeGreaterThanOrEqual(2);
    expect(root.querySelectorAll('pre code').length).toBeGreaterThanOrEqual(1);
  });
});
