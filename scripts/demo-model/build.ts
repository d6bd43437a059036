/**
 * Builds driftwatch's bundled demo model, `models/weather/<version>/`: a softmax regression that guesses
 * Seattle's weather label (drizzle, fog, rain, snow, sun) from a day's precipitation, temperatures and wind.
 * Trained on the vega-datasets seattle-weather.csv, exported to ONNX by our own encoder (./onnx.ts).
 *
 *   npx tsx scripts/demo-model/build.ts [--out <dir>]     (default: <repo>/models)
 *
 * Every file written is a pure function of the data file and these sources, so a rebuild is byte-identical;
 * test/serving/demo-model.test.ts checks that against the committed artifacts.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { softmaxRegressionModel } from './onnx.js';
import { argmax, predictProba, train } from './train.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '..', '..');

export const FEATURES = ['precipitation', 'temp_max', 'temp_min', 'wind'] as const;
export type Feature = (typeof FEATURES)[number];
/** Alphabetical, as the manifest's labels and the ONNX output columns. */
export const LABELS = ['drizzle', 'fog', 'rain', 'snow', 'sun'] as const;

const L2 = 1e-3;
const ITERATIONS = 25;

/**
 * Allowed ranges: what is physically plausible for a Seattle day, not the training range (a value outside
 * the training range is drift for driftwatch to see, not a request to refuse). Records at Sea-Tac: 127 mm of
 * rain in a day (2003), 42.2 °C (2021), −18.9 °C (1950); wind is the daily mean in m/s.
 */
const RANGES: Record<Feature, [number, number]> = {
  precipitation: [0, 150],
  temp_max: [-25, 50],
  temp_min: [-30, 40],
  wind: [0, 40],
};

interface VersionSpec {
  version: string;
  trainYears: string[];
  validationYears: string[];
  changelog: string;
}

export const VERSIONS: VersionSpec[] = [
  {
    version: '1',
    trainYears: ['2012', '2013'],
    validationYears: ['2014'],
    changelog:
      'First version: multinomial logistic regression on precipitation, temp_max, temp_min and wind, trained on 2012–2013; metrics on 2014 (held out).',
  },
  {
    version: '2',
    trainYears: ['2012', '2013', '2014'],
    validationYears: ['2015'],
    changelog:
      'Retrained with 2014: same model and features, trained on 2012–2014; metrics on 2015 (held out), so they are not comparable with version 1’s.',
  },
];

/** Raw inputs (what a client sends) whose outputs golden.json pins. */
export const GOLDEN_INPUTS: Record<Feature, number>[] = [
  { precipitation: 0, temp_max: 25.6, temp_min: 13.3, wind: 2.6 }, // summer, dry
  { precipitation: 0, temp_max: 8.3, temp_min: 1.1, wind: 1.9 }, // winter, dry and still
  { precipitation: 12.7, temp_max: 9.4, temp_min: 5, wind: 6.2 }, // winter storm
  { precipitation: 2.5, temp_max: 12.2, temp_min: 6.7, wind: 3.4 }, // light rain
  { precipitation: 0.3, temp_max: 14.4, temp_min: 8.9, wind: 2.2 }, // a trace
  { precipitation: 5.6, temp_max: 0.6, temp_min: -4.3, wind: 5.1 }, // cold and wet
  { precipitation: 0, temp_max: 18.9, temp_min: 7.2, wind: 1.3 }, // mild, calm
  { precipitation: 0, temp_max: 42.2, temp_min: 21.1, wind: 1.5 }, // the 2021 heat dome
  { precipitation: 55.9, temp_max: 11.1, temp_min: 7.2, wind: 9.5 }, // wettest day in the data
  { precipitation: 0, temp_max: -5, temp_min: -12, wind: 0 }, // outside the training range
];

export interface DataRow {
  date: string;
  /** The line exactly as in the data file. */
  line: string;
  raw: Record<Feature, string>;
  values: Record<Feature, number>;
  weather: string;
}

export function dataFile(): string {
  const main = createRequire(import.meta.url).resolve('vega-datasets');
  let dir = dirname(main);
  while (!readdirSync(dir).includes('package.json')) dir = dirname(dir);
  return join(dir, 'data', 'seattle-weather.csv');
}

export function loadRows(file = dataFile()): { header: string; rows: DataRow[] } {
  const lines = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.length > 0);
  const header = lines[0] ?? '';
  if (header !== 'date,precipitation,temp_max,temp_min,wind,weather') {
    throw new Error(`${file}: unexpected header ${header}`);
  }
  const rows = lines.slice(1).map((line): DataRow => {
    const [date, precipitation, temp_max, temp_min, wind, weather] = line.split(',');
    if (!date || !precipitation || !temp_max || !temp_min || !wind || !weather) {
      throw new Error(`${file}: bad line ${line}`);
    }
    if (!(LABELS as readonly string[]).includes(weather))
      throw new Error(`${file}: unknown label ${weather}`);
    const raw = { precipitation, temp_max, temp_min, wind };
    const values = Object.fromEntries(FEATURES.map((f) => [f, Number(raw[f])])) as Record<Feature, number>;
    for (const f of FEATURES)
      if (!Number.isFinite(values[f])) throw new Error(`${file}: bad ${f} in ${line}`);
    return { date, line, raw, values, weather };
  });
  return { header, rows };
}

/** Six significant digits: readable in the manifest, and training uses exactly what serving will. */
const round6 = (x: number) => Number(x.toPrecision(6));

export type Standardize = Record<Feature, { mean: number; std: number }>;

/** Mean and population standard deviation of each feature over the training rows. */
function standardization(rows: DataRow[]): Standardize {
  const out = {} as Standardize;
  for (const f of FEATURES) {
    const xs = rows.map((r) => r.values[f]);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    out[f] = { mean: round6(mean), std: round6(Math.sqrt(variance)) };
  }
  return out;
}

/** The feature vector the graph receives: standardised, then rounded to float32 as the tensor holds it. */
export function featureVector(values: Record<Feature, number>, s: Standardize): number[] {
  return FEATURES.map((f) => Math.fround((values[f] - s[f].mean) / s[f].std));
}

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

/**
 * Identity of the code that built the artifacts: the sha256 of this folder's sources (names and contents,
 * newlines normalised). A git sha cannot be used, since the artifacts are committed with the code.
 */
export function codeDigest(): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(HERE)
    .filter((n) => n.endsWith('.ts'))
    .sort()) {
    hash.update(`${name}\n`);
    hash.update(readFileSync(join(HERE, name), 'utf8').replace(/\r\n/g, '\n'));
  }
  return `sha256:${hash.digest('hex')}`;
}

function evaluate(weights: ArrayLike<number>, bias: ArrayLike<number>, rows: DataRow[], s: Standardize) {
  let correct = 0;
  let loss = 0;
  for (const r of rows) {
    const p = predictProba(weights, bias, featureVector(r.values, s));
    const y = LABELS.indexOf(r.weather as (typeof LABELS)[number]);
    if (argmax(p) === y) correct++;
    loss -= Math.log(Math.max(p[y] as number, 1e-15));
  }
  return { accuracy: correct / rows.length, log_loss: loss / rows.length };
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

export interface BuiltVersion {
  version: string;
  dir: string;
  metrics: { accuracy: number; log_loss: number };
  majorityAccuracy: number;
  trainRows: number;
  validationRows: number;
  gradientNorm: number;
}

export function buildVersion(spec: VersionSpec, outRoot: string, data = loadRows()): BuiltVersion {
  const year = (r: DataRow) => r.date.slice(0, 4);
  const trainRows = data.rows.filter((r) => spec.trainYears.includes(year(r)));
  const validationRows = data.rows.filter((r) => spec.validationYears.includes(year(r)));
  if (trainRows.length === 0 || validationRows.length === 0)
    throw new Error(`version ${spec.version}: no rows`);

  const s = standardization(trainRows);
  const fitted = train(
    {
      x: trainRows.map((r) => featureVector(r.values, s)),
      y: trainRows.map((r) => LABELS.indexOf(r.weather as (typeof LABELS)[number])),
    },
    { classes: LABELS.length, l2: L2, iterations: ITERATIONS },
  );
  // The exported model is the float32 one; metrics, predictions and golden outputs all come from it.
  const weights = Float32Array.from(fitted.weights);
  const bias = Float32Array.from(fitted.bias);

  const raw = evaluate(weights, bias, validationRows, s);
  const metrics = { accuracy: round6(raw.accuracy), log_loss: round6(raw.log_loss) };
  const counts = LABELS.map((l) => validationRows.filter((r) => r.weather === l).length);
  const majorityAccuracy = Math.max(...counts) / validationRows.length;

  const first = trainRows[0] as DataRow;
  const last = trainRows[trainRows.length - 1] as DataRow;
  // created_at: midnight UTC after the last training day, so it is fixed by the data, not the build time.
  const createdAt = new Date(Date.parse(`${last.date}T00:00:00Z`) + 86_400_000)
    .toISOString()
    .replace('.000', '');
  const trainingCsv = `${data.header}\n${trainRows.map((r) => r.line).join('\n')}\n`;

  const manifest = {
    name: 'weather',
    version: spec.version,
    created_at: createdAt,
    training_data: {
      sha256: sha256(trainingCsv),
      rows: trainRows.length,
      source: `vega-datasets seattle-weather.csv, ${first.date}..${last.date}`,
    },
    code_commit: codeDigest(),
    inputs: FEATURES.map((name) => ({ name, type: 'number', required: true, range: RANGES[name] })),
    preprocessing: { embedded: false, standardize: s },
    onnx: { input: 'input' },
    output: { kind: 'classification', labels: [...LABELS], probabilities: 'probabilities' },
    metrics,
    changelog: spec.changelog,
  };

  const model = softmaxRegressionModel({
    weights,
    bias,
    features: FEATURES.length,
    classes: LABELS.length,
    inputName: 'input',
    outputName: 'probabilities',
    graphName: `weather_v${spec.version}`,
    docString: `driftwatch demo model weather v${spec.version}: softmax(input · W + b); input columns ${FEATURES.join(', ')} (standardised), output columns ${LABELS.join(', ')}`,
    producerName: 'driftwatch scripts/demo-model',
    producerVersion: '1',
    modelVersion: Number(spec.version),
    metadata: [
      ['driftwatch.model', 'weather'],
      ['driftwatch.version', spec.version],
    ],
  });

  const baseline = [
    `${FEATURES.join(',')},weather,prediction`,
    ...trainRows.map((r) => {
      const p = predictProba(weights, bias, featureVector(r.values, s));
      return `${FEATURES.map((f) => r.raw[f]).join(',')},${r.weather},${LABELS[argmax(p)]}`;
    }),
  ].join('\n');

  const golden = {
    note: 'Raw features → the TypeScript model at build time (float32 weights, float64 arithmetic); input is the standardised float32 feature vector.',
    cases: GOLDEN_INPUTS.map((features) => {
      const input = featureVector(features, s);
      const p = predictProba(weights, bias, input);
      return {
        features,
        input,
        label: LABELS[argmax(p)],
        probabilities: Object.fromEntries(LABELS.map((l, i) => [l, p[i]])),
      };
    }),
  };

  const dir = join(outRoot, 'weather', spec.version);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), model);
  writeFileSync(join(dir, 'manifest.json'), json(manifest));
  writeFileSync(join(dir, 'baseline.csv'), `${baseline}\n`);
  writeFileSync(join(dir, 'golden.json'), json(golden));
  return {
    version: spec.version,
    dir,
    metrics,
    majorityAccuracy,
    trainRows: trainRows.length,
    validationRows: validationRows.length,
    gradientNorm: fitted.gradientNorm,
  };
}

export function build(outRoot = join(REPO_ROOT, 'models')): BuiltVersion[] {
  const data = loadRows();
  return VERSIONS.map((spec) => buildVersion(spec, outRoot, data));
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const at = process.argv.indexOf('--out');
  const out = at === -1 ? undefined : process.argv[at + 1];
  if (at !== -1 && !out) throw new Error('--out needs a directory');
  for (const b of build(out ? resolve(out) : undefined)) {
    console.log(
      `weather v${b.version}: ${b.trainRows} training rows, ${b.validationRows} validation rows; accuracy ${b.metrics.accuracy} (majority class ${b.majorityAccuracy.toFixed(4)}), log-loss ${b.metrics.log_loss}; final gradient norm ${b.gradientNorm.toExponential(2)} → ${b.dir}`,
    );
  }
}
