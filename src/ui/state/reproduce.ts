// Whether a re-run reproduced the losses recorded in a share link: the same seed, data and device give
// bitwise-identical runs, so the check is exact equality of float32 values (as numbers), step by step.

/** How many losses of each train cell a share link records. */
export const RECORDED_LOSSES = 20;

export type Reproduction =
  | { kind: 'none' }
  /** Every step so far matched; `checked` of `recorded` compared. */
  | { kind: 'matching'; checked: number; recorded: number }
  | { kind: 'bitwise'; recorded: number }
  | { kind: 'diverged'; step: number; recorded: number; got: number };

/** Compares the losses so far (step 1 first) with the recorded ones. */
export function compareLosses(recorded: readonly number[] | undefined, got: readonly number[]): Reproduction {
  if (!recorded || recorded.length === 0) return { kind: 'none' };
  const n = Math.min(recorded.length, got.length);
  for (let i = 0; i < n; i++) {
    if (!Object.is(recorded[i], got[i])) return { kind: 'diverged', step: i + 1, recorded: recorded[i], got: got[i] };
  }
  return n === recorded.length
    ? { kind: 'bitwise', recorded: n }
    : { kind: 'matching', checked: n, recorded: recorded.length };
}

/** The first `n` losses of a run, for a share link. */
export function lossesToRecord(losses: readonly number[], n = RECORDED_LOSSES): number[] {
  return losses.slice(0, n);
}

export function describeReproduction(r: Reproduction): string {
  switch (r.kind) {
    case 'none':
      return '';
    case 'matching':
      return `Reproducing the shared run: ${r.checked} of ${r.recorded} recorded losses match bit for bit so far.`;
    case 'bitwise':
      return `Reproduced bitwise: all ${r.recorded} recorded losses match exactly.`;
    case 'diverged':
      return `Diverged at step ${r.step}: the link recorded ${r.recorded}, this run got ${r.got}.`;
  }
}
