// The fixture's guard itself: a request to a non-loopback address, from the page or from a worker, is
// recorded and aborted, and uncaught errors and console errors are recorded (each spec here then clears
// the record, which would otherwise fail it).

import { expect, test } from './fixtures.ts';

test('the guard records and blocks requests that leave loopback', async ({ page, guard }) => {
  await page.goto('/favicon.svg');
  const fromPage = await page.evaluate(() =>
    fetch('http://192.0.2.1/page.txt').then(
      () => 'loaded',
      () => 'blocked',
    ),
  );
  const fromWorker = await page.evaluate(async () => {
    const code =
      "fetch('https://example.com/worker.txt').then(() => postMessage('loaded'), () => postMessage('blocked'))";
    const worker = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })));
    return new Promise((resolve) => (worker.onmessage = (e) => resolve(e.data)));
  });
  expect([fromPage, fromWorker]).toEqual(['blocked', 'blocked']);
  expect(guard.external).toEqual(['http://192.0.2.1/page.txt', 'https://example.com/worker.txt']);
  guard.external.length = 0;
  guard.errors.length = 0; // the blocked loads are also logged as console errors
});

test('the guard records uncaught errors and console errors, from the page and its workers', async ({ page, guard }) => {
  await page.goto('/favicon.svg');
  await page.evaluate(async () => {
    const code = "console.error('logged in worker'); throw new Error('thrown in worker')";
    new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })));
    setTimeout(() => {
      throw new Error('thrown in page');
    }, 0);
  });
  await expect
    .poll(() => [...guard.errors].sort())
    .toEqual([
      'page error: Error: thrown in page',
      'page error: Error: thrown in worker',
      expect.stringMatching(/^worker blob:\S+ console\.error: logged in worker$/),
    ]);
  guard.errors.length = 0;
});
