#!/usr/bin/env node
// @ts-check
// The served weather model, from quiet traffic to a drift alert and a review decision, against a running
// driftwatch (`npm start`, which registers models/ and serves weather's newest version).
//
//   npm run demo [-- --url http://127.0.0.1:8080] [--decision rollback|retrain]
//
// 1. Quiet: 300 days of 2012–2013 (the training period) as single-instance predict calls.
// 2. Shift: the summer of 2015 (June–August, a year neither version was trained on), replayed 6 times as
//    batched predict calls. Every instance is logged into monitoring with the prediction time as its
//    timestamp, so all of them land in the current hour and its rolling window — past drift.minSamples (200).
// 3. A drift run on the rolling window (POST /v1/models/weather/drift/run; rolling windows raise alerts,
//    ranges asked on demand do not), then the open alerts.
// 4. A review decision on the alert with the largest PSI: `rollback` (default) activates the previously
//    served version; `retrain` records a retrain request. Prints the active version before and after,
//    and which version answers predict afterwards.
// Plain Node ≥ 20, HTTP only. With tokens configured, DRIFTWATCH_TOKEN must be a token that may predict
// (ingest) and decide (reviewer), e.g. an admin token.

import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const WEATHER_CSV = fileURLToPath(
  new URL('../node_modules/vega-datasets/data/seattle-weather.csv', import.meta.url),
);
const MODEL = 'weather';
const QUIET_DAYS = 300;
const SHIFT_REPEATS = 6;
const BATCH = 46;
const CONCURRENCY = 4;

class DemoError extends Error {}

/**
 * @typedef {{ precipitation: number, temp_max: number, temp_min: number, wind: number }} Features
 * @typedef {{ date: string, features: Features }} Day
 */

/** @param {string} csv @returns {Day[]} */
function parseWeather(csv) {
  const [header, ...lines] = csv.trim().split(/\r?\n/);
  if (header !== 'date,precipitation,temp_max,temp_min,wind,weather')
    throw new DemoError(`unexpected header in the weather CSV: ${header}`);
  return lines.map((line) => {
    const [date = '', p, tmax, tmin, wind] = line.split(',');
    return {
      date,
      features: {
        precipitation: Number(p),
        temp_max: Number(tmax),
        temp_min: Number(tmin),
        wind: Number(wind),
      },
    };
  });
}

/** `n` items spread evenly over `list`. @template T @param {T[]} list @param {number} n @returns {T[]} */
const spreadPick = (list, n) =>
  Array.from(
    { length: Math.min(n, list.length) },
    (_, i) => /** @type {T} */ (list[Math.floor((i * list.length) / n)]),
  );

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * An HTTP client for one driftwatch: JSON in and out, clear errors, 503s retried after Retry-After.
 * @param {string} base
 * @param {string | undefined} token
 */
function client(base, token) {
  /**
   * @param {string} method
   * @param {string} path
   * @param {{ body?: unknown, headers?: Record<string, string>, ok?: number[] }} [opts]
   * @returns {Promise<{ status: number, headers: Headers, body: any }>}
   */
  async function call(method, path, opts = {}) {
    /** @type {Record<string, string>} */
    const headers = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...opts.headers };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    for (let attempt = 1; ; attempt++) {
      /** @type {Response} */
      let res;
      try {
        res = await fetch(`${base}${path}`, {
          method,
          headers,
          body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
          signal: AbortSignal.timeout(60_000),
        });
      } catch (err) {
        const cause = /** @type {{ cause?: { code?: string, message?: string } }} */ (err).cause;
        const why = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
        throw new DemoError(
          `cannot reach driftwatch at ${base} (${method} ${path}: ${why}). Start it first: \`npm start\` ` +
            '(listens on 127.0.0.1:8080), or pass --url.',
        );
      }
      const text = await res.text();
      /** @type {any} */
      let body = text;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        // not JSON: keep the text
      }
      if (res.status === 503 && attempt < 10) {
        await sleep(Math.min(5, Number(res.headers.get('retry-after') ?? 1)) * 1000);
        continue;
      }
      if (res.ok || opts.ok?.includes(res.status)) return { status: res.status, headers: res.headers, body };
      const message = body?.error?.message ?? text.slice(0, 500);
      if (res.status === 401 || res.status === 403)
        throw new DemoError(
          `${method} ${path}: HTTP ${res.status} ${message}. With auth on, set DRIFTWATCH_TOKEN to a token that may predict and review (e.g. an admin token).`,
        );
      throw new DemoError(`${method} ${path}: HTTP ${res.status} ${message}`);
    }
  }
  return call;
}

/**
 * Runs `work` over `items` with at most CONCURRENCY at once (driftwatch bounds requests in flight).
 * @template T, R @param {T[]} items @param {(item: T) => Promise<R>} work @returns {Promise<R[]>}
 */
async function pool(items, work) {
  /** @type {R[]} */
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(/** @type {T} */ (items[i]));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return out;
}

/** @param {number | null | undefined} v */
const fmt = (v) =>
  typeof v !== 'number' ? '-' : Math.abs(v) < 1e-4 && v !== 0 ? v.toExponential(2) : v.toFixed(4);

/** @param {any} r */
function driftLines(r) {
  const share = r.drifted_share === null ? '-' : r.drifted_share.toFixed(2);
  const lines = [
    `   version ${r.model_version}, ${r.window_kind} window ${r.window.from} → ${r.window.to}: n=${r.n}, drifted share ${share}`,
  ];
  for (const f of [...r.features, ...(r.prediction ? [r.prediction] : [])]) {
    const verdict = f.drifted === null ? 'no verdict' : f.drifted ? `DRIFT (${f.severity})` : 'ok';
    lines.push(
      `     ${f.feature.padEnd(14)} psi ${fmt(f.psi).padEnd(7)} p_adj ${fmt(f.pvalue_adjusted).padEnd(9)} ${verdict}`,
    );
  }
  return lines;
}

/** @param {any[]} predictions @returns {string} */
function labelMix(predictions) {
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const p of predictions) counts.set(p.label, (counts.get(p.label) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([l, n]) => `${l} ${Math.round((100 * n) / predictions.length)}%`)
    .join(', ');
}

/**
 * @param {{ url: string, token?: string | undefined, decision: 'rollback' | 'retrain', csv: string, log: (line: string) => void }} opts
 */
export async function demo({ url, token, decision, csv, log }) {
  const call = client(url.replace(/\/+$/, ''), token);
  const m = encodeURIComponent(MODEL);
  const days = parseWeather(csv);

  // 0. Is the model served?
  const health = await call('GET', '/healthz', { ok: [503] });
  if (health.status !== 200)
    throw new DemoError(`driftwatch at ${url} is not ready: ${JSON.stringify(health.body)}`);
  const versions = await call('GET', `/v1/models/${m}/versions`, { ok: [404] });
  if (versions.status === 404)
    throw new DemoError(
      `driftwatch at ${url} does not serve a model named ${MODEL}: start it from the repository root so ./models is registered (serving.modelsDir)`,
    );
  /** @param {any} v */
  const activeOf = (v) => v.versions.find((/** @type {any} */ x) => x.state === 'active')?.version ?? null;
  const before = activeOf(versions.body);
  if (before === null) throw new DemoError(`model ${MODEL} has no active version: activate one first`);
  log(
    `0. ${MODEL} is served by version ${before} of ${versions.body.versions.length} ` +
      `(${versions.body.versions.map((/** @type {any} */ v) => `${v.version}: ${v.training_data.source.replace(/^.*, /, '')}`).join('; ')})`,
  );
  const recordsAtStart = (await call('GET', `/v1/models/${m}`, { ok: [404] })).body?.record_count ?? 0;

  /** @param {Features[]} instances */
  const predictBatch = async (instances) => {
    const r = await call('POST', `/v1/models/${m}/predict`, {
      body: instances.length === 1 ? { features: instances[0] } : { instances },
    });
    return /** @type {{ model_version: string, predictions: any[] }} */ (r.body);
  };

  // 1. Quiet traffic from the training period, one call per day.
  const quiet = spreadPick(
    days.filter((d) => d.date < '2014-01-01'),
    QUIET_DAYS,
  );
  const quietAnswers = await pool(quiet, (d) => predictBatch([d.features]));
  const quietPredictions = quietAnswers.flatMap((a) => a.predictions);
  log(
    `1. quiet: ${quiet.length} days of ${quiet[0]?.date.slice(0, 4)}–${quiet.at(-1)?.date.slice(0, 4)} (the training period) as ` +
      `${quiet.length} predict calls → version ${quietAnswers[0]?.model_version}; predicted ${labelMix(quietPredictions)}`,
  );

  // 2. The shift: summer 2015, a heat the model has seen only as a share of whole years.
  const summer = days.filter((d) => d.date >= '2015-06-01' && d.date < '2015-09-01');
  /** @type {Features[]} */
  const shifted = [];
  for (let k = 0; k < SHIFT_REPEATS; k++) for (const d of summer) shifted.push(d.features);
  /** @type {Features[][]} */
  const batches = [];
  for (let i = 0; i < shifted.length; i += BATCH) batches.push(shifted.slice(i, i + BATCH));
  const shiftAnswers = await pool(batches, predictBatch);
  const shiftPredictions = shiftAnswers.flatMap((a) => a.predictions);
  const meanMax = summer.reduce((s, d) => s + d.features.temp_max, 0) / summer.length;
  log(
    `2. shift: the summer of 2015 (${summer.length} days, mean temp_max ${meanMax.toFixed(1)} °C) replayed ${SHIFT_REPEATS}× as ` +
      `${batches.length} batched predict calls, ${shifted.length} instances; predicted ${labelMix(shiftPredictions)}`,
  );

  // Predictions are logged behind the response (within ~50 ms): wait until monitoring holds them all.
  const sent = quiet.length + shifted.length;
  const waitUntil = Date.now() + 15_000;
  let stored = 0;
  for (;;) {
    stored = ((await call('GET', `/v1/models/${m}`, { ok: [404] })).body?.record_count ?? 0) - recordsAtStart;
    if (stored >= sent || Date.now() > waitUntil) break;
    await sleep(200);
  }
  log(
    `   monitoring logged ${stored} of the ${sent} predictions${stored < sent ? ' (the rest did not arrive within 15 s; is serving.logPredictions off?)' : ''}, ` +
      'stamped with the prediction time, so all in the current hour',
  );

  // 3. Drift on the rolling window (it raises alerts; the drift tick would do the same within a minute).
  const drift = await call('POST', `/v1/models/${m}/drift/run`);
  /** @type {any[]} */
  const results = drift.body.results;
  log(`3. drift run (POST /v1/models/${MODEL}/drift/run, rolling window): ${results.length} result(s)`);
  for (const r of results) for (const line of driftLines(r)) log(line);

  const queue = await call('GET', `/v1/alerts?${new URLSearchParams({ model: MODEL, status: 'open' })}`);
  /** @type {any[]} */
  const alerts = queue.body.alerts;
  log(`   open alerts on ${MODEL}: ${alerts.length}`);
  for (const a of alerts) {
    log(
      `     #${String(a.id).padEnd(3)} ${a.kind.padEnd(16)} ${a.feature.padEnd(14)} ${a.severity.padEnd(8)} ` +
        `psi ${fmt(a.latest?.psi).padEnd(7)} v${a.model_version ?? '-'} evidence ${a.evidence_count}`,
    );
  }
  const drifted = alerts
    .filter((a) => a.kind === 'drift' || a.kind === 'prediction_drift')
    .sort((a, b) => (b.latest?.psi ?? 0) - (a.latest?.psi ?? 0));
  const chosen = drifted[0];
  if (!chosen) {
    // One alert per (model, feature, kind) is in review at a time: decided ones take new evidence, not new alerts.
    const active = (
      await call('GET', `/v1/alerts?${new URLSearchParams({ model: MODEL, status: 'active' })}`)
    ).body.alerts;
    throw new DemoError(
      active.length > alerts.length
        ? `no open drift alert to decide: ${active.length - alerts.length} alert(s) on ${MODEL} are already in review ` +
            `(${active.map((/** @type {any} */ a) => `#${a.id} ${a.feature} ${a.status}`).join(', ')}); ` +
            'close them (POST /v1/alerts/:id/close) or start driftwatch on a fresh database'
        : 'no open drift alert: see the drift results above (were fewer than drift.minSamples instances logged?)',
    );
  }

  // 4. A review decision, with the version of the alert as the reviewer saw it.
  const seen = await call('GET', `/v1/alerts/${chosen.id}`);
  const etag = seen.headers.get('etag') ?? `"${seen.body.version}"`;
  const note =
    decision === 'rollback'
      ? `${chosen.feature} drifted (psi ${fmt(chosen.latest?.psi)}) under summer-2015 traffic; roll back while we look`
      : `${chosen.feature} drifted (psi ${fmt(chosen.latest?.psi)}) under summer-2015 traffic; retrain with 2015`;
  let made = decision;
  let outcome = await call('POST', `/v1/alerts/${chosen.id}/decision`, {
    headers: { 'if-match': etag },
    body: { decision, note },
    ok: [409],
  });
  if (outcome.status === 409 && decision === 'rollback') {
    log(`4. rollback refused: ${outcome.body?.error?.message}; recording retrain instead`);
    made = 'retrain';
    outcome = await call('POST', `/v1/alerts/${chosen.id}/decision`, {
      headers: { 'if-match': etag },
      body: { decision: 'retrain', note },
    });
  } else if (outcome.status === 409) {
    throw new DemoError(`decision on alert #${chosen.id}: ${outcome.body?.error?.message}`);
  }
  const after = activeOf((await call('GET', `/v1/models/${m}/versions`)).body);
  log(
    `4. decision on alert #${chosen.id} (${chosen.kind} ${chosen.feature}, If-Match ${etag}): ${made} → alert ${outcome.body.alert.status}`,
  );
  /** @type {string | null} */
  let servedAfter = null;
  if (made === 'rollback') {
    const rb = outcome.body.rollback;
    log(
      `   rollback ${rb.status}: version ${rb.from_version} → ${rb.to_version}; active version before ${before}, after ${after} (GET /v1/models/${MODEL}/versions)`,
    );
    // Every serving process reloads within ~2 s of the switch: predict until the new version answers.
    const until = Date.now() + 15_000;
    const probe = /** @type {Features} */ (summer[0]?.features);
    for (;;) {
      servedAfter = (await predictBatch([probe])).model_version;
      if (servedAfter === after || Date.now() > until) break;
      await sleep(250);
    }
    log(
      servedAfter === after
        ? `   predict is now answered by version ${servedAfter}`
        : `   predict still answered by version ${servedAfter} after 15 s (expected ${after})`,
    );
  } else {
    const rr = outcome.body.retrain_request;
    log(
      `   retrain request #${rr?.id} ${rr?.status} for ${MODEL} v${rr?.model_version ?? '-'}; active version stays ${after}`,
    );
  }
  return { before, after, servedAfter, decision: made, alert: chosen, alerts, results, stored, sent };
}

async function main() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8080' },
      decision: { type: 'string', default: 'rollback' },
      data: { type: 'string', default: WEATHER_CSV },
    },
  });
  const decision = String(values.decision);
  if (decision !== 'rollback' && decision !== 'retrain')
    throw new DemoError(`--decision must be rollback or retrain, got ${decision}`);
  /** @type {string} */
  let csv;
  try {
    csv = readFileSync(String(values.data), 'utf8');
  } catch (err) {
    throw new DemoError(
      `cannot read the weather data ${values.data} (${err instanceof Error ? err.message : err}); run npm ci first`,
    );
  }
  await demo({
    url: String(values.url),
    token: process.env.DRIFTWATCH_TOKEN,
    decision,
    csv,
    log: (line) => console.log(line),
  });
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`demo: ${err instanceof DemoError ? err.message : err instanceof Error ? err.stack : err}`);
    process.exitCode = 1;
  });
}
