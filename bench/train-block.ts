// A training-step peer in the same run on the same adapter: one pre-norm attention + MLP block (batch 4,
// sequence 128, hidden 128, 4 heads, SwiGLU MLP 512, a 128-token head with cross-entropy; forward,
// backward and an AdamW step) trained by @jax-js/jax on WebGPU (jit(valueAndGrad)), against the same
// block in lorabook's engine (a 1-layer Llama of those sizes; ours also applies RoPE and gathers an
// embedding, which the jax-js block skips). Tokens/s of each and the ratio ours/peer, as JSON lines.

import { blockUntilReady, defaultDevice, init, jit, nn, numpy as np, tree, valueAndGrad } from '@jax-js/jax';
import type { Array as JaxArray } from '@jax-js/jax';
import { dawnGpu } from '../companion/dawn.ts';
import { acquireGpu } from '../src/gpu/acquire.ts';
import { adapterName } from '../src/gpu/capabilities.ts';
import { median } from '../src/engine/bench-matmul.ts';
import { expectedTensorNames, parseModelConfig } from '../src/model/config.ts';
import { LlamaGpu, type TokenBatch } from '../src/model/llama-gpu.ts';
import { randomArray } from '../src/reference/compare.ts';
import { AdamWOptimizer } from '../src/train/optimizer.ts';

const B = 4;
const T = 128;
const D = 128;
const H = 4;
const F = 512;
const V = 128;
const STEPS = 6;

type Params = {
  ln1: JaxArray;
  wq: JaxArray;
  wk: JaxArray;
  wv: JaxArray;
  wo: JaxArray;
  ln2: JaxArray;
  wg: JaxArray;
  wu: JaxArray;
  wd: JaxArray;
  lnf: JaxArray;
  head: JaxArray;
};

function rms(x: JaxArray, w: JaxArray): JaxArray {
  const inv = np.reciprocal(np.sqrt(np.mean(np.square(x.ref), -1, { keepdims: true }).add(1e-5)));
  return x.mul(inv).mul(w);
}

let causal: JaxArray; // [T, T] lower-triangular mask, set once jax-js is initialized

function loss(p: Params, x: JaxArray, target: JaxArray): JaxArray {
  const h = rms(x.ref, p.ln1);
  // [B, H, T, hd]. Written with matmul rather than nn.dotProductAttention, whose einsum parser needs
  // iterator helpers that Node 20 lacks.
  const heads = (a: JaxArray) => np.transpose(a.reshape([B, T, H, D / H]), [0, 2, 1, 3]);
  const q = heads(np.matmul(h.ref, p.wq));
  const kT = np.transpose(np.matmul(h.ref, p.wk).reshape([B, T, H, D / H]), [0, 2, 3, 1]);
  const v = heads(np.matmul(h, p.wv));
  const scores = np.where(causal.ref, np.matmul(q, kT).mul(1 / Math.sqrt(D / H)), -1e9);
  const o = np.matmul(nn.softmax(scores, -1), v);
  const att = np.transpose(o, [0, 2, 1, 3]).reshape([B, T, D]);
  const x2 = x.add(np.matmul(att, p.wo));
  const h2 = rms(x2.ref, p.ln2);
  const gate = np.matmul(h2.ref, p.wg);
  const up = np.matmul(h2, p.wu);
  const x3 = x2.add(np.matmul(nn.silu(gate).mul(up), p.wd));
  const logp = nn.logSoftmax(np.matmul(rms(x3, p.lnf), p.head), -1);
  return np.mean(np.sum(logp.mul(target), -1)).mul(-1);
}

async function jaxBlock(): Promise<{ times: number[]; losses: number[] }> {
  // jax-js looks for WebGPU on navigator (and reads its userAgent); Node has neither.
  (globalThis as unknown as { navigator: object }).navigator = { gpu: dawnGpu(), userAgent: 'Node.js' };
  const devices = await init('webgpu');
  if (!devices.includes('webgpu')) throw new Error('jax-js found no WebGPU device');
  defaultDevice('webgpu');
  causal = np.tri(T).astype(np.bool);
  let seed = 1;
  const mat = (r: number, c: number) => np.array(randomArray(r * c, seed++).map((x) => x * 0.05)).reshape([r, c]);
  let p: Params = {
    ln1: np.ones([D]),
    wq: mat(D, D),
    wk: mat(D, D),
    wv: mat(D, D),
    wo: mat(D, D),
    ln2: np.ones([D]),
    wg: mat(D, F),
    wu: mat(D, F),
    wd: mat(F, D),
    lnf: np.ones([D]),
    head: mat(D, V),
  };
  let m = tree.map((a: JaxArray) => np.zerosLike(a), tree.ref(p)) as Params;
  let v2 = tree.map((a: JaxArray) => np.zerosLike(a), tree.ref(p)) as Params;
  const x = np.array(randomArray(B * T * D, 99)).reshape([B, T, D]);
  const labels = Array.from(randomArray(B * T, 98), (r) => Math.floor(((r + 1) / 2) * V) % V);
  const target = nn.oneHot(np.array(labels, { dtype: np.int32 }).reshape([B, T]), V);
  const grads = jit(valueAndGrad(loss));
  const b1 = 0.9;
  const b2 = 0.999;
  const lr = 1e-3;
  const adam = jit((w: JaxArray, g: JaxArray, mm: JaxArray, vv: JaxArray, c1: JaxArray, c2: JaxArray) => {
    const m1 = mm.mul(b1).add(g.ref.mul(1 - b1));
    const v1 = vv.mul(b2).add(np.square(g).mul(1 - b2));
    const w1 = w.sub(
      m1.ref
        .div(c1)
        .mul(lr)
        .div(np.sqrt(v1.ref.div(c2)).add(1e-8)),
    );
    return [w1, m1, v1];
  });
  const times: number[] = [];
  const losses: number[] = [];
  for (let s = 1; s <= STEPS + 1; s++) {
    const t0 = performance.now();
    const [l, g] = grads(tree.ref(p), x.ref, target.ref) as [JaxArray, Params];
    const c1 = np.array([1 - b1 ** s]);
    const c2 = np.array([1 - b2 ** s]);
    const next = {} as Record<keyof Params, JaxArray[]>;
    for (const key of Object.keys(p) as (keyof Params)[]) {
      next[key] = adam(p[key], g[key], m[key], v2[key], c1.ref, c2.ref) as JaxArray[];
    }
    c1.dispose();
    c2.dispose();
    p = Object.fromEntries(Object.entries(next).map(([k, r]) => [k, r[0]])) as Params;
    m = Object.fromEntries(Object.entries(next).map(([k, r]) => [k, r[1]])) as Params;
    v2 = Object.fromEntries(Object.entries(next).map(([k, r]) => [k, r[2]])) as Params;
    await blockUntilReady(p);
    const lv = (await l.data())[0];
    if (s > 1) {
      times.push(performance.now() - t0);
      losses.push(lv);
    }
  }
  return { times, losses };
}

async function ourBlock(): Promise<{ times: number[]; losses: number[]; adapter: string }> {
  const gpu = await acquireGpu(dawnGpu(), 'node');
  const spec = parseModelConfig({
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: V,
    hidden_size: D,
    intermediate_size: F,
    num_hidden_layers: 1,
    num_attention_heads: H,
    num_key_value_heads: H,
    max_position_embeddings: T,
    tie_word_embeddings: false,
  });
  const weights: Record<string, Float32Array> = {};
  expectedTensorNames(spec).forEach((t, i) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    weights[t.name] = t.name.endsWith('norm.weight')
      ? new Float32Array(n).fill(1)
      : randomArray(n, i + 1).map((x) => x * 0.05);
  });
  const model = LlamaGpu.create(gpu, spec, weights, { mode: 'full', seed: 1 });
  const opt = new AdamWOptimizer(gpu, model.trainable);
  const loss = gpu.empty([1], 'f32', 'loss');
  const r = randomArray(2 * B * T, 7);
  const batch: TokenBatch = {
    batch: B,
    seq: T,
    ids: Array.from({ length: B * T }, (_, i) => Math.floor(((r[i] + 1) / 2) * V) % V),
    labels: Array.from({ length: B * T }, (_, i) => Math.floor(((r[B * T + i] + 1) / 2) * V) % V),
    positions: Array.from({ length: B * T }, (_, i) => i % T),
    segments: new Array<number>(B * T).fill(0),
  };
  const times: number[] = [];
  const losses: number[] = [];
  for (let s = 0; s <= STEPS; s++) {
    const t0 = performance.now();
    const step = gpu.step('block');
    model.zeroGrads(step);
    await model.microStep(step, batch, {
      invCount: 1 / (B * T),
      loss,
      accumulateLoss: false,
      backward: true,
      train: true,
      microStep: s,
    });
    await opt.record(step, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }, 0);
    await step.submit();
    const lv = (await gpu.readF32(loss))[0];
    if (s > 0) {
      times.push(performance.now() - t0);
      losses.push(lv);
    }
  }
  const adapter = adapterName(gpu.caps);
  gpu.release(loss);
  opt.dispose();
  model.dispose();
  gpu.destroy();
  return { times, losses, adapter };
}

/** Both sides of the block benchmark as JSON records (verified: the loss fell over the steps). */
export async function trainBlockRecords(): Promise<object[]> {
  const ours = await ourBlock();
  const peer = await jaxBlock();
  const tokens = B * T;
  const rec = (peerName: string, times: number[], losses: number[]) => ({
    name: 'train_block',
    where: 'node-dawn',
    peer: peerName,
    shape: `block B${B} T${T} D${D} H${H} MLP${F} V${V}`,
    adapter: ours.adapter,
    reps: times.length,
    median_ms: Number(median(times).toFixed(1)),
    gflops: null,
    // Training on a fixed batch must lower the loss: the check that the step really trains.
    verified: losses[losses.length - 1] < losses[0],
    maxAbsErr: null,
    tokens_per_s: Number(((tokens * 1000) / median(times)).toFixed(1)),
  });
  const oursRec = rec('lorabook', ours.times, ours.losses);
  const peerRec = rec('jax-js-webgpu', peer.times, peer.losses);
  return [
    oursRec,
    { ...peerRec, ratio_ours_over_peer: Number((oursRec.tokens_per_s / peerRec.tokens_per_s).toFixed(3)) },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const records = await trainBlockRecords();
  for (const r of records) console.log(JSON.stringify(r));
  if (records.some((r) => !(r as { verified: boolean }).verified)) process.exitCode = 1;
}
