// The browser half of `npm run bench`: serves bench/page with Vite (cross-origin isolated, for
// onnxruntime-web's wasm threads), opens it in Debian's Chromium with WebGPU (SwiftShader on a machine
// without a GPU) through playwright-core, and asks the page for each shape's records in turn.

import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { createServer } from 'vite';
import { CHROMIUM_PATH, chromiumArgs } from '../e2e/chromium.ts';
import type { BenchRecord } from './format.ts';
import { BROWSER_SHAPES } from './shapes.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export async function runBrowserPart(reps: number, log: (message: string) => void): Promise<BenchRecord[]> {
  return withBenchPage(log, async (page) => {
    const records: BenchRecord[] = [];
    for (let i = 0; i < BROWSER_SHAPES.length; i++) {
      records.push(...(await page.evaluate(([shape, r]) => window.runBench(shape, r), [i, reps] as const)));
    }
    return records;
  });
}

/** The LoRA figures of bench/lora-matmul.ts in Chromium (`npm run bench -- --lora`). */
export async function runLoraBrowserPart(reps: number, log: (message: string) => void): Promise<object[]> {
  return withBenchPage(log, (page) => page.evaluate((r) => window.runLoraBench(r), reps));
}

/** Serves bench/page, opens it in Chromium with WebGPU and runs `fn` on it once it is ready. */
async function withBenchPage<T>(log: (message: string) => void, fn: (page: Page) => Promise<T>): Promise<T> {
  const server = await createServer({
    configFile: false,
    root: ROOT,
    logLevel: 'error',
    server: {
      host: '127.0.0.1',
      port: 0,
      hmr: false,
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
    },
    // Served as published: onnxruntime-web finds its .wasm beside its module, and nothing is re-optimized
    // (which would reload the page) halfway through a run.
    optimizeDeps: { noDiscovery: true, include: [], exclude: ['onnxruntime-web', '@jax-js/jax'] },
  });
  await server.listen();
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: chromiumArgs({ webgpu: true }) });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => log(`[page] ${m.text()}`));
    page.on('pageerror', (e) => log(`[page error] ${e.message}`));
    const url = server.resolvedUrls?.local[0];
    if (!url) throw new Error('vite did not report a local URL');
    await page.goto(`${url}bench/page/index.html`);
    await page.waitForFunction(() => typeof window.runBench === 'function', undefined, { timeout: 60_000 });
    return await fn(page);
  } finally {
    await browser.close();
    await server.close();
  }
}
