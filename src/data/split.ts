// Train / validation / test split, 80/10/10 by default, seeded and deterministic: which rows land where is a
// pure function of (seed, rows), identical on any machine. Classification data is stratified by label: each
// label is split on its own with the same fractions, so every split keeps the class balance. Within a
// split, rows keep their file order (the data loader shuffles the training split per epoch).

import type { Example } from './shapes.ts';
import { STREAM, permutation } from './shuffle.ts';

export type SplitName = 'train' | 'validation' | 'test';

export interface Splits<T> {
  train: T[];
  validation: T[];
  test: T[];
}

export interface SplitOptions<T> {
  seed: number;
  /** [train, validation, test], summing to 1. */
  fractions?: readonly [number, number, number];
  /** The stratum of an item (its label), or null to split everything as one group. */
  stratum?: ((item: T) => string) | null;
}

export const DEFAULT_FRACTIONS = [0.8, 0.1, 0.1] as const;

/** Stratify classification examples by label; anything else is one group. */
export function labelStratum(e: Example): string {
  return e.kind === 'classification' ? e.label : '';
}

export function splitItems<T>(items: readonly T[], opts: SplitOptions<T>): Splits<T> {
  const [ft, fv, fs] = opts.fractions ?? DEFAULT_FRACTIONS;
  if ([ft, fv, fs].some((f) => !(f >= 0)) || Math.abs(ft + fv + fs - 1) > 1e-9) {
    throw new RangeError(`split fractions must be non-negative and sum to 1, got ${ft}, ${fv}, ${fs}`);
  }
  const groups = new Map<string, number[]>();
  for (let i = 0; i < items.length; i++) {
    const g = opts.stratum ? opts.stratum(items[i]) : '';
    let list = groups.get(g);
    if (!list) groups.set(g, (list = []));
    list.push(i);
  }
  // Code-unit order, not localeCompare: the same on every machine.
  const names = [...groups.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const where = new Uint8Array(items.length); // 0 train, 1 validation, 2 test
  names.forEach((name, g) => {
    const members = groups.get(name)!;
    const n = members.length;
    const nTest = Math.min(n, Math.round(n * fs));
    const nVal = Math.min(n - nTest, Math.round(n * fv));
    const perm = permutation(n, opts.seed, STREAM.split, g);
    for (let k = 0; k < n; k++) where[members[perm[k]]] = k < nTest ? 2 : k < nTest + nVal ? 1 : 0;
  });
  const out: Splits<T> = { train: [], validation: [], test: [] };
  const lists = [out.train, out.validation, out.test];
  for (let i = 0; i < items.length; i++) lists[where[i]].push(items[i]);
  return out;
}

/** Splits examples, stratified by label when they are classification rows (unless told otherwise). */
export function splitExamples(
  examples: readonly Example[],
  opts: { seed: number; fractions?: readonly [number, number, number]; stratify?: boolean },
): Splits<Example> {
  const stratify = opts.stratify ?? examples.some((e) => e.kind === 'classification');
  return splitItems(examples, { seed: opts.seed, fractions: opts.fractions, stratum: stratify ? labelStratum : null });
}

/** Count of each label per split (for the report and the class-balance line in the UI). */
export function labelCounts(splits: Splits<Example>): Record<SplitName, Record<string, number>> {
  const count = (xs: Example[]) => {
    const c: Record<string, number> = {};
    for (const e of xs) if (e.kind === 'classification') c[e.label] = (c[e.label] ?? 0) + 1;
    return c;
  };
  return { train: count(splits.train), validation: count(splits.validation), test: count(splits.test) };
}
