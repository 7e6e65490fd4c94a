// A minimal reverse-mode autodiff tape over float64 arrays, built from the per-op references
// (norm.ts, rope.ts, attention.ts, activation.ts, embedding.ts, loss.ts). It exists so the CPU reference
// model gets every gradient from the same obviously-correct ops the kernels are checked against, and
// finite differences check the whole composition.

import { swigluBackwardRef, swigluRef } from './activation.ts';
import { attentionBackwardRef, attentionRef, type AttentionShape } from './attention.ts';
import { embeddingBackwardRef, embeddingRef } from './embedding.ts';
import { crossEntropyRef } from './loss.ts';
import { rmsnormBackwardRef, rmsnormRef } from './norm.ts';
import { ropeRef } from './rope.ts';

export class Var {
  grad: Float64Array | null = null;
  constructor(
    readonly data: Float64Array,
    readonly shape: readonly number[],
    readonly needsGrad: boolean,
  ) {}
  get size(): number {
    return this.data.length;
  }
  addGrad(g: ArrayLike<number>): void {
    if (!this.needsGrad) return;
    if (!this.grad) this.grad = new Float64Array(this.data.length);
    for (let i = 0; i < g.length; i++) this.grad[i] += g[i];
  }
}

export class Tape {
  private readonly backs: (() => void)[] = [];

  leaf(data: ArrayLike<number>, shape: readonly number[], needsGrad = false): Var {
    return new Var(Float64Array.from(data), shape, needsGrad);
  }

  private out(data: Float64Array, shape: readonly number[], inputs: (Var | undefined)[], back: (o: Var) => void): Var {
    const o = new Var(
      data,
      shape,
      inputs.some((x) => x?.needsGrad),
    );
    if (o.needsGrad) this.backs.push(() => o.grad && back(o));
    return o;
  }

  /**
   * An op defined outside this file (GPT-2's LayerNorm and gelu_new live in their own reference files):
   * `back` receives the output, whose grad is set, and adds into its inputs' grads.
   */
  custom(data: Float64Array, shape: readonly number[], inputs: (Var | undefined)[], back: (o: Var) => void): Var {
    return this.out(data, shape, inputs, back);
  }

  /** y [T, out] = x [T, in] · Wᵀ (+ b), W [out, in] as PyTorch's Linear. */
  linear(x: Var, w: Var, b?: Var): Var {
    const [outF, inF] = w.shape;
    const t = x.size / inF;
    const y = new Float64Array(t * outF);
    for (let r = 0; r < t; r++) {
      for (let o = 0; o < outF; o++) {
        let acc = b ? b.data[o] : 0;
        for (let i = 0; i < inF; i++) acc += x.data[r * inF + i] * w.data[o * inF + i];
        y[r * outF + o] = acc;
      }
    }
    return this.out(y, [t, outF], [x, w, b], (o) => {
      const dy = o.grad!;
      if (x.needsGrad) {
        const dx = new Float64Array(x.size);
        for (let r = 0; r < t; r++)
          for (let oo = 0; oo < outF; oo++) {
            const g = dy[r * outF + oo];
            for (let i = 0; i < inF; i++) dx[r * inF + i] += g * w.data[oo * inF + i];
          }
        x.addGrad(dx);
      }
      if (w.needsGrad) {
        const dw = new Float64Array(w.size);
        for (let r = 0; r < t; r++)
          for (let oo = 0; oo < outF; oo++) {
            const g = dy[r * outF + oo];
            for (let i = 0; i < inF; i++) dw[oo * inF + i] += g * x.data[r * inF + i];
          }
        w.addGrad(dw);
      }
      if (b?.needsGrad) {
        const db = new Float64Array(outF);
        for (let r = 0; r < t; r++) for (let oo = 0; oo < outF; oo++) db[oo] += dy[r * outF + oo];
        b.addGrad(db);
      }
    });
  }

  add(a: Var, b: Var): Var {
    return this.out(
      a.data.map((v, i) => v + b.data[i]),
      a.shape,
      [a, b],
      (o) => {
        a.addGrad(o.grad!);
        b.addGrad(o.grad!);
      },
    );
  }

  scale(a: Var, s: number): Var {
    return this.out(
      a.data.map((v) => v * s),
      a.shape,
      [a],
      (o) => a.addGrad(o.grad!.map((g) => g * s)),
    );
  }

  /** Elementwise product with a constant mask (dropout: mask already holds keep/(1 − p)). */
  mulConst(a: Var, mask: ArrayLike<number>): Var {
    return this.out(
      a.data.map((v, i) => v * mask[i]),
      a.shape,
      [a],
      (o) => a.addGrad(o.grad!.map((g, i) => g * mask[i])),
    );
  }

  rmsnorm(x: Var, w: Var, d: number, eps: number): Var {
    const rows = x.size / d;
    return this.out(rmsnormRef(x.data, w.data, rows, d, eps).y, x.shape, [x, w], (o) => {
      const { dx, dw } = rmsnormBackwardRef(o.grad!, x.data, w.data, rows, d, eps);
      x.addGrad(dx);
      w.addGrad(dw);
    });
  }

  rope(x: Var, positions: ArrayLike<number>, invFreq: ArrayLike<number>, heads: number, dim: number): Var {
    return this.out(ropeRef(x.data, positions, invFreq, heads, dim), x.shape, [x], (o) =>
      x.addGrad(ropeRef(o.grad!, positions, invFreq, heads, dim, true)),
    );
  }

  attention(q: Var, k: Var, v: Var, segments: ArrayLike<number>, s: AttentionShape): Var {
    return this.out(attentionRef(q.data, k.data, v.data, segments, s).o, q.shape, [q, k, v], (o) => {
      const g = attentionBackwardRef(o.grad!, q.data, k.data, v.data, segments, s);
      q.addGrad(g.dq);
      k.addGrad(g.dk);
      v.addGrad(g.dv);
    });
  }

  swiglu(g: Var, u: Var): Var {
    return this.out(swigluRef(g.data, u.data), g.shape, [g, u], (o) => {
      const r = swigluBackwardRef(o.grad!, g.data, u.data);
      g.addGrad(r.dg);
      u.addGrad(r.du);
    });
  }

  embedding(table: Var, ids: ArrayLike<number>): Var {
    const [vocab, d] = table.shape;
    return this.out(embeddingRef(table.data, ids, d), [ids.length, d], [table], (o) =>
      table.addGrad(embeddingBackwardRef(o.grad!, ids, vocab, d)),
    );
  }

  /** Scalar loss; its gradient seeds the backward pass. */
  crossEntropy(logits: Var, labels: ArrayLike<number>, invCount: number): { loss: Var; rowLoss: Float64Array } {
    const vocab = logits.shape[logits.shape.length - 1];
    const ce = crossEntropyRef(logits.data, labels, vocab, invCount);
    const loss = this.out(Float64Array.of(ce.loss), [1], [logits], (o) =>
      logits.addGrad(ce.dlogits.map((g) => g * o.grad![0])),
    );
    return { loss, rowLoss: ce.rowLoss };
  }

  backward(loss: Var): void {
    loss.addGrad([1]);
    for (let i = this.backs.length - 1; i >= 0; i--) this.backs[i]();
  }
}
