import { afterEach, describe, expect, it } from 'vitest';
import type { AlertView } from '../../src/alerts/types.js';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import type { DriftResultBody, FlightRow } from '../drift/helpers.js';
import { flightTs, loadFlights, seededRandom } from '../drift/helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';
import { AUTH_CONFIG, Client, HOUR, TOKENS } from './helpers.js';

// Replays of real data (flights-20k, January–March 2001) through ingest and the drift tick. Training and
// production are two random halves of the same three months, so nothing drifts unless the test shifts it.

let t: TestApp | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

const BUCKETS = 20;
const PER_BUCKET = 500;
/** Replay starts here; each bucket of production is one hour after it, well before FIXED_NOW. */
const START = Date.parse('2026-11-23T00:00:00Z');
const DAY_MS = 86400e3;

/**
 * The 15 busiest airports over all 20k flights; others become "other". Rare airports land in one half
 * only, and an unseen category's zero training count dominates the χ² test even at 3 in 500.
 */
const HUBS = (() => {
  const counts = new Map<string, number>();
  for (const f of loadFlights())
    for (const a of [f.origin, f.destination]) counts.set(a, (counts.get(a) ?? 0) + 1);
  return new Set(
    [...counts]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 15)
      .map(([a]) => a),
  );
})();
const hub = (airport: string) => (HUBS.has(airport) ? airport : 'other');

/** 20 features from one flight: the raw columns and fixed transforms of them (calendar, logs, ratios, squares). */
function featuresOf(f: FlightRow): Record<string, number | string> {
  const ts = flightTs(f.date);
  const d = new Date(ts);
  const hourOfDay = d.getUTCHours();
  const minute = d.getUTCMinutes();
  const dayOfWeek = d.getUTCDay();
  return {
    delay: f.delay,
    distance: f.distance,
    origin: hub(f.origin),
    destination: hub(f.destination),
    dep_hour: hourOfDay,
    dep_minute: minute,
    minute_of_day: hourOfDay * 60 + minute,
    hour_sin: Math.round(Math.sin((2 * Math.PI * (hourOfDay * 60 + minute)) / 1440) * 1e6) / 1e6,
    day_of_week: dayOfWeek,
    weekend: dayOfWeek === 0 || dayOfWeek === 6 ? 'yes' : 'no',
    day_of_month: d.getUTCDate(),
    day_of_year: Math.floor((ts - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY_MS) + 1,
    log_distance: Math.round(Math.log(f.distance) * 1e6) / 1e6,
    sqrt_distance: Math.round(Math.sqrt(f.distance) * 1e6) / 1e6,
    distance_band: f.distance < 500 ? 'short' : f.distance < 1500 ? 'medium' : 'long',
    delay_abs: Math.abs(f.delay),
    delay_sq: f.delay * f.delay,
    signed_log_delay: Math.round(Math.sign(f.delay) * Math.log1p(Math.abs(f.delay)) * 1e6) / 1e6,
    delay_per_100mi: Math.round(((f.delay * 100) / f.distance) * 1e6) / 1e6,
    late: f.delay > 15 ? 'late' : 'on_time',
  };
}

/** Features that depend on delay, the column the shifted replay moves. */
const DELAY_DERIVED = ['delay', 'delay_abs', 'delay_sq', 'signed_log_delay', 'delay_per_100mi', 'late'];

/** Seeded split of the three months into a training half and a production half in shuffled order. */
function halves(): { training: FlightRow[]; production: FlightRow[] } {
  const flights = loadFlights();
  const random = seededRandom(20_261_124);
  const order = flights.map((f) => ({ f, k: random() }));
  order.sort((a, b) => a.k - b.k);
  const shuffled = order.map((o) => o.f);
  return {
    training: shuffled.slice(0, shuffled.length / 2),
    production: shuffled.slice(shuffled.length / 2),
  };
}

interface Replay {
  reviewer: Client;
  /** Tick after each bucket: the alerts that existed right after it. */
  alertsAfter: AlertView[][];
}

/**
 * Uploads the training half, then streams production bucket by bucket, running the drift tick as each
 * hour closes. `shift` may change a production flight of a given bucket before its features are built.
 */
async function replay(
  shift: (f: FlightRow, bucket: number) => FlightRow = (f) => f,
  buckets = BUCKETS,
): Promise<Replay> {
  t = makeTestApp({ ...AUTH_CONFIG, drift: { bucket: '1h', rollingWindow: '3h', minSamples: 200 } });
  const admin = new Client(t.app, TOKENS.admin);
  const ingester = new Client(t.app, TOKENS.ingest);
  const reviewer = new Client(t.app, TOKENS.reviewer);
  const { training, production } = halves();
  expect(production.length).toBe(BUCKETS * PER_BUCKET);
  await admin.baseline('flights', JSON.stringify(training.map(featuresOf)), 'application/json', {
    model_version: 'v1',
  });

  const alertsAfter: AlertView[][] = [];
  for (let b = 0; b < buckets; b++) {
    const start = START + b * HOUR;
    const records = production.slice(b * PER_BUCKET, (b + 1) * PER_BUCKET).map((f, i) => ({
      model: 'flights',
      model_version: 'v1',
      request_id: `p-${b}-${i}`,
      // Spread evenly over the hour: the replay's clock, not the flight's own date.
      timestamp: start + Math.floor((i * HOUR) / PER_BUCKET),
      features: featuresOf(shift(f, b)),
    }));
    const closeAt = start + HOUR;
    t.setNow(closeAt);
    await ingester.ingest(records);
    expect((await runDriftTick(t.deps, closeAt)).errors).toEqual([]);
    alertsAfter.push(await reviewer.alerts('limit=1000'));
  }
  expect(START + BUCKETS * HOUR).toBeLessThanOrEqual(FIXED_NOW);
  return { reviewer, alertsAfter };
}

async function results(reviewer: Client, kind: 'bucket' | 'rolling'): Promise<DriftResultBody[]> {
  const res = await reviewer.get<{ results: DriftResultBody[] }>(
    `/v1/models/flights/drift?kind=${kind}&limit=1000`,
  );
  expect(res.status).toBe(200);
  return res.body.results;
}

describe('replay of flights-20k', () => {
  it('raises no alert on 20 features when training and production are halves of the same period', async () => {
    const { reviewer, alertsAfter } = await replay();
    expect(
      alertsAfter
        .flat()
        .map((a) => `${a.feature}/${a.kind} ${a.latest.window_kind} ${JSON.stringify(a.latest.window)}`),
    ).toEqual([]);
    expect(await reviewer.alerts('limit=1000')).toEqual([]);

    // Not vacuous: every hour was judged on all 20 features with a few hundred values each.
    const buckets = await results(reviewer, 'bucket');
    expect(buckets).toHaveLength(BUCKETS);
    const rolling = await results(reviewer, 'rolling');
    expect(rolling.length).toBeGreaterThan(0);
    for (const r of [...buckets, ...rolling]) {
      expect(r.features).toHaveLength(20);
      // The 15 numeric features are watched jointly by default (105 pairs, heavy-tailed delay_sq among them).
      expect(r.multivariate?.features).toHaveLength(15);
      expect(r.multivariate?.pairs_tested).toBe(105);
      expect(r.multivariate?.flagged, r.window.from).toBe(false);
      for (const f of r.features) {
        expect(f.n, `${r.window.from} ${f.feature}`).toBeGreaterThanOrEqual(PER_BUCKET);
        expect(f.drifted, `${r.window.from} ${f.feature}`).toBe(false);
        // Well below the 0.1 threshold, so the verdicts do not hang on a lucky split.
        expect(f.psi as number, `${r.window.from} ${f.feature}`).toBeLessThan(0.08);
      }
    }
  });

  it('alerts within two hours once delays grow by 10 minutes, and only on delay features', async () => {
    const SHIFT_AT = 6;
    const SHIFT = 10;
    const { reviewer, alertsAfter } = await replay(
      (f, b) => (b >= SHIFT_AT ? { ...f, delay: f.delay + SHIFT } : f),
      10,
    );
    for (let b = 0; b < SHIFT_AT; b++) expect(alertsAfter[b], `after bucket ${b}`).toEqual([]);
    const firstFiring = alertsAfter.findIndex((a) => a.length > 0);
    expect(firstFiring).toBeGreaterThanOrEqual(SHIFT_AT);
    expect(firstFiring).toBeLessThanOrEqual(SHIFT_AT + 1);

    const alerts = await reviewer.alerts('limit=1000');
    expect(alerts.map((a) => a.feature)).toContain('delay');
    for (const a of alerts) {
      // Joint alerts (on by default) name a pair with a delay feature — delay_per_100mi gains 1000/distance,
      // so its correlation with distance moves — or the reconstruction error.
      if (a.kind === 'multivariate_drift' && a.feature !== 'reconstruction')
        expect(
          a.feature.split(' × ').some((f) => DELAY_DERIVED.includes(f)),
          a.feature,
        ).toBe(true);
      else if (a.kind !== 'multivariate_drift') expect(DELAY_DERIVED, a.feature).toContain(a.feature);
      expect(a).toMatchObject({ model: 'flights', model_version: 'v1', status: 'open' });
    }
    const delay = alerts.find((a) => a.feature === 'delay') as AlertView;
    const detail = await reviewer.alert(delay.id);
    const bucketEvidence = detail.evidence
      .filter((e) => e.window_kind === 'bucket')
      .map((e) => e.window.from);
    expect(bucketEvidence.length).toBeGreaterThan(0);
    expect(bucketEvidence.every((from) => Date.parse(from) >= START + SHIFT_AT * HOUR)).toBe(true);
  });
});
