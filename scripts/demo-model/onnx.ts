/**
 * A minimal, dependency-free protobuf writer for the handful of ONNX messages a linear softmax classifier
 * needs. Field numbers follow the public ONNX IR spec (onnx.proto); the code is our own. Output is a pure
 * function of the arguments: no timestamps, no maps with unstable order, fields in field-number order.
 */

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

/** ONNX TensorProto.DataType.FLOAT */
export const FLOAT = 1;
/** ONNX AttributeProto.AttributeType.INT */
const ATTR_INT = 2;

type Bytes = Uint8Array;

function concat(parts: Bytes[]): Bytes {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Base-128 varint; negative int64 values take their two's-complement 64-bit form (10 bytes). */
function varint(value: number | bigint): Bytes {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

const tag = (field: number, wire: number): Bytes => varint((field << 3) | wire);
const intField = (field: number, value: number): Bytes => concat([tag(field, WIRE_VARINT), varint(value)]);
const bytesField = (field: number, value: Bytes): Bytes =>
  concat([tag(field, WIRE_LEN), varint(value.length), value]);
const stringField = (field: number, value: string): Bytes =>
  bytesField(field, new TextEncoder().encode(value));
const message = (field: number, fields: Bytes[]): Bytes => bytesField(field, concat(fields));

/** A dimension: a number is a fixed size (dim_value), a string a symbolic one (dim_param). */
export type Dim = number | string;

/** ValueInfoProto{name=1, type=2 → TypeProto{tensor_type=1 → {elem_type=1, shape=2 → {dim=1}}}} */
function valueInfo(field: number, name: string, dims: Dim[]): Bytes {
  const dimMessages = dims.map((d) =>
    message(1, [typeof d === 'number' ? intField(1, d) : stringField(2, d)]),
  );
  const tensorType = message(1, [intField(1, FLOAT), message(2, dimMessages)]);
  return message(field, [stringField(1, name), message(2, [tensorType])]);
}

/** TensorProto{dims=1 (one entry per dim), data_type=2, name=8, raw_data=9 (little-endian float32)} */
function floatTensor(field: number, name: string, dims: number[], values: ArrayLike<number>): Bytes {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== values.length) throw new Error(`tensor ${name}: ${values.length} values for dims ${dims}`);
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return message(field, [
    ...dims.map((d) => intField(1, d)),
    intField(2, FLOAT),
    stringField(8, name),
    bytesField(9, raw),
  ]);
}

interface Node {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  intAttributes?: Record<string, number>;
}

/** NodeProto{input=1, output=2, name=3, op_type=4, attribute=5 → AttributeProto{name=1, i=3, type=20}} */
function node(n: Node): Bytes {
  const attributes = Object.entries(n.intAttributes ?? {}).map(([name, i]) =>
    message(5, [stringField(1, name), intField(3, i), intField(20, ATTR_INT)]),
  );
  return message(1, [
    ...n.inputs.map((i) => stringField(1, i)),
    ...n.outputs.map((o) => stringField(2, o)),
    stringField(3, n.name),
    stringField(4, n.opType),
    ...attributes,
  ]);
}

export interface SoftmaxRegressionGraph {
  /** Weights, row-major [features, classes]. */
  weights: ArrayLike<number>;
  /** Biases [classes]. */
  bias: ArrayLike<number>;
  features: number;
  classes: number;
  inputName: string;
  outputName: string;
  graphName: string;
  docString: string;
  producerName: string;
  producerVersion: string;
  modelVersion: number;
  metadata: [string, string][];
}

/**
 * `input [N,F] → MatMul(W[F,K]) → Add(b[K]) → Softmax(axis=1) → output [N,K]`, ONNX IR 8, opset 13.
 * ModelProto{ir_version=1, producer_name=2, producer_version=3, model_version=5, doc_string=6, graph=7,
 * opset_import=8 {domain=1, version=2}, metadata_props=14 {key=1, value=2}}.
 */
export function softmaxRegressionModel(g: SoftmaxRegressionGraph): Bytes {
  const graph = [
    node({ opType: 'MatMul', name: 'matmul', inputs: [g.inputName, 'W'], outputs: ['logits_unbiased'] }),
    node({ opType: 'Add', name: 'add_bias', inputs: ['logits_unbiased', 'b'], outputs: ['logits'] }),
    node({
      opType: 'Softmax',
      name: 'softmax',
      inputs: ['logits'],
      outputs: [g.outputName],
      intAttributes: { axis: 1 },
    }),
    stringField(2, g.graphName),
    floatTensor(5, 'W', [g.features, g.classes], g.weights),
    floatTensor(5, 'b', [g.classes], g.bias),
    stringField(10, g.docString),
    valueInfo(11, g.inputName, ['N', g.features]),
    valueInfo(12, g.outputName, ['N', g.classes]),
  ];
  return concat([
    intField(1, 8),
    stringField(2, g.producerName),
    stringField(3, g.producerVersion),
    intField(5, g.modelVersion),
    stringField(6, g.docString),
    message(7, graph),
    message(8, [stringField(1, ''), intField(2, 13)]),
    ...g.metadata.map(([key, value]) => message(14, [stringField(1, key), stringField(2, value)])),
  ]);
}
