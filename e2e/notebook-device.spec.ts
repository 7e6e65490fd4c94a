// The device page with WebGPU: the Device cell shows the worker's capability report (checked against the
// adapter the test asks for on the main thread), and the Benchmark cell runs a verified matmul in the
// worker with progress and a positive GFLOP/s.

import { formatBytes } from '../src/ui/format.ts';
import { expect, test } from './fixtures.ts';

interface AdapterFacts {
  vendor: string;
  architecture: string;
  fallback: boolean;
  features: Record<string, boolean>;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

test('shows the capability report and runs a verified matmul benchmark', async ({ page }, testInfo) => {
  await page.goto('/');
  await page.getByTestId('device-page').click();

  // The oracle: the same browser's adapter, asked for directly on the main thread.
  const facts = await page.evaluate(async (): Promise<AdapterFacts | null> => {
    const adapter = await navigator.gpu?.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return null;
    const features: Record<string, boolean> = {};
    for (const f of ['shader-f16', 'subgroups', 'timestamp-query']) features[f] = adapter.features.has(f);
    return {
      vendor: adapter.info.vendor,
      architecture: adapter.info.architecture,
      fallback: (adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
      features,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    };
  });
  expect(facts, 'this project needs a WebGPU adapter (--enable-unsafe-webgpu)').not.toBeNull();
  const want = facts!;

  // Device cell.
  const adapter = page.getByTestId('adapter');
  await expect(adapter).toBeVisible();
  expect(want.vendor.length + want.architecture.length).toBeGreaterThan(0);
  await expect(adapter).toContainText(want.vendor);
  await expect(adapter).toContainText(want.architecture);
  if (want.fallback) await expect(adapter).toContainText(/swiftshader/i);
  await expect(page.getByTestId('fallback')).toHaveText(want.fallback ? 'yes' : 'no');
  await expect(page.getByTestId('device-chip')).toContainText(want.architecture || want.vendor);
  for (const [name, on] of Object.entries(want.features)) {
    await expect(page.locator(`[data-feature="${name}"] .yesno`)).toHaveText(on ? /^yes/ : /^no$/);
  }
  const limit = (name: string) => page.locator(`[data-limit="${name}"] dd`);
  await expect(limit('maxBufferSize')).toHaveText(formatBytes(want.maxBufferSize));
  await expect(limit('maxStorageBufferBindingSize')).toHaveText(formatBytes(want.maxStorageBufferBindingSize));
  await expect(limit('maxComputeWorkgroupStorageSize')).toHaveText(/^\d+(\.\d+)? (B|KiB|MiB)$/);
  await expect(limit('maxComputeInvocationsPerWorkgroup')).toHaveText(/^[\d,]+$/);
  await expect(page.getByTestId('memory')).toContainText('Live');

  // Benchmark cell: record every progress value and whether the Run button was disabled during the run.
  const cell = page.locator('[data-cell="benchmark"]');
  await cell.getByText('A·Bᵀ').click();
  await expect(cell.getByTestId('shape')).toHaveValue('small');
  await page.evaluate(() => {
    const seen = { progress: [] as number[], disabledWhileRunning: false };
    (window as unknown as { benchSeen: typeof seen }).benchSeen = seen;
    new MutationObserver(() => {
      const bar = document.querySelector('[role="progressbar"]');
      if (!bar) return;
      const v = Number(bar.getAttribute('aria-valuenow'));
      if (seen.progress.at(-1) !== v) seen.progress.push(v);
      const button = document.querySelector<HTMLButtonElement>('[data-cell="benchmark"] button[type="submit"]');
      if (button?.disabled) seen.disabledWhileRunning = true;
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
  const run = cell.getByRole('button', { name: 'Run benchmark' });
  await run.click();

  const result = cell.getByTestId('bench-result');
  await expect(result).toBeVisible({ timeout: 90_000 });
  await expect(cell.getByTestId('verified')).toHaveText('✓ verified');
  await expect(result).toContainText('nt · 256×256×256');
  await expect(result).toContainText(/max abs error \d/);
  const gflops = Number(await cell.getByTestId('gflops').textContent());
  expect(gflops).toBeGreaterThan(0);
  await expect(cell.getByTestId('median-ms')).toHaveText(/^[\d.,]+ ms$/);
  await expect(run).toBeEnabled();
  await expect(cell.getByTestId('bench-progress')).toHaveCount(0);

  const seen = await page.evaluate(
    () => (window as unknown as { benchSeen: { progress: number[]; disabledWhileRunning: boolean } }).benchSeen,
  );
  expect(seen.disabledWhileRunning).toBe(true);
  expect(seen.progress.some((v) => v > 0 && v < 100)).toBe(true);
  expect(seen.progress).toContain(100);

  await page.evaluate(() => window.scrollTo(0, 0)); // the sticky header belongs at the top of a full-page shot
  await page.screenshot({ path: testInfo.outputPath('notebook-webgpu.png'), fullPage: true });
});
