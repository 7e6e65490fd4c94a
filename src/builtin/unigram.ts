// The unigram baseline the built-in model must beat: the cross-entropy of held-out labels under token
// frequencies alone. `plugInEntropy` fits the frequencies on the very labels it scores (the lowest
// cross-entropy any unigram model can reach on them, so the strictest baseline); `unigramCrossEntropy`
// scores labels under counts from other text (training text), add-one smoothed.

const labelsOf = (labels: ArrayLike<number>) => Array.from(labels).filter((l) => l >= 0);

export function plugInEntropy(labels: ArrayLike<number>): number {
  const ls = labelsOf(labels);
  const counts = new Map<number, number>();
  for (const l of ls) counts.set(l, (counts.get(l) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) h -= (c / ls.length) * Math.log(c / ls.length);
  return h;
}

export function unigramCrossEntropy(labels: ArrayLike<number>, counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i] + 1;
  const ls = labelsOf(labels);
  let ce = 0;
  for (const l of ls) ce -= Math.log((counts[l] + 1) / total);
  return ce / ls.length;
}
