// The subset of ONNX's protobuf schema (onnx/onnx.proto, IR version 8) that a model file needs, as a
// protobufjs reflection descriptor, and the encoder of a ModelProto. Field numbers are the ones onnx.proto
// assigns; names are camelCase here because only the numbers reach the wire.

import protobuf from 'protobufjs';

const f = (type: string, id: number, repeated = false) => (repeated ? { type, id, rule: 'repeated' } : { type, id });

const SCHEMA = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: f('int64', 1),
            producerName: f('string', 2),
            producerVersion: f('string', 3),
            domain: f('string', 4),
            modelVersion: f('int64', 5),
            docString: f('string', 6),
            graph: f('GraphProto', 7),
            opsetImport: f('OperatorSetIdProto', 8, true),
            metadataProps: f('StringStringEntryProto', 14, true),
          },
        },
        OperatorSetIdProto: { fields: { domain: f('string', 1), version: f('int64', 2) } },
        StringStringEntryProto: { fields: { key: f('string', 1), value: f('string', 2) } },
        GraphProto: {
          fields: {
            node: f('NodeProto', 1, true),
            name: f('string', 2),
            initializer: f('TensorProto', 5, true),
            docString: f('string', 10),
            input: f('ValueInfoProto', 11, true),
            output: f('ValueInfoProto', 12, true),
            valueInfo: f('ValueInfoProto', 13, true),
          },
        },
        NodeProto: {
          fields: {
            input: f('string', 1, true),
            output: f('string', 2, true),
            name: f('string', 3),
            opType: f('string', 4),
            attribute: f('AttributeProto', 5, true),
            domain: f('string', 7),
          },
        },
        AttributeProto: {
          fields: {
            name: f('string', 1),
            f: f('float', 2),
            i: f('int64', 3),
            s: f('bytes', 4),
            t: f('TensorProto', 5),
            floats: f('float', 7, true),
            ints: f('int64', 8, true),
            type: f('int32', 20),
          },
        },
        ValueInfoProto: { fields: { name: f('string', 1), type: f('TypeProto', 2) } },
        TypeProto: { fields: { tensorType: f('TypeTensor', 1) } },
        TypeTensor: { fields: { elemType: f('int32', 1), shape: f('TensorShapeProto', 2) } },
        TensorShapeProto: { fields: { dim: f('Dimension', 1, true) } },
        Dimension: { fields: { dimValue: f('int64', 1), dimParam: f('string', 2) } },
        TensorProto: {
          fields: {
            dims: f('int64', 1, true),
            dataType: f('int32', 2),
            name: f('string', 8),
            rawData: f('bytes', 9),
            externalData: f('StringStringEntryProto', 13, true),
            dataLocation: f('int32', 14),
          },
        },
      },
    },
  },
};

/** TensorProto.DataType values used here. */
export const DT = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9 } as const;
/** AttributeProto.AttributeType values used here. */
export const AT = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export interface TensorMsg {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  /** location, offset, length of the data in a side file (dataLocation 1 = EXTERNAL). */
  externalData?: { key: string; value: string }[];
  dataLocation?: number;
}
export interface AttributeMsg {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorMsg;
  floats?: number[];
  ints?: number[];
}
export interface NodeMsg {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  attribute: AttributeMsg[];
}
export interface ValueInfoMsg {
  name: string;
  type: { tensorType: { elemType: number; shape: { dim: ({ dimValue: number } | { dimParam: string })[] } } };
}
export interface ModelMsg {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsetImport: { domain: string; version: number }[];
  graph: {
    name: string;
    node: NodeMsg[];
    initializer: TensorMsg[];
    input: ValueInfoMsg[];
    output: ValueInfoMsg[];
  };
  metadataProps?: { key: string; value: string }[];
}

let modelType: protobuf.Type | null = null;

/** Serializes a ModelProto. */
export function encodeModel(model: ModelMsg): Uint8Array {
  modelType ??= protobuf.Root.fromJSON(SCHEMA).lookupType('onnx.ModelProto');
  return modelType.encode(modelType.fromObject(model)).finish();
}

/** Parses a ModelProto back into plain objects (tests). */
export function decodeModel(bytes: Uint8Array): ModelMsg {
  modelType ??= protobuf.Root.fromJSON(SCHEMA).lookupType('onnx.ModelProto');
  return modelType.toObject(modelType.decode(bytes), { longs: Number, defaults: false }) as ModelMsg;
}
