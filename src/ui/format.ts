// Human-readable numbers for the notebook: byte sizes in binary units (GPU limits are powers of two),
// durations, throughput, and advice text split into sentences with command-line flags marked as code.

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** 1073741824 -> "1 GiB", 134217728 -> "128 MiB", 1536 -> "1.5 KiB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${trimZeros(value.toFixed(digits))} ${BYTE_UNITS[unit]}`;
}

/** 65535 -> "65,535". */
export function formatCount(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—';
}

/** Milliseconds with about three significant digits: 0.0123 -> "0.0123 ms", 1234.5 -> "1,235 ms". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms >= 1000) return `${formatCount(ms)} ms`;
  return `${Number(ms.toPrecision(3))} ms`;
}

/** Throughput with three significant digits: 0.31234 -> "0.312", 1234.5 -> "1,235". */
export function formatGflops(g: number): string {
  if (!Number.isFinite(g)) return '—';
  if (g >= 1000) return formatCount(g);
  return String(Number(g.toPrecision(3)));
}

/** A maximum absolute error in scientific notation: 1.2345e-6 -> "1.23e-6". */
export function formatError(e: number): string {
  if (e === 0) return '0';
  if (!Number.isFinite(e)) return String(e);
  return e
    .toExponential(2)
    .replace('e+', 'e')
    .replace(/\.?0+e/, 'e');
}

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

export interface TextPart {
  text: string;
  code: boolean;
}

/** Splits advice into sentences at ". " before a capital letter. */
export function sentences(text: string): string[] {
  return text
    .split(/(?<=\.)\s+(?=[A-Z])/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Marks command-line flags (--enable-unsafe-webgpu, --enable-features=Vulkan) and chrome:// URLs as code. */
export function codeParts(text: string): TextPart[] {
  const parts: TextPart[] = [];
  const re = /--[a-z][a-z0-9-]*(?:=[A-Za-z0-9,_-]+)?|chrome:\/\/[a-z0-9/-]+|'npm run [a-z:-]+'/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    const at = m.index ?? 0;
    if (at > last) parts.push({ text: text.slice(last, at), code: false });
    parts.push({ text: m[0].replace(/^'|'$/g, ''), code: true });
    last = at + m[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last), code: false });
  return parts;
}
