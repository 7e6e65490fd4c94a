// The page's entry: starts the engine in the trainer worker, opens the notebook library (saved notebooks,
// lessons, a share link in the URL fragment) and mounts the app. The main thread's navigator.gpu check
// gives a fast first answer; the worker's typed WebGPUUnavailable is the real one.

import { mount } from 'svelte';
import { startWorkerEngine } from './engine/worker-engine.ts';
import { LESSONS } from './share/lessons/index.ts';
import App from './ui/App.svelte';
import { EngineSession } from './ui/engine-session.svelte.ts';
import { MatmulBenchmark } from './ui/matmul-benchmark.svelte.ts';
import type { NotebookEngine } from './ui/state/engine-handle.ts';
import { Library } from './ui/state/library.svelte.ts';
import { NotebookRunner } from './ui/state/runner.svelte.ts';
import { idbNotebookStore, openWeightCache, shareCodec } from './ui/wiring.ts';
import './ui/app.css';

const session = new EngineSession('gpu' in navigator);
const benchmark = new MatmulBenchmark();
const library = new Library({
  store: idbNotebookStore(),
  lessons: LESSONS,
  codec: shareCodec,
  makeRunner: (doc) => new NotebookRunner(doc, () => session.engine as NotebookEngine),
});

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

const hash = location.hash.replace(/^#/, '');
const baseUrl = `${location.origin}${location.pathname}${location.search}`;
mount(App, {
  target,
  props: {
    session,
    benchmark,
    library,
    openCache: openWeightCache,
    baseUrl,
    initialView: hash === 'device' ? 'device' : 'notebook',
  },
});
void session.start(startWorkerEngine);

async function openStart(): Promise<void> {
  if (await library.openFragment(hash)) {
    // The link has been imported (or refused): drop it from the address bar so a reload does not import twice.
    history.replaceState(null, '', baseUrl);
    await library.refresh();
    return;
  }
  await library.refresh();
  const recent = library.saved[0];
  if (recent) await library.openSaved(recent.id);
  else if (LESSONS[0]) await library.openLesson(LESSONS[0].id);
}

void openStart().catch((e: unknown) => console.warn('lorabook: could not open the last notebook', e));
addEventListener('pagehide', () => void library.flush());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') void library.flush();
});
