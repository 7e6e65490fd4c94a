// Chromium without --enable-unsafe-webgpu: the worker gets no adapter, and the page explains what
// WebGPU is and what to do (the WebGPUUnavailable advice) instead of a blank page or a stack trace.

import type { Page } from '@playwright/test';
import { expect, test } from './fixtures.ts';

async function expectExplanation(page: Page): Promise<void> {
  const panel = page.getByTestId('no-webgpu');
  await expect(panel.getByRole('heading', { level: 1 })).toHaveText(/WebGPU is not available/);
  await expect(panel).toContainText('What is WebGPU?');
  await expect(panel).toContainText('compute shaders');
  await expect(page.getByTestId('no-webgpu-reason')).not.toBeEmpty();
  // The worker's typed error brings the advice: browsers, the Linux flag, the companion.
  const advice = page.getByTestId('no-webgpu-advice');
  await expect(advice).toContainText('Chrome or Edge');
  await expect(advice.locator('code', { hasText: '--enable-unsafe-webgpu' })).toBeVisible();
  await expect(advice).toContainText('companion');
  await expect(page.getByRole('button', { name: 'Reload' })).toBeVisible();
  await expect(page.getByTestId('device-chip')).toHaveText('No WebGPU device');

  const text = await page.locator('body').innerText();
  expect(text.length).toBeGreaterThan(500);
  expect(text, 'no stack trace on the page').not.toMatch(/\bat \S+ \(|\.(js|ts):\d+:\d+|Uncaught/);
  await expect(page.locator('[data-cell]')).toHaveCount(0);
}

test('explains what WebGPU is and what to do when there is no adapter', async ({ page }, testInfo) => {
  await page.goto('/');
  await expectExplanation(page);
  await expect(page.getByTestId('no-webgpu-reason')).toContainText('adapter');
  await page.screenshot({ path: testInfo.outputPath('notebook-no-webgpu.png'), fullPage: true });
});

test('answers at once when the page has no navigator.gpu, then shows the worker advice', async ({ page }) => {
  await page.addInitScript(() => {
    delete (Navigator.prototype as { gpu?: unknown }).gpu;
  });
  await page.goto('/');
  await expectExplanation(page);
});
