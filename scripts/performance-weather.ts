// Performance without labels on real data: the bundled demo model `weather` version 2 (trained on Seattle's
// 2012–2014 days, vega-datasets seattle-weather.csv) served by driftwatch's own predict endpoint and scored
// on each month of 2015, the recorded weather sent as labels afterwards. Prints, per month, the accuracy
// driftwatch estimated from the logged probabilities beside the one the labels realized: the numbers behind
// docs/statistics.md "Performance without labels: the demo weather model".
//
//   npm run docs:performance       (npx tsx scripts/performance-weather.ts [--months 1,2,3])
//
// The calibration baseline is the model's training set: its days with the recorded weather (label=) and the
// probabilities predict gave for them (prediction=). Each month of 2015 is served within one hour of the
// replay clock (hourly buckets), so one bucket of GET /v1/models/weather/performance?kind=bucket is one month.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { baselineCache } from '../src/aggregates/baseline-cache.js';
import { createApp } from '../src/app.js';
import { defaultConfig } from '../src/config/index.js';
import type { AppDeps } from '../src/context.js';
import type { PerformanceResult } from '../src/performance/service.js';
import { type BaselinePerformance, calibrateProbabilities } from '../src/profiles/calibration.js';
import { ServingRuntime } from '../src/serving/runtime.js';
import { argmax } from '../src/stats/performance.js';
import { openStore } from '../src/store/index.js';
import { type DataRow, FEATURES, loadRows, VERSIONS } from './demo-model/build.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODEL_DIR = join(ROOT, 'models', 'weather', '2');
const HOUR = 3_600_000;
/** The replay clock: month m of 2015 is served in hour m − 1 after this; the training set an hour before. */
const START = Date.parse('2026-01-05T00:00:00Z');
const CHUNK = 1000;

interface Answer {
  label: string;
  probabilities: Record<string, number>;
}

export interface MonthRow {
  month: string;
  n: number;
  /** What GET /v1/models/weather/performance answered for the month's bucket. */
  api: PerformanceResult;
  /** The same computed here from the answers predict returned and the baseline's calibration. */
  direct: { realized: number; calibrated: number; uncalibrated: number; macroF1: number };
  /** Wrong answers by "<recorded> as <predicted>". */
  misses: Record<string, number>;
}

export interface WeatherPerformance {
  facts: BaselinePerformance;
  months: MonthRow[];
  /** Realized accuracy over all months scored, counted from the answers. */
  realizedAll: number;
  trainRows: number;
}

/** Runs the replay for `months` (1–12) of 2015 in a fresh SQLite store and returns every number shown. */
export async function weatherPerformance(
  months: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
): Promise<WeatherPerformance> {
  const work = mkdtempSync(join(tmpdir(), 'dw-perf-weather-'));
  let now = START - HOUR;
  const config = defaultConfig({
    database: { path: join(work, 'driftwatch.db') },
    drift: { bucket: '1h', rollingWindow: '1h', minSamples: 20 },
    serving: { modelsDir: join(work, 'models') },
  });
  const store = await openStore(config.database);
  const deps: AppDeps = { config, store, log: pino({ level: 'silent' }), clock: () => now };
  const runtime = new ServingRuntime(deps);
  await runtime.start();
  const app = createApp(deps, { serving: runtime });
  const call = async <T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const res = await app.request(path, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const predict = async (rows: DataRow[], requestId: string): Promise<Answer[]> => {
    const out: Answer[] = [];
    for (let i = 0; i < rows.length; i += CHUNK) {
      const instances = rows.slice(i, i + CHUNK).map((r) => r.values);
      const res = await call<{ predictions: Answer[] }>(
        'POST',
        '/v1/models/weather/predict',
        { instances },
        { 'x-request-id': `${requestId}-${i / CHUNK}` },
      );
      out.push(...res.predictions);
    }
    return out;
  };

  try {
    await call('POST', '/v1/models/weather/versions', {
      manifest: JSON.parse(readFileSync(join(MODEL_DIR, 'manifest.json'), 'utf8')),
      model_base64: readFileSync(join(MODEL_DIR, 'model.onnx')).toString('base64'),
      baseline_csv: readFileSync(join(MODEL_DIR, 'baseline.csv'), 'utf8'),
    });
    const data = loadRows().rows;
    const spec = VERSIONS.find((v) => v.version === '2');
    if (!spec) throw new Error('the demo model has no version 2');
    const year = (r: DataRow) => r.date.slice(0, 4);
    const training = data.filter((r) => spec.trainYears.includes(year(r)));

    // The calibration baseline: the training days, their recorded weather and the probabilities predict gave.
    const trainAnswers = await predict(training, 'training');
    const baselineRows = training.map((r, i) => ({
      ...Object.fromEntries(FEATURES.map((f) => [f, r.values[f]])),
      weather: r.weather,
      prediction: trainAnswers[i]?.probabilities,
    }));
    await call(
      'POST',
      '/v1/models/weather/baselines?model_version=2&prediction=prediction&label=weather&activate=true',
      baselineRows,
    );
    const facts = await store.read(
      async (tx) => (await baselineCache(store).get(tx, 'weather')).byVersion.get('2')?.performance ?? null,
    );
    if (facts?.kind !== 'multiclass' || !facts.classes)
      throw new Error('the baseline kept no multiclass performance facts');
    const classes = facts.classes;

    const direct = new Map<
      number,
      MonthRow['direct'] & { n: number; correct: number; misses: Record<string, number> }
    >();
    for (const m of months) {
      const prefix = `2015-${String(m).padStart(2, '0')}`;
      const days = data.filter((r) => r.date.startsWith(prefix));
      now = START + (m - 1) * HOUR + 60_000;
      const answers = await predict(days, prefix);
      await runtime.batcher.flush();
      // Predict logged instance i of request <id> as <id>#i; the labels join on that id.
      const labels = days.map((d, i) => ({
        model: 'weather',
        request_id: `${prefix}-${Math.floor(i / CHUNK)}#${i % CHUNK}`,
        label: d.weather,
      }));
      await call('POST', '/v1/labels', labels);
      let correct = 0;
      let calibrated = 0;
      let uncalibrated = 0;
      const misses: Record<string, number> = {};
      // Per class: answered, recorded, both (macro F1 over all the model's classes, undefined as 0).
      const tally = new Map<string, { predicted: number; actual: number; tp: number }>();
      const at = (c: string) => {
        let e = tally.get(c);
        if (!e) {
          e = { predicted: 0, actual: 0, tp: 0 };
          tally.set(c, e);
        }
        return e;
      };
      answers.forEach((a, i) => {
        const recorded = days[i]?.weather;
        at(a.label).predicted++;
        if (recorded !== undefined) at(recorded).actual++;
        if (a.label === recorded) at(a.label).tp++;
        if (a.label === recorded) correct++;
        else misses[`${recorded} as ${a.label}`] = (misses[`${recorded} as ${a.label}`] ?? 0) + 1;
        const raw = classes.map((c) => a.probabilities[c] as number);
        const total = raw.reduce((s, p) => s + p, 0);
        const top = argmax(raw);
        uncalibrated += (raw[top] as number) / total;
        const cal = calibrateProbabilities(facts, classes, raw);
        calibrated += (cal[top] as number) / cal.reduce((s, p) => s + p, 0);
      });
      const n = answers.length;
      let f1 = 0;
      for (const c of classes) {
        const e = tally.get(c);
        if (e && e.predicted + e.actual > 0) f1 += (2 * e.tp) / (e.predicted + e.actual) / classes.length;
      }
      direct.set(m, {
        n,
        correct,
        misses,
        macroF1: f1,
        realized: correct / n,
        calibrated: calibrated / n,
        uncalibrated: uncalibrated / n,
      });
    }

    const series = await call<{ results: PerformanceResult[] }>(
      'GET',
      `/v1/models/weather/performance?kind=bucket&model_version=2&from=${START}&to=${START + 12 * HOUR}`,
    );
    const rows: MonthRow[] = months.map((m) => {
      const d = direct.get(m);
      const api = series.results.find((r) => Date.parse(r.window.from) === START + (m - 1) * HOUR);
      if (!d || !api) throw new Error(`no performance result for month ${m}`);
      const { n, correct: _c, misses, ...values } = d;
      return { month: `2015-${String(m).padStart(2, '0')}`, n, api, direct: values, misses };
    });
    let n = 0;
    let correct = 0;
    for (const d of direct.values()) {
      n += d.n;
      correct += d.correct;
    }
    return { facts, months: rows, realizedAll: correct / n, trainRows: training.length };
  } finally {
    await runtime.close();
    await store.close();
    rmSync(work, { recursive: true, force: true });
  }
}

const f3 = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toFixed(3));

/** The Markdown table of docs/statistics.md. */
export function markdown(result: WeatherPerformance): string {
  const lines = [
    '| month | n | estimated accuracy [95% band] | realized accuracy | estimate without calibration |',
    '|---|---:|---|---:|---:|',
  ];
  let n = 0;
  let est = 0;
  let raw = 0;
  for (const r of result.months) {
    const band = r.api.estimated.band.accuracy;
    lines.push(
      `| ${r.month} | ${r.n} | ${f3(r.api.estimated.accuracy)} [${f3(band?.lower)}, ${f3(band?.upper)}] | ${f3(r.api.realized?.accuracy)} | ${f3(r.direct.uncalibrated)} |`,
    );
    n += r.n;
    est += (r.api.estimated.accuracy ?? 0) * r.n;
    raw += r.direct.uncalibrated * r.n;
  }
  lines.push(`| all | ${n} | ${f3(est / n)} | ${f3(result.realizedAll)} | ${f3(raw / n)} |`);
  return `${lines.join('\n')}\n`;
}

/** Macro F1 and one-vs-rest macro ROC AUC per month, estimated [95% band] beside realized. */
export function metricsMarkdown(result: WeatherPerformance): string {
  const lines = [
    '| month | macro F1 estimated [95% band] | realized | macro ROC AUC estimated [95% band] | realized |',
    '|---|---|---:|---|---:|',
  ];
  for (const r of result.months) {
    const e = r.api.estimated;
    lines.push(
      `| ${r.month} | ${f3(e.f1)} [${f3(e.band.f1?.lower)}, ${f3(e.band.f1?.upper)}] | ${f3(r.api.realized?.f1)} | ${f3(e.roc_auc)} [${f3(e.band.roc_auc?.lower)}, ${f3(e.band.roc_auc?.upper)}] | ${f3(r.api.realized?.roc_auc)} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { months: { type: 'string' } } });
  const months = values.months ? values.months.split(',').map(Number) : undefined;
  const result = await weatherPerformance(months);
  const { facts } = result;
  console.log(
    `baseline: ${facts.rows} labelled training days, in-sample accuracy ${f3(facts.accuracy)}, calibration ${facts.method} ` +
      `(top-label ECE raw ${f3(facts.ece.raw)}, cross-fitted isotonic ${f3(facts.ece.isotonic)})\n`,
  );
  process.stdout.write(markdown(result));
  process.stdout.write(`\n${metricsMarkdown(result)}`);
  let inside = 0;
  let errCal = 0;
  let errRaw = 0;
  for (const r of result.months) {
    const real = r.api.realized?.accuracy ?? Number.NaN;
    const band = r.api.estimated.band.accuracy;
    if (band && real >= (band.lower ?? 1) && real <= (band.upper ?? 0)) inside++;
    errCal += Math.abs((r.api.estimated.accuracy ?? Number.NaN) - real);
    errRaw += Math.abs(r.direct.uncalibrated - real);
  }
  const k = result.months.length;
  console.log(
    `\nrealized inside the band in ${inside}/${k} months; mean |estimated − realized| ${f3(errCal / k)} calibrated, ${f3(errRaw / k)} without calibration`,
  );
  console.log('\nwrong answers per month (recorded as predicted):');
  for (const r of result.months) {
    const top = Object.entries(r.misses).sort((a, b) => b[1] - a[1]);
    console.log(`${r.month}: ${top.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
