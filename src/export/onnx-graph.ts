// A small builder for ONNX graphs: nodes get unique output names, constants and initializers become
// TensorProtos with raw little-endian data, and common subgraphs (RMSNorm, LayerNorm, linear, RoPE's
// rotate_half) are one call each. Why hand-built: the exporter needs a few dozen standard ops (opset 17)
// and no tracing framework exists in the browser.

import { AT, DT, type AttributeMsg, type NodeMsg, type TensorMsg, type ValueInfoMsg } from './onnx-proto.ts';

export type Attr = number | number[] | { tensor: TensorMsg } | { float: number } | { floats: number[] };

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export function floatTensor(name: string, dims: number[], data: ArrayLike<number>): TensorMsg {
  return { name, dims, dataType: DT.FLOAT, rawData: bytesOf(Float32Array.from(data)) };
}

export function int64Tensor(name: string, dims: number[], data: readonly number[]): TensorMsg {
  return { name, dims, dataType: DT.INT64, rawData: bytesOf(BigInt64Array.from(data, (x) => BigInt(x))) };
}

export function valueInfo(name: string, elemType: number, dims: (number | string)[]): ValueInfoMsg {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: Attr): AttributeMsg {
  if (typeof v === 'number') return { name, type: AT.INT, i: v };
  if (Array.isArray(v)) return { name, type: AT.INTS, ints: v };
  if ('tensor' in v) return { name, type: AT.TENSOR, t: v.tensor };
  if ('float' in v) return { name, type: AT.FLOAT, f: v.float };
  return { name, type: AT.FLOATS, floats: v.floats };
}

export class GraphBuilder {
  readonly nodes: NodeMsg[] = [];
  readonly initializers: TensorMsg[] = [];
  private count = 0;
  private readonly constants = new Map<string, string>();

  /** Adds a node; returns its output names (`outputs` of them, or the names given). */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs: number | string[] = 1): string[] {
    const id = this.count++;
    const outs =
      typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => `/${opType}_${id}/${i}`) : outputs;
    this.nodes.push({
      input: inputs,
      output: outs,
      name: `/${opType}_${id}`,
      opType,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  /** One-output op. */
  o(opType: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    return this.op(opType, inputs, attrs)[0];
  }

  /** An int64 constant (shared between users); a plain number makes a scalar. */
  ints(values: number | number[]): string {
    const key = `i64:${JSON.stringify(values)}`;
    let name = this.constants.get(key);
    if (!name) {
      const arr = typeof values === 'number' ? [values] : values;
      const dims = typeof values === 'number' ? [] : [arr.length];
      name = this.o('Constant', [], { value: { tensor: int64Tensor('', dims, arr) } });
      this.constants.set(key, name);
    }
    return name;
  }

  /** A float scalar constant. */
  float(value: number): string {
    const key = `f32:${value}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.o('Constant', [], { value: { tensor: floatTensor('', [], [value]) } });
      this.constants.set(key, name);
    }
    return name;
  }

  weight(name: string, dims: number[], data: ArrayLike<number>): string {
    this.initializers.push(floatTensor(name, dims, data));
    return name;
  }

  /** HF's RMSNorm over the last axis: w · x / sqrt(mean(x²) + eps). */
  rmsnorm(x: string, w: string, eps: number): string {
    const ms = this.o('ReduceMean', [this.o('Mul', [x, x])], { axes: [-1], keepdims: 1 });
    const inv = this.o('Reciprocal', [this.o('Sqrt', [this.o('Add', [ms, this.float(eps)])])]);
    return this.o('Mul', [w, this.o('Mul', [x, inv])]);
  }

  /** x · W (W stored [in, out]) + b. */
  linear(x: string, w: string, b: string | null): string {
    const y = this.o('MatMul', [x, w]);
    return b ? this.o('Add', [y, b]) : y;
  }

  /** cat(−x2, x1) of the halves of the last axis (size d). */
  rotateHalf(x: string, d: number): string {
    const [x1, x2] = this.op('Split', [x, this.ints([d / 2, d / 2])], { axis: -1 }, 2);
    return this.o('Concat', [this.o('Neg', [x2]), x1], { axis: -1 });
  }
}
