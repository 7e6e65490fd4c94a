// The page's entry: mounts the notebook and starts the engine in the trainer worker. The main thread's
// navigator.gpu check gives a fast first answer; the worker's typed WebGPUUnavailable is the real one.

import { mount } from 'svelte';
import { startWorkerEngine } from './engine/worker-engine.ts';
import App from './ui/App.svelte';
import { EngineSession } from './ui/engine-session.svelte.ts';
import { MatmulBenchmark } from './ui/matmul-benchmark.svelte.ts';
import './ui/app.css';

const session = new EngineSession('gpu' in navigator);
const benchmark = new MatmulBenchmark();
const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

mount(App, { target, props: { session, benchmark } });
void session.start(startWorkerEngine);
