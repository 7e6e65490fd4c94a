// The shared test fixture of every e2e spec: the page may reach only loopback (any other request is
// recorded, aborted and fails the test), and any uncaught page error or console error fails the test.
// Dedicated workers are covered too: their requests, console messages and uncaught errors reach the page.

import { test as base, expect, type ConsoleMessage } from '@playwright/test';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** True for URLs the page may load: loopback, and in-page schemes that never touch the network. */
export function isLocalUrl(url: string): boolean {
  const u = new URL(url);
  if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') return true;
  return LOOPBACK.has(u.hostname);
}

export interface Guard {
  /** Non-loopback URLs the page tried to reach (each was aborted). */
  external: string[];
  /** Uncaught errors and console errors, from the page and its workers. */
  errors: string[];
}

export const test = base.extend<{ guard: Guard }>({
  guard: [
    async ({ context, page }, use) => {
      const guard: Guard = { external: [], errors: [] };
      await context.route('**/*', async (route) => {
        const url = route.request().url();
        if (isLocalUrl(url)) return route.continue();
        guard.external.push(url);
        return route.abort('blockedbyclient');
      });
      await context.routeWebSocket(
        (url) => !isLocalUrl(url.href),
        (ws) => {
          guard.external.push(ws.url());
          return ws.close();
        },
      );
      // Console messages of dedicated workers arrive here too (msg.worker() names the worker).
      page.on('console', (msg: ConsoleMessage) => {
        if (msg.type() !== 'error') return;
        const where = msg.worker() ? `worker ${msg.worker()!.url()}` : 'page';
        guard.errors.push(`${where} console.error: ${msg.text()}`);
      });
      // Uncaught errors of the page, and of its workers (they surface as the worker's error event).
      page.on('pageerror', (e) => guard.errors.push(`page error: ${e.name}: ${e.message}`));

      await use(guard);

      expect(guard.external, 'requests to non-loopback addresses').toEqual([]);
      expect(guard.errors, 'page errors and console errors').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
