// A page reload in the middle of training, on the real engine: lesson 1 (unlocked, cut small) trains with a
// checkpoint every 2 steps; the page is reloaded after step 3; the student's copy offers to resume from the
// checkpoint kept in IndexedDB, and resuming continues at the next step (the chart is redrawn from step 1 by
// the replayed history, then grows past the checkpoint). A screenshot of each stage is saved.

import type { Page, TestInfo } from '@playwright/test';
import { expect, test } from './fixtures.ts';

test.setTimeout(900_000);

async function shot(page: Page, info: TestInfo, name: string): Promise<void> {
  await page.screenshot({ path: info.outputPath(`${name}.png`), fullPage: false });
}

const points = async (page: Page) => Number(await page.getByTestId('loss-chart').getAttribute('data-points'));

test('a reload mid-training resumes from IndexedDB at the next step', async ({ page, guard }, info) => {
  await page.goto('/');
  await expect(page.getByTestId('device-chip').locator('.dot.ok')).toBeVisible({ timeout: 60_000 });
  await page.getByTestId('unlock').click();
  await page.locator('[data-cell="dataset"]').getByLabel('Use at most').fill('40');
  const train = page.locator('[data-cell="train"]');
  await train.getByLabel('Steps (0 = by epochs)').fill('8');
  await train.getByLabel('Batch (rows)').fill('2');
  await train.getByLabel('Sequence length').fill('64');
  await train.getByLabel('Evaluate every (steps)').fill('0');
  await train.getByLabel('Checkpoint every (steps)').fill('2');
  await page.locator('[data-cell="dataset"]').getByLabel('Token budget per row').fill('64');
  await expect(page.getByTestId('save-state')).toHaveText('Saved');
  const title = (await page.getByTestId('notebook-title').textContent()) ?? '';

  await page.getByTestId('run-all').click();
  const chart = page.getByTestId('loss-chart');
  await expect(chart).toHaveAttribute('data-points', /^([3-9]|\d\d+)$/, { timeout: 600_000 });
  const before = await points(page);
  expect(before).toBeLessThan(8);
  await train.scrollIntoViewIfNeeded();
  await shot(page, info, '1-before-reload');

  await page.reload();
  await expect(page.getByTestId('device-chip').locator('.dot.ok')).toBeVisible({ timeout: 60_000 });
  // The page opens lesson 1 again, as the student's saved copy (the same notebook id, so the same run).
  await expect(page.getByTestId('notebook-title')).toHaveText(title);
  const stored = page.locator('[data-cell="train"] [data-testid="stored-run"]');
  await expect(stored).toBeVisible({ timeout: 60_000 });
  const label = (await stored.getByRole('button').textContent()) ?? '';
  const next = Number(/Resume from step (\d+)/.exec(label)?.[1]);
  expect(next).toBeGreaterThanOrEqual(3); // a checkpoint at step 2 or later was kept
  expect(next - 1).toBeLessThanOrEqual(before);
  await page.locator('[data-cell="train"]').scrollIntoViewIfNeeded();
  await shot(page, info, '2-after-reload');

  await stored.getByRole('button').click();
  await expect.poll(() => points(page), { timeout: 600_000 }).toBeGreaterThanOrEqual(next);
  await page.locator('[data-cell="train"]').scrollIntoViewIfNeeded();
  await shot(page, info, '3-resumed');
  expect(guard.external).toEqual([]);
});
