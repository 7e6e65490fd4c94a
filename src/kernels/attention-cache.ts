// Attention of a few new query tokens against a KV cache, for decoding (one sequence, no backward).
//   q, o      [T, Hq, D]         the T new tokens (absolute positions past .. past+T−1)
//   kc, vc    [maxLen, Hkv, D]   the cache, already holding the new tokens' keys and values at rows past..
//   query i sees keys j ≤ past + i (and, with a sliding window W, past + i − j < W); head h reads kv head
//   floor(h / (Hq/Hkv)); o = softmax(q·kᵀ·scale)·v with the softmax in f32.
// Why a kernel of its own: the training kernel tiles T×T blocks of one packed batch, while decoding has
// T = 1 query against a long cache. Here one workgroup serves one (token, head) pair: its 64 invocations
// score 64 keys at a time into workgroup memory, then each invocation folds the chunk into the running
// max, sum and the output columns it owns (online softmax). Every sum runs in a fixed order, so the
// result is deterministic.

import type { Step } from '../gpu/step.ts';
import { numel, type Tensor } from '../gpu/tensor.ts';

const WG = 64;
const NO_WINDOW = 0xffffffff;

export function attentionCacheWgsl(d: number): string {
  const cols = Math.ceil(d / WG);
  return /* wgsl */ `
struct Params { t: u32, past: u32, hq: u32, hkv: u32, group: u32, window: u32, scale: f32, d: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Q: array<f32>;
@group(0) @binding(2) var<storage, read> KC: array<f32>;
@group(0) @binding(3) var<storage, read> VC: array<f32>;
@group(0) @binding(4) var<storage, read_write> O: array<f32>;
const D: u32 = ${d}u;
const COLS: u32 = ${cols}u;
var<workgroup> qs: array<f32, ${d}>;
var<workgroup> s: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let i = wg.x;
  let h = wg.y;
  let kvh = h / p.group;
  let pos = p.past + i;
  var first = 0u;
  if (p.window != ${NO_WINDOW}u && pos + 1u > p.window) { first = pos + 1u - p.window; }
  let qBase = (i * p.hq + h) * D;
  for (var c = tid; c < D; c += ${WG}u) { qs[c] = Q[qBase + c]; }
  workgroupBarrier();
  var m = -3.0e38;
  var l = 0.0;
  var acc: array<f32, ${cols}>;
  for (var r = 0u; r < COLS; r++) { acc[r] = 0.0; }
  for (var j0 = first; j0 <= pos; j0 += ${WG}u) {
    let j = j0 + tid;
    var score = -3.0e38;
    if (j <= pos) {
      let kBase = (j * p.hkv + kvh) * D;
      var dot = 0.0;
      for (var c = 0u; c < D; c++) { dot += qs[c] * KC[kBase + c]; }
      score = dot * p.scale;
    }
    s[tid] = score;
    workgroupBarrier();
    let n = min(${WG}u, pos + 1u - j0);
    var mc = m;
    for (var x = 0u; x < n; x++) { mc = max(mc, s[x]); }
    let corr = exp(m - mc);
    l = l * corr;
    for (var r = 0u; r < COLS; r++) { acc[r] = acc[r] * corr; }
    for (var x = 0u; x < n; x++) {
      let pr = exp(s[x] - mc);
      l += pr;
      let vBase = ((j0 + x) * p.hkv + kvh) * D;
      for (var r = 0u; r < COLS; r++) {
        let c = tid + r * ${WG}u;
        if (c < D) { acc[r] += pr * VC[vBase + c]; }
      }
    }
    m = mc;
    workgroupBarrier();
  }
  for (var r = 0u; r < COLS; r++) {
    let c = tid + r * ${WG}u;
    if (c < D) { O[qBase + c] = acc[r] / l; }
  }
}
`;
}

export interface AttentionCacheArgs {
  q: Tensor;
  kCache: Tensor;
  vCache: Tensor;
  o: Tensor;
  /** New tokens (queries) and tokens already in the cache before them. */
  tokens: number;
  past: number;
  headsQ: number;
  headsKV: number;
  headDim: number;
  window?: number | null;
  scale?: number;
}

export async function attentionCache(step: Step, a: AttentionCacheArgs): Promise<void> {
  const { tokens: t, past, headsQ: hq, headsKV: hkv, headDim: d } = a;
  if (hq % hkv !== 0) throw new RangeError(`attention cache: ${hq} query heads, ${hkv} kv heads`);
  for (const x of [a.q, a.o]) {
    if (numel(x.shape) < t * hq * d) throw new RangeError(`attention cache: ${x.label} too small`);
  }
  for (const x of [a.kCache, a.vCache]) {
    if (numel(x.shape) < (past + t) * hkv * d) throw new RangeError(`attention cache: ${x.label} too small`);
  }
  const buf = new ArrayBuffer(32);
  new Uint32Array(buf, 0, 6).set([t, past, hq, hkv, hq / hkv, a.window ?? NO_WINDOW]);
  new Float32Array(buf, 24, 1)[0] = a.scale ?? 1 / Math.sqrt(d);
  new Uint32Array(buf, 28, 1)[0] = d;
  await step.dispatch({
    kernel: { label: `attention_cache_d${d}`, code: attentionCacheWgsl(d) },
    params: buf,
    buffers: [a.q, a.kCache, a.vCache, a.o].map((x) => ({ buffer: x.buffer })),
    workgroups: [t, hq],
  });
}
