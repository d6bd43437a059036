import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, dataFile, loadRows, REPO_ROOT, VERSIONS } from '../../scripts/demo-model/build.js';

// The bundled demo model (models/weather/<version>/): the committed artifacts must be what
// scripts/demo-model/build.ts produces, and onnxruntime must compute what the TypeScript model computed.

const MODELS = join(REPO_ROOT, 'models');
const FEATURES = ['precipitation', 'temp_max', 'temp_min', 'wind'];

interface Manifest {
  version: string;
  training_data: { sha256: string; rows: number; source: string };
  inputs: { name: string }[];
  preprocessing: { embedded: boolean; standardize: Record<string, { mean: number; std: number }> };
  onnx: { input: string };
  output: { labels: string[]; probabilities: string };
  metrics: { accuracy: number; log_loss: number };
}
interface Golden {
  cases: {
    features: Record<string, number>;
    input: number[];
    label: string;
    probabilities: Record<string, number>;
  }[];
}

const read = (version: string, file: string) => readFileSync(join(MODELS, 'weather', version, file));
const manifestOf = (v: string) => JSON.parse(read(v, 'manifest.json').toString('utf8')) as Manifest;
const goldenOf = (v: string) => JSON.parse(read(v, 'golden.json').toString('utf8')) as Golden;

/** The serving contract's feature vector, from the manifest alone. */
const vector = (m: Manifest, features: Record<string, number>) =>
  m.inputs.map(({ name }) => {
    const s = m.preprocessing.standardize[name];
    if (!s) throw new Error(`no standardisation for ${name}`);
    return Math.fround(((features[name] as number) - s.mean) / s.std);
  });

// A protobuf reader just big enough to pull the weights back out of model.onnx, written independently of
// the encoder so the two check each other.
type Field = { field: number; wire: number; value: bigint | Uint8Array };
function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = () => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = buf[at++];
      if (byte === undefined) throw new Error('truncated varint');
      v |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return v;
    }
  };
  while (at < buf.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ field, wire, value: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      out.push({ field, wire, value: buf.subarray(at, at + len) });
      at += len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}
const sub = (fs: Field[], n: number) => fs.filter((f) => f.field === n).map((f) => f.value as Uint8Array);
const num = (fs: Field[], n: number) => fs.filter((f) => f.field === n).map((f) => Number(f.value as bigint));
const str = (b: Uint8Array) => new TextDecoder().decode(b);

function decodeModel(bytes: Uint8Array) {
  const model = fields(bytes);
  const graph = fields(sub(model, 7)[0] as Uint8Array);
  const tensors = new Map<string, { dims: number[]; values: Float32Array }>();
  for (const t of sub(graph, 5).map(fields)) {
    const raw = sub(t, 9)[0] as Uint8Array;
    expect(num(t, 2)).toEqual([1]); // FLOAT
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const values = Float32Array.from({ length: raw.length / 4 }, (_, i) => view.getFloat32(i * 4, true));
    tensors.set(str(sub(t, 8)[0] as Uint8Array), { dims: num(t, 1), values });
  }
  const nodes = sub(graph, 1).map(fields);
  return {
    irVersion: num(model, 1)[0],
    opset: sub(model, 8).map((o) => num(fields(o), 2)[0]),
    ops: nodes.map((n) => str(sub(n, 4)[0] as Uint8Array)),
    inputs: sub(graph, 11).map((v) => str(sub(fields(v), 1)[0] as Uint8Array)),
    outputs: sub(graph, 12).map((v) => str(sub(fields(v), 1)[0] as Uint8Array)),
    tensors,
  };
}

async function runOnnx(version: string, m: Manifest, rows: number[][]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(join(MODELS, 'weather', version, 'model.onnx'));
  try {
    const x = new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, FEATURES.length]);
    const out = await session.run({ [m.onnx.input]: x });
    const p = out[m.output.probabilities];
    if (!p) throw new Error('no probabilities output');
    expect(p.dims).toEqual([rows.length, m.output.labels.length]);
    return p.data as Float32Array;
  } finally {
    await session.release();
  }
}

const argmax = (xs: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if ((xs[i] as number) > (xs[best] as number)) best = i;
  return best;
};

describe('demo model: the rebuild is byte-identical to the committed artifacts', () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'dw-demo-model-'));
    build(out);
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  for (const { version } of VERSIONS) {
    for (const file of ['model.onnx', 'manifest.json', 'baseline.csv', 'golden.json']) {
      it(`weather/${version}/${file}`, () => {
        const rebuilt = readFileSync(join(out, 'weather', version, file));
        // If this fails after editing scripts/demo-model, run `npm run demo:model` and commit the result.
        expect(createHash('sha256').update(rebuilt).digest('hex')).toBe(
          createHash('sha256').update(read(version, file)).digest('hex'),
        );
      });
    }
  }
});

describe.each(VERSIONS.map((v) => v.version))('demo model weather v%s', (version) => {
  const m = manifestOf(version);
  const golden = goldenOf(version);
  const labels = m.output.labels;

  it('is the graph the contract describes', () => {
    const d = decodeModel(read(version, 'model.onnx'));
    expect(d.irVersion).toBe(8);
    expect(d.opset).toEqual([13]);
    expect(d.ops).toEqual(['MatMul', 'Add', 'Softmax']);
    expect(d.inputs).toEqual([m.onnx.input]);
    expect(d.outputs).toEqual([m.output.probabilities]);
    expect(d.tensors.get('W')?.dims).toEqual([4, 5]);
    expect(d.tensors.get('b')?.dims).toEqual([5]);
    expect(m.inputs.map((i) => i.name)).toEqual(FEATURES);
    expect(labels).toEqual([...labels].sort());
    expect(m.preprocessing.embedded).toBe(false);
  });

  it('golden inputs are the manifest standardisation of the raw features', () => {
    for (const c of golden.cases) expect(c.input).toEqual(vector(m, c.features));
  });

  it('onnxruntime reproduces golden.json within 1e-5', async () => {
    const p = await runOnnx(
      version,
      m,
      golden.cases.map((c) => vector(m, c.features)),
    );
    golden.cases.forEach((c, i) => {
      labels.forEach((l, k) => {
        expect(Math.abs((p[i * labels.length + k] as number) - (c.probabilities[l] as number))).toBeLessThan(
          1e-5,
        );
      });
      expect(labels[argmax(p.subarray(i * labels.length, (i + 1) * labels.length))]).toBe(c.label);
    });
  });

  it('softmax(x·W + b) from the decoded weights agrees with golden.json', () => {
    const { tensors } = decodeModel(read(version, 'model.onnx'));
    const W = tensors.get('W')?.values as Float32Array;
    const b = tensors.get('b')?.values as Float32Array;
    for (const c of golden.cases) {
      const x = vector(m, c.features);
      const z = labels.map((_, k) =>
        x.reduce((s, xj, j) => s + xj * (W[j * labels.length + k] as number), b[k] as number),
      );
      const e = z.map((v) => Math.exp(v - Math.max(...z)));
      const sum = e.reduce((s, v) => s + v, 0);
      labels.forEach((l, k) => {
        expect(Math.abs((e[k] as number) / sum - (c.probabilities[l] as number))).toBeLessThan(1e-9);
      });
    }
  });

  it('training_data.sha256 is the sha256 of the training rows as they appear in the data file', () => {
    const lines = readFileSync(dataFile(), 'utf8').split('\n');
    const csv = `${lines.slice(0, m.training_data.rows + 1).join('\n')}\n`;
    expect(createHash('sha256').update(csv).digest('hex')).toBe(m.training_data.sha256);
  });

  it('baseline.csv holds the training rows and the model’s prediction for each', async () => {
    const text = read(version, 'baseline.csv').toString('utf8').trimEnd().split('\n');
    expect(text[0]).toBe(`${FEATURES.join(',')},weather,prediction`);
    const rows = text.slice(1).map((l) => l.split(','));
    expect(rows.length).toBe(m.training_data.rows);
    const p = await runOnnx(
      version,
      m,
      rows.map((r) => vector(m, Object.fromEntries(FEATURES.map((f, j) => [f, Number(r[j])])))),
    );
    const disagree = rows.filter(
      (r, i) => labels[argmax(p.subarray(i * labels.length, (i + 1) * labels.length))] !== r[5],
    ).length;
    expect(disagree).toBeLessThanOrEqual(1); // float32 vs float64 could split a near-tie; none so far
  });

  it('beats predicting the majority class on the held-out year, as the manifest says', async () => {
    const spec = VERSIONS.find((v) => v.version === version);
    const held = loadRows().rows.filter((r) => spec?.validationYears.includes(r.date.slice(0, 4)));
    const p = await runOnnx(
      version,
      m,
      held.map((r) => vector(m, r.values)),
    );
    const correct = held.filter(
      (r, i) => labels[argmax(p.subarray(i * labels.length, (i + 1) * labels.length))] === r.weather,
    ).length;
    const majority = Math.max(...labels.map((l) => held.filter((r) => r.weather === l).length));
    expect(correct).toBeGreaterThan(majority);
    expect(Math.abs(correct / held.length - m.metrics.accuracy)).toBeLessThanOrEqual(2 / held.length);
  });
});
