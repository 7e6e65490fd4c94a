// The matmul shapes of a SmolLM2-135M training step (hidden 576, MLP 1536, 512 tokens per micro-batch),
// as MxKxN with the product that computes them. Shared by the Node runner and the benchmark page.

import type { MatmulProduct } from '../src/reference/matmul.ts';

export interface BenchShape {
  product: MatmulProduct;
  m: number;
  k: number;
  n: number;
  /** What the product is in the model. */
  what: string;
  /** Too big for a CPU-emulated browser adapter in the time budget: measured on Dawn only. */
  dawnOnly?: boolean;
}

export const SHAPES: readonly BenchShape[] = [
  { product: 'nt', m: 512, k: 576, n: 576, what: 'q/o projection x·Wᵀ' },
  { product: 'nt', m: 512, k: 576, n: 1536, what: 'gate/up projection x·Wᵀ' },
  { product: 'nt', m: 512, k: 1536, n: 576, what: 'down projection x·Wᵀ' },
  { product: 'nn', m: 512, k: 1536, n: 576, what: 'gate/up backward dX = dY·W' },
  { product: 'tn', m: 1536, k: 512, n: 576, what: 'gate/up backward dW = dYᵀ·X' },
  { product: 'nt', m: 512, k: 576, n: 8192, what: 'LM-head chunk x·Eᵀ (8192 of 49152 vocab rows)', dawnOnly: true },
];

/** The shapes measured in Chromium too. */
export const BROWSER_SHAPES: readonly BenchShape[] = SHAPES.filter((s) => !s.dawnOnly);

/** "MxKxN", the form every JSON line uses. */
export function shapeKey(s: { m: number; k: number; n: number }): string {
  return `${s.m}x${s.k}x${s.n}`;
}

export function flops(s: { m: number; k: number; n: number }): number {
  return 2 * s.m * s.k * s.n;
}
