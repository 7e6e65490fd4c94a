// Dispatch grids. A grid dimension holds at most maxComputeWorkgroupsPerDimension (65,535 by default)
// workgroups, so large launches fold into a second dimension and kernels rebuild the flat index.

/** Workgroups for n invocations of `wg` threads each, and the x-extent in invocations for indexing. */
export function grid1d(n: number, maxPerDim = 65535, wg = 256): { workgroups: [number, number]; width: number } {
  const groups = Math.max(1, Math.ceil(n / wg));
  const x = Math.min(groups, maxPerDim);
  const y = Math.ceil(groups / x);
  if (y > maxPerDim) throw new RangeError(`${n} elements is too many for one dispatch`);
  return { workgroups: [x, y], width: x * wg };
}

/** One workgroup per row: [x, y] with row = wg.x + wg.y · x. */
export function rowGrid(rows: number, maxPerDim = 65535): [number, number] {
  const x = Math.max(1, Math.min(rows, maxPerDim));
  return [x, Math.max(1, Math.ceil(rows / x))];
}
