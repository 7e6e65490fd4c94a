// A one-node ONNX model for each matmul product, encoded as protobuf by hand (a few fields of
// ModelProto, GraphProto, NodeProto, AttributeProto and ValueInfoProto) so onnxruntime-node and
// onnxruntime-web can run the same products as lorabook's kernel from the same stored layouts:
//   'nn': Y = MatMul(A [M,K], B [K,N])
//   'nt': Y = Gemm(A [M,K], B [N,K], transB=1)
//   'tn': Y = Gemm(A [K,M], B [K,N], transA=1)
// Field numbers follow onnx/onnx.proto (IR version 8, default-domain opset 17).

import type { MatmulProduct } from '../src/reference/matmul.ts';

const ELEM_FLOAT = 1;
const ELEM_FLOAT16 = 10;
const ATTR_INT = 2;

/** Minimal protobuf writer: varints, length-delimited fields, nothing else. */
class ProtoWriter {
  private readonly bytes: number[] = [];

  private varint(value: number): void {
    let v = value;
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
  }

  int(field: number, value: number): this {
    this.varint(field * 8);
    this.varint(value);
    return this;
  }

  message(field: number, body: Uint8Array): this {
    this.varint(field * 8 + 2);
    this.varint(body.length);
    for (const b of body) this.bytes.push(b);
    return this;
  }

  string(field: number, value: string): this {
    return this.message(field, new TextEncoder().encode(value));
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

function valueInfo(name: string, elemType: number, dims: readonly number[]): Uint8Array {
  const shape = new ProtoWriter();
  for (const d of dims) shape.message(1, new ProtoWriter().int(1, d).finish());
  const tensor = new ProtoWriter().int(1, elemType).message(2, shape.finish()).finish();
  const type = new ProtoWriter().message(1, tensor).finish();
  return new ProtoWriter().string(1, name).message(2, type).finish();
}

function intAttribute(name: string, value: number): Uint8Array {
  return new ProtoWriter().string(1, name).int(3, value).int(20, ATTR_INT).finish();
}

/** Stored shapes of A and B for a product, as in lorabook's kernel. */
export function storedShapes(product: MatmulProduct, m: number, n: number, k: number): { a: number[]; b: number[] } {
  return { a: product === 'tn' ? [k, m] : [m, k], b: product === 'nt' ? [n, k] : [k, n] };
}

/** The model's bytes: inputs "A" and "B", output "Y" [M,N], all float32 (or all float16). */
export function matmulModel(
  product: MatmulProduct,
  m: number,
  n: number,
  k: number,
  dtype: 'float32' | 'float16' = 'float32',
): Uint8Array {
  const elem = dtype === 'float16' ? ELEM_FLOAT16 : ELEM_FLOAT;
  const { a, b } = storedShapes(product, m, n, k);
  const node = new ProtoWriter().string(1, 'A').string(1, 'B').string(2, 'Y').string(3, `matmul_${product}`);
  if (product === 'nn') node.string(4, 'MatMul');
  else node.string(4, 'Gemm').message(5, intAttribute(product === 'nt' ? 'transB' : 'transA', 1));
  const graph = new ProtoWriter()
    .message(1, node.finish())
    .string(2, `lorabook_matmul_${product}`)
    .message(11, valueInfo('A', elem, a))
    .message(11, valueInfo('B', elem, b))
    .message(12, valueInfo('Y', elem, [m, n]));
  const opset = new ProtoWriter().string(1, '').int(2, 17).finish();
  return new ProtoWriter().int(1, 8).string(2, 'lorabook-bench').message(7, graph.finish()).message(8, opset).finish();
}
