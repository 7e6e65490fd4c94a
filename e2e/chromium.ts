// How lorabook launches Debian's Chromium for browser tests and benchmarks: headless, with WebGPU
// (SwiftShader on a machine without a GPU), and quiet on a closed network.

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function chromiumArgs(opts: { webgpu: boolean }): string[] {
  const args = [
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--no-sandbox',
  ];
  if (opts.webgpu) args.push('--enable-unsafe-webgpu', '--enable-features=Vulkan');
  return args;
}
