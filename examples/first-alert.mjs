#!/usr/bin/env node
// @ts-check
// From nothing to an open alert in the review queue, against a running driftwatch (`npm start`).
//
//   node examples/first-alert.mjs [--url http://127.0.0.1:8080] [--model seattle-weather]
//
// Seattle's 2012 weather is the "training set"; the summers of 2013–2015 are replayed as production
// traffic stamped within the last hour, so they land in the current rolling window. The recorded weather
// ("sun", "rain", …) plays the model's prediction. Plain Node ≥ 20, no build step, HTTP only. With tokens
// configured, DRIFTWATCH_TOKEN must be an admin token (baselines need admin).

import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const WEATHER_CSV = fileURLToPath(
  new URL('../node_modules/vega-datasets/data/seattle-weather.csv', import.meta.url),
);
export const TRAINING_YEAR = '2012';
export const SUMMER_MONTHS = ['06', '07', '08'];
/** Production records are spread over this span before `now`, inside the current rolling window. */
export const SPREAD_MS = 45 * 60_000;

/**
 * @typedef {{ date: string, precipitation: number, temp_max: number, temp_min: number, wind: number, weather: string }} Day
 * @typedef {(path: string, init?: RequestInit) => Response | Promise<Response>} Request
 */

/**
 * The data lines of seattle-weather.csv (no quoting in this file) as days.
 * @param {string} csv
 * @returns {Day[]}
 */
export function parseWeather(csv) {
  const [header, ...lines] = csv.trim().split(/\r?\n/);
  if (header !== 'date,precipitation,temp_max,temp_min,wind,weather')
    throw new Error(`unexpected header: ${header}`);
  return lines.map((line) => {
    const [date = '', precipitation, temp_max, temp_min, wind, weather = ''] = line.split(',');
    return {
      date,
      precipitation: Number(precipitation),
      temp_max: Number(temp_max),
      temp_min: Number(temp_min),
      wind: Number(wind),
      weather,
    };
  });
}

/**
 * The training set: the header and every day of TRAINING_YEAR, as CSV for the baseline upload.
 * @param {string} csv
 */
export function trainingCsv(csv) {
  const [header, ...lines] = csv.trim().split(/\r?\n/);
  return `${[header, ...lines.filter((l) => l.startsWith(`${TRAINING_YEAR}-`))].join('\n')}\n`;
}

/**
 * Production traffic: every summer day after the training year, as ingest records whose timestamps are
 * spread evenly over the SPREAD_MS before `now` (oldest day first). `run` makes request ids unique per run.
 * @param {string} csv
 * @param {{ model: string, modelVersion: string, now: number, run: string }} opts
 */
export function productionRecords(csv, { model, modelVersion, now, run }) {
  const days = parseWeather(csv).filter(
    (d) => d.date.slice(0, 4) > TRAINING_YEAR && SUMMER_MONTHS.includes(d.date.slice(5, 7)),
  );
  const step = Math.floor(SPREAD_MS / days.length);
  return days.map((d, i) => ({
    model,
    model_version: modelVersion,
    request_id: `${run}-${d.date}`,
    timestamp: now - (days.length - i) * step,
    features: { precipitation: d.precipitation, temp_max: d.temp_max, temp_min: d.temp_min, wind: d.wind },
    prediction: d.weather,
  }));
}

/**
 * @param {Response} res
 * @param {string} what
 */
async function json(res, what) {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${text}`);
  return JSON.parse(text);
}

/**
 * The four steps: baseline, production records, a drift run on the rolling window, the open alerts.
 * `request` sends one HTTP request to driftwatch (a fetch against the service, or a test app's request).
 * @param {{ request: Request, csv: string, now: number, model?: string, modelVersion?: string, token?: string }} opts
 */
export async function firstAlert({
  request,
  csv,
  now,
  model = 'seattle-weather',
  modelVersion = 'v1',
  token,
}) {
  /** @type {Record<string, string>} */
  const auth = token ? { authorization: `Bearer ${token}` } : {};
  const m = encodeURIComponent(model);

  // 1. Training baseline: the weather column is the prediction; the date is not a feature.
  const existing = await json(
    await request(`/v1/models/${m}/baselines`, { headers: auth }),
    'list baselines',
  );
  let baseline = existing.baselines.find(
    (/** @type {{ active: boolean, model_version: string | null }} */ b) =>
      b.active && b.model_version === modelVersion,
  );
  if (!baseline) {
    const query = new URLSearchParams({
      model_version: modelVersion,
      prediction: 'weather',
      exclude: 'date',
    });
    baseline = await json(
      await request(`/v1/models/${m}/baselines?${query}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'text/csv' },
        body: trainingCsv(csv),
      }),
      'upload baseline',
    );
  }

  // 2. Production records, stamped within the last hour.
  const records = productionRecords(csv, { model, modelVersion, now, run: now.toString(36) });
  const ingest = await json(
    await request('/v1/ingest', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-ndjson' },
      body: records.map((r) => JSON.stringify(r)).join('\n'),
    }),
    'ingest',
  );

  // 3. Drift now on the rolling window (the drift tick would do the same within a minute).
  const drift = await json(
    await request(`/v1/models/${m}/drift/run`, { method: 'POST', headers: auth }),
    'drift run',
  );

  // 4. The review queue.
  const queue = await json(
    await request(`/v1/alerts?${new URLSearchParams({ status: 'open', model })}`, { headers: auth }),
    'list alerts',
  );
  return { baseline, records, ingest, results: drift.results, alerts: queue.alerts };
}

/** @param {number | null | undefined} v */
const fmt = (v) =>
  typeof v !== 'number' ? '-' : Math.abs(v) < 1e-4 && v !== 0 ? v.toExponential(2) : v.toFixed(4);

/** @param {Awaited<ReturnType<typeof firstAlert>>} out */
export function report(out) {
  const { baseline, records, ingest, results, alerts } = out;
  /** @param {{ timestamp: number } | undefined} r */
  const at = (r) => (r ? new Date(r.timestamp).toISOString().slice(11, 19) : '-');
  const days = `${records[0]?.request_id.slice(-10)} … ${records.at(-1)?.request_id.slice(-10)}`;
  const lines = [
    `1. baseline #${baseline.id} ${baseline.model} ${baseline.model_version}: ${baseline.row_count} days of ${TRAINING_YEAR}` +
      (baseline.active ? ', active' : ''),
    `2. ingest: ${records.length} summer days (${days}) stamped ${at(records[0])}–${at(records.at(-1))} UTC` +
      ` → ${JSON.stringify(ingest)}`,
  ];
  for (const r of results) {
    const share = r.drifted_share === null ? '-' : r.drifted_share.toFixed(2);
    lines.push(
      `3. drift run, ${r.window_kind} window ${r.window.from} → ${r.window.to}: n=${r.n}, drifted share ${share}`,
    );
    for (const f of [...r.features, ...(r.prediction ? [r.prediction] : [])]) {
      const verdict = f.drifted === null ? 'no verdict' : f.drifted ? `DRIFT (${f.severity})` : 'ok';
      lines.push(
        `     ${f.feature.padEnd(14)} psi ${fmt(f.psi).padEnd(7)} p_adj ${fmt(f.pvalue_adjusted).padEnd(9)} ${verdict}`,
      );
    }
  }
  lines.push(`4. GET /v1/alerts?status=open&model=${baseline.model}: ${alerts.length} open`);
  for (const a of alerts) {
    // A joint alert names a pair of features and the two correlations, not a PSI.
    const r = a.latest.correlation_window;
    const measure =
      typeof r === 'number'
        ? `r ${fmt(a.latest.correlation_baseline)} → ${fmt(r)}`
        : `psi ${fmt(a.latest.psi).padEnd(7)}`;
    lines.push(
      `     #${String(a.id).padEnd(3)} ${a.kind.padEnd(18)} ${a.feature.padEnd(22)} ${a.severity.padEnd(8)} ` +
        `${measure} ${a.status}`,
    );
  }
  return lines.join('\n');
}

async function main() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8080' },
      model: { type: 'string', default: 'seattle-weather' },
      data: { type: 'string', default: WEATHER_CSV },
    },
  });
  const base = String(values.url).replace(/\/+$/, '');
  const out = await firstAlert({
    request: (path, init) => fetch(`${base}${path}`, init),
    csv: readFileSync(String(values.data), 'utf8'),
    now: Date.now(),
    model: String(values.model),
    token: process.env.DRIFTWATCH_TOKEN,
  });
  console.log(report(out));
  if (out.alerts.length === 0) {
    console.error('no open alert: see the drift results above');
    process.exitCode = 1;
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
