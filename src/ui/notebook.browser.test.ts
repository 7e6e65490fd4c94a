// The notebook UI in real Chromium with a fake engine (no GPU work): lesson 1 opens read-only, Run all
// fills the loss chart and the evaluation table, the compare cell shows both outputs, the link copies;
// screenshots of each stage land in src/ui/__screenshots__ for a person to look at.

import { mount, unmount } from 'svelte';
import { afterAll, describe, expect, it } from 'vitest';
import { page } from 'vitest/browser';
import { encodeNotebookFragment } from '../share/link.ts';
import { LESSONS } from '../share/lessons/index.ts';
import App from './App.svelte';
import { EngineSession } from './engine-session.svelte.ts';
import { MatmulBenchmark } from './matmul-benchmark.svelte.ts';
import { fakeEngine } from './state/fake-engine.ts';
import { Library } from './state/library.svelte.ts';
import { MemoryNotebookStore } from './state/memory-store.ts';
import { NotebookRunner } from './state/runner.svelte.ts';
import { shareCodec } from './wiring.ts';
import './app.css';

const losses = Array.from({ length: 40 }, (_, i) => 0.35 + 2.2 * Math.exp(-i / 9) + 0.05 * Math.sin(i));

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A screenshot of one element, under src/ui/__screenshots__/notebook/ (git-ignored). */
async function shot(name: string, selector: string): Promise<void> {
  const el = $(selector);
  if (!el) throw new Error(`nothing matches ${selector}`);
  await page.screenshot({ path: `__screenshots__/notebook/${name}.png`, element: el });
}

const $ = <T extends Element = HTMLElement>(sel: string) => document.querySelector<T>(sel);

describe('the notebook page', () => {
  const target = document.createElement('div');
  document.body.append(target);
  const fake = fakeEngine({ losses, stepDelayMs: 15 });
  const session = new EngineSession(true);
  const store = new MemoryNotebookStore();
  const library = new Library({
    store,
    lessons: LESSONS,
    codec: shareCodec,
    makeRunner: (doc) => new NotebookRunner(doc, () => fake.engine),
  });
  const app = mount(App, {
    target,
    props: {
      session,
      benchmark: new MatmulBenchmark(),
      library,
      openCache: () => Promise.reject(new Error('no cache in this test')),
      baseUrl: 'http://127.0.0.1/',
    },
  });
  afterAll(() => unmount(app));

  it('runs lesson 1 with live charts, evaluation, comparison and a share link', async () => {
    await page.viewport(1280, 900);
    await session.start(() => fake.engine);
    await library.openLesson(LESSONS[0].id);
    await until(() => $('[data-testid="notebook"]') !== null);
    expect($('[data-testid="lesson-banner"]')).not.toBeNull();
    expect($('[data-testid="notebook-title"]')?.textContent).toBe(LESSONS[0].title);
    await shot('lesson-open', '[data-testid="notebook"]');

    $<HTMLButtonElement>('[data-testid="run-all"]')!.click();
    await until(() => Number($('[data-testid="loss-chart"]')?.dataset.points ?? 0) >= 15);
    await shot('training', '[data-cell="train"]');

    await until(() => $('[data-testid="eval-table"]') !== null && $('[data-testid="compare-outputs"]') !== null);
    await until(() => !library.runner!.runningAll);
    const chart = $('[data-testid="loss-chart"]')!;
    expect(chart.querySelector('canvas')).not.toBeNull();
    expect(Number(chart.dataset.points)).toBe(losses.length);
    expect($('[data-metric="accuracy"]')?.textContent).toContain('90.0%');
    expect($('[data-testid="accuracy-verdict"]')?.textContent).toMatch(/beats the majority baseline/);
    expect($('[data-testid="tuned-output"]')?.textContent).toMatch(/tuned$/);
    expect($('[data-testid="exports"]')?.textContent).toContain('PEFT adapter');
    await shot('trained', '[data-cell="train"]');
    await shot('evaluated', '[data-cell="evaluate"]');
    await shot('dataset', '[data-cell="dataset"]');
    await shot('model', '[data-cell="model"]');
    await shot('compare', '[data-cell="compare"]');
    await shot('export', '[data-cell="export"]');

    $<HTMLButtonElement>('[data-testid="copy-link"]')!.click();
    await until(() => $('[data-testid="share-url"]') !== null);
    const url = $<HTMLInputElement>('[data-testid="share-url"]')!.value;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1\/#nb=v1\./);
    const shared = await shareCodec.decode(url.slice(url.indexOf('#') + 1));
    expect(shared.recordedLosses?.train).toEqual(losses.slice(0, 20));
    expect(shared.cells).toEqual(LESSONS[0].cells);
  });

  it('refuses a share link whose markdown carries script, and keeps the saved notebooks', async () => {
    const saved = structuredClone([...store.map.values()]);
    const fragment = encodeNotebookFragment({
      ...LESSONS[0],
      lesson: undefined,
      cells: [{ id: 'md', type: 'markdown', source: 'Hi <img src=x onerror="window.__pwned = 1">' }],
    });
    await expect(shareCodec.decode(fragment)).rejects.toMatchObject({ name: 'ShareLinkError', reason: 'invalid' });
    expect(await library.openFragment(fragment)).toBe(true);
    expect(library.linkProblem?.message).toMatch(/could run code/);
    await until(() => $('[data-testid="link-problem"]') !== null);
    await shot('script-link', '[data-testid="link-problem"]');
    expect([...store.map.values()]).toEqual(saved);
    expect((window as { __pwned?: number }).__pwned).toBeUndefined();
  });
});
