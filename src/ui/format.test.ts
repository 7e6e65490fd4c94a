import { describe, expect, it } from 'vitest';
import { codeParts, formatBytes, formatCount, formatError, formatGflops, formatMs, sentences } from './format.ts';

describe('format', () => {
  it('formats byte sizes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(32 * 1024)).toBe('32 KiB');
    expect(formatBytes(128 * 1024 * 1024)).toBe('128 MiB');
    expect(formatBytes(2 ** 30)).toBe('1 GiB');
    expect(formatBytes(4 * 2 ** 30 - 4)).toBe('4 GiB');
    expect(formatBytes(-1)).toBe('—');
  });

  it('formats counts, times, throughput and errors', () => {
    expect(formatCount(65535)).toBe('65,535');
    expect(formatMs(0.012345)).toBe('0.0123 ms');
    expect(formatMs(12.345)).toBe('12.3 ms');
    expect(formatMs(1234.5)).toBe('1,235 ms');
    expect(formatGflops(0.31234)).toBe('0.312');
    expect(formatGflops(1234.5)).toBe('1,235');
    expect(formatError(0)).toBe('0');
    expect(formatError(1.2345e-6)).toBe('1.23e-6');
    expect(formatError(2e-7)).toBe('2e-7');
  });

  it('splits advice into sentences and marks flags as code', () => {
    const advice = 'Use Chrome 113+. On Linux, start Chrome with --enable-unsafe-webgpu. Check chrome://gpu for it.';
    expect(sentences(advice)).toEqual([
      'Use Chrome 113+.',
      'On Linux, start Chrome with --enable-unsafe-webgpu.',
      'Check chrome://gpu for it.',
    ]);
    expect(codeParts('start with --enable-features=Vulkan now')).toEqual([
      { text: 'start with ', code: false },
      { text: '--enable-features=Vulkan', code: true },
      { text: ' now', code: false },
    ]);
  });
});
