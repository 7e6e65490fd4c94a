// The fixed-order tree reduction that row kernels (norms, losses, reductions) run in workgroup memory:
// at each level invocation t < s combines slot t with slot t + s. The order never changes, so a result
// is the same bits on every run of a device (no atomics). `update` is the WGSL statement of one
// combination, written with `t` (invocation index) and `s` (stride); `wg` is a power of two.

export function treeReduceWgsl(wg: number, update: string): string {
  return `
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { ${update} }
    workgroupBarrier();
  }`;
}

/** Sums each named workgroup array into its slot 0. */
export function treeSumWgsl(wg: number, ...names: string[]): string {
  return treeReduceWgsl(wg, names.map((n) => `${n}[t] += ${n}[t + s];`).join(' '));
}
