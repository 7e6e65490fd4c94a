import { defineConfig } from '@playwright/test';
import { CHROMIUM_PATH, chromiumArgs } from './e2e/chromium.ts';

// End-to-end tests against the production build (`npm run test:e2e` runs `vite build` first), served by
// `vite preview` on loopback. Chromium's WebGPU here may be SwiftShader (WGSL on the CPU), so timeouts
// are generous. Two projects: with WebGPU, and without it (the page must explain what to do).

const PORT = Number(process.env.E2E_PORT ?? 4319);
const BASE_URL = `http://127.0.0.1:${PORT}`;

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: Boolean(process.env.CI),
  reporter: [['list', { printSteps: false }]],
  timeout: 120_000,
  expect: { timeout: 30_000 },
  use: {
    baseURL: BASE_URL,
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    screenshot: 'only-on-failure',
    trace: 'off',
    video: 'off',
    serviceWorkers: 'block',
  },
  projects: [
    {
      name: 'webgpu',
      testIgnore: /no-webgpu\.spec\.ts$/,
      use: { launchOptions: { executablePath: CHROMIUM_PATH, args: chromiumArgs({ webgpu: true }) } },
    },
    {
      name: 'no-webgpu',
      testMatch: /no-webgpu\.spec\.ts$/,
      use: { launchOptions: { executablePath: CHROMIUM_PATH, args: chromiumArgs({ webgpu: false }) } },
    },
  ],
  webServer: {
    command: `npx vite preview --host 127.0.0.1 --port ${PORT} --strictPort`,
    url: BASE_URL,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
