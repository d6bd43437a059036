import { afterEach, describe, expect, it } from 'vitest';
import {
  chiSquareContingency,
  histogram,
  jensenShannon,
  ksFromGrid,
  ksTwoSample,
  offEdgeCount,
  psi,
  quantileEdges,
  wassersteinNormed,
} from '../../src/stats/index.js';
import { makeTestApp, type TestApp } from '../support.js';
import {
  type BaselineDetailBody,
  baselineDetail,
  type CategoricalColumnBody,
  type ColumnResultBody,
  categorySlots,
  column,
  createBaseline,
  type DriftResultBody,
  feature,
  flightTs,
  ingestAll,
  loadFlights,
  loadWeather,
  runDriftOne,
  seededRandom,
  WEATHER_HEADER,
  type WeatherRow,
  weatherTs,
} from './helpers.js';

// Drift numbers on public data nobody here wrote, checked against src/stats on the raw values: the
// aggregates are binned on the baseline's grid, so any loss in that binning shows up here.

let t: TestApp | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

const DAY = { drift: { bucket: '1d', rollingWindow: '7d' } } as const;

const relClose = (actual: number | null, expected: number, tol: number) => {
  expect(actual).not.toBeNull();
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected)));
};

/** Every numeric measure of one feature against the same statistic computed on the raw values. */
function checkNumeric(
  detail: BaselineDetailBody,
  r: ColumnResultBody,
  train: number[],
  win: number[],
  ksTolerance: number | null,
) {
  const profile = column(detail, r.feature, 'numeric');
  const edges = profile.gridEdges as number[];
  const gridCounts = profile.gridCounts as number[];
  const decileEdges = quantileEdges(train, 10);
  // The stored profile must describe the training data exactly before the window can be compared with it.
  expect(profile.psiEdges).toEqual(Array.from(decileEdges));
  expect(gridCounts).toEqual(Array.from(histogram(edges, train)));
  expect(profile.count).toBe(train.length);

  expect(r.type).toBe('numeric');
  expect(r.n).toBe(win.length);
  expect(r.missing_rate).toBe(0);
  expect(r.type_mismatch_rate).toBe(0);
  const lo = Math.min(...train);
  const hi = Math.max(...train);
  expect(r.out_of_range_rate).toBe(win.filter((v) => v < lo || v > hi).length / win.length);

  const expectedPsi = psi(histogram(decileEdges, train), histogram(decileEdges, win));
  expect(Math.abs((r.psi as number) - expectedPsi)).toBeLessThanOrEqual(1e-9);

  const raw = ksTwoSample(train, win);
  // Documented bounds: D_grid ≤ D_raw ≤ statisticUpper, and the raw p-value lies in [pvalueLower, pvalue].
  const onEdges = profile.exact && offEdgeCount(edges, win) === 0;
  const grid = ksFromGrid({ edges, refCounts: gridCounts, curCounts: histogram(edges, win), onEdges });
  // The pipeline also bounds D below by each cell's mean gap (from the position sums): between the two.
  expect(r.ks_statistic as number).toBeGreaterThanOrEqual(grid.statistic);
  expect(r.ks_statistic as number).toBeLessThanOrEqual(raw.statistic + 1e-12);
  expect(r.ks_pvalue as number).toBeLessThanOrEqual(grid.pvalue);
  expect(r.ks_pvalue as number).toBeGreaterThanOrEqual(raw.pvalue - 1e-12);
  expect(raw.statistic).toBeGreaterThanOrEqual(grid.statistic - 1e-12);
  expect(raw.statistic).toBeLessThanOrEqual(grid.statisticUpper + 1e-12);
  expect(raw.pvalue).toBeGreaterThanOrEqual(grid.pvalueLower - 1e-12);
  expect(raw.pvalue).toBeLessThanOrEqual(grid.pvalue + 1e-12);
  if (ksTolerance !== null) {
    expect(Math.abs((r.ks_statistic as number) - raw.statistic)).toBeLessThanOrEqual(ksTolerance);
    expect((r.ks_pvalue as number) < 0.05).toBe(raw.pvalue < 0.05);
  }
  if (onEdges) expect(r.ks_statistic).toBe(raw.statistic);

  // Documented bound for the grid Wasserstein estimate: Σ w_i·(p_ref,i + p_cur,i) over non-empty cells.
  const cur = histogram(edges, win);
  const min = Math.min(lo, ...win);
  const max = Math.max(hi, ...win);
  let bound = 0;
  if (!onEdges) {
    for (let i = 0; i <= edges.length; i++) {
      const left = i === 0 ? min : (edges[i - 1] as number);
      const right = i === edges.length ? max : (edges[i] as number);
      bound += (right - left) * ((gridCounts[i] as number) / train.length + (cur[i] as number) / win.length);
    }
  }
  expect(Math.abs((r.wasserstein_normed as number) - wassersteinNormed(train, win))).toBeLessThanOrEqual(
    bound / profile.std + 1e-9,
  );
  expect(r.chi2_statistic).toBeNull();
  expect(r.js).toBeNull();
}

/** Categorical measures against chi² / JS / PSI on the raw category counts in the baseline's slot layout. */
function checkCategorical(detail: BaselineDetailBody, r: ColumnResultBody, train: string[], win: string[]) {
  const profile = column(detail, r.feature, 'categorical');
  const ref = categorySlots(profile, train);
  // Training data has no unseen values, and the stored counts are top-K then one pooled count.
  expect(ref.at(-1)).toBe(0);
  expect(profile.counts).toEqual(ref.slice(0, -1));
  expectRanked(profile);
  const cur = categorySlots(profile, win);

  expect(r.type).toBe('categorical');
  expect(r.n).toBe(win.length);
  expect(r.unseen_rate).toBe((cur.at(-1) as number) / win.length);
  // χ² is over the categories known from training (the last slot, unseen, is left to unseen_rate).
  const chi = chiSquareContingency(ref.slice(0, -1), cur.slice(0, -1));
  relClose(r.chi2_statistic, chi.statistic, 1e-9);
  relClose(r.chi2_pvalue, chi.pvalue, 1e-9);
  relClose(r.js, jensenShannon(ref, cur), 1e-12);
  expect(Math.abs((r.psi as number) - psi(ref, cur))).toBeLessThanOrEqual(1e-9);
  expect(r.ks_statistic).toBeNull();
}

/** Top-K is ordered by training frequency, ties by name, and nothing outside it outranks it. */
function expectRanked(profile: CategoricalColumnBody) {
  const top = profile.counts.slice(0, profile.categories.length);
  for (let i = 1; i < top.length; i++) {
    const prev = top[i - 1] as number;
    const cur = top[i] as number;
    expect(prev >= cur).toBe(true);
    if (prev === cur)
      expect((profile.categories[i - 1] as string) < (profile.categories[i] as string)).toBe(true);
  }
}

describe('flights-20k: January as the baseline, February and March as production', () => {
  const flights = loadFlights();
  const month = (m: string) => flights.filter((f) => f.date.startsWith(`2001/${m}`));
  const jan = month('01');
  const feb = month('02');
  const mar = month('03');

  async function setup(query: Record<string, string> = {}) {
    t = makeTestApp(DAY);
    const baseline = await createBaseline(t.app, 'flights', JSON.stringify(jan), 'application/json', {
      model_version: 'v1',
      exclude: 'date',
      ...query,
    });
    expect(baseline.row_count).toBe(jan.length);
    expect(baseline.active).toBe(true);
    const records = [...feb, ...mar].map((f, i) => ({
      model: 'flights',
      model_version: 'v1',
      request_id: `f-${i}`,
      timestamp: flightTs(f.date),
      features: { delay: f.delay, distance: f.distance, origin: f.origin, destination: f.destination },
    }));
    await ingestAll(t.app, records);
    return { app: t.app, detail: await baselineDetail(t.app, 'flights', baseline.id) };
  }

  it('matches src/stats on the raw values for each month (integer features with heavy ties, 50+ airports)', async () => {
    const { app, detail } = await setup();
    expect(detail.columns.map((c) => c.name).sort()).toEqual(['delay', 'destination', 'distance', 'origin']);
    // More airports than top-K: the pooled slot and unseen airports are both exercised.
    expect(column(detail, 'origin', 'categorical').pooled.length).toBeGreaterThan(0);

    for (const [win, from, to] of [
      [feb, '2001-02-01T00:00:00Z', '2001-03-01T00:00:00Z'],
      [mar, '2001-03-01T00:00:00Z', '2001-04-01T00:00:00Z'],
    ] as const) {
      const r: DriftResultBody = await runDriftOne(app, 'flights', { from, to });
      expect(r.baseline_id).toBe(detail.id);
      expect(r.model_version).toBe('v1');
      expect(r.window_kind).toBe('range');
      expect(r.window).toEqual({ from: new Date(from).toISOString(), to: new Date(to).toISOString() });
      expect(r.n).toBe(win.length);
      for (const name of ['delay', 'distance'] as const) {
        checkNumeric(
          detail,
          feature(r, name),
          jan.map((f) => f[name]),
          win.map((f) => f[name]),
          0.002,
        );
      }
      for (const name of ['origin', 'destination'] as const) {
        checkCategorical(
          detail,
          feature(r, name),
          jan.map((f) => f[name]),
          win.map((f) => f[name]),
        );
      }
      expect(feature(r, 'origin').unseen_rate).toBeGreaterThan(0);
    }
  });

  it('sums buckets: a two-month range equals the raw statistics on both months together', async () => {
    const { app, detail } = await setup();
    const r = await runDriftOne(app, 'flights', { from: '2001-02-01T00:00:00Z', to: '2001-04-01T00:00:00Z' });
    const both = [...feb, ...mar];
    expect(r.n).toBe(both.length);
    checkNumeric(
      detail,
      feature(r, 'delay'),
      jan.map((f) => f.delay),
      both.map((f) => f.delay),
      0.002,
    );
    checkCategorical(
      detail,
      feature(r, 'destination'),
      jan.map((f) => f.destination),
      both.map((f) => f.destination),
    );
  });

  it('keeps PSI exact and KS within its documented bound on a coarse, non-exact grid', async () => {
    // 50 cells for ~280 distinct delays: quantile cells plus isolated heavy ties instead of every value.
    const { app, detail } = await setup({ grid_cells: '50' });
    const delay = column(detail, 'delay', 'numeric');
    expect(delay.exact).toBe(false);
    expect(delay.gridCounts?.length).toBe((delay.gridEdges?.length ?? 0) + 1);
    const r = await runDriftOne(app, 'flights', { from: '2001-02-01T00:00:00Z', to: '2001-03-01T00:00:00Z' });
    for (const name of ['delay', 'distance'] as const) {
      checkNumeric(
        detail,
        feature(r, name),
        jan.map((f) => f[name]),
        feb.map((f) => f[name]),
        null,
      );
    }
  });
});

describe('weather: 2012 as a CSV baseline, later years as production', () => {
  const { rows, lines } = loadWeather();
  const year = (y: string) => rows.filter((r) => r.date.startsWith(y));
  const csvOf = (ls: string[]) => `${WEATHER_HEADER}\n${ls.join('\n')}\n`;
  const toRecord = (w: WeatherRow, i: number) => ({
    model: 'weather',
    request_id: `w-${i}`,
    timestamp: weatherTs(w.date),
    features: {
      location: w.location,
      precipitation: w.precipitation,
      temp_max: w.temp_max,
      temp_min: w.temp_min,
      wind: w.wind,
      weather: w.weather,
    },
  });
  const NUMERIC = ['precipitation', 'temp_max', 'temp_min', 'wind'] as const;
  const CATEGORICAL = ['location', 'weather'] as const;

  it('matches src/stats on the raw values for skewed precipitation and decimal temperatures', async () => {
    t = makeTestApp(DAY);
    const baseline = await createBaseline(
      t.app,
      'weather',
      csvOf(lines.filter((l) => l.includes(',2012-'))),
      'text/csv',
      { exclude: 'date' },
    );
    const train = year('2012');
    expect(baseline.row_count).toBe(train.length);
    expect(baseline.model_version).toBeNull();
    const later = rows.filter((r) => !r.date.startsWith('2012'));
    await ingestAll(t.app, later.map(toRecord));
    const detail = await baselineDetail(t.app, 'weather', baseline.id);

    for (const [y, from, to] of [
      ['2013', '2013-01-01T00:00:00Z', '2014-01-01T00:00:00Z'],
      ['2015', '2015-01-01T00:00:00Z', '2016-01-01T00:00:00Z'],
    ] as const) {
      const win = year(y);
      const r = await runDriftOne(t.app, 'weather', { from, to });
      expect(r.model_version).toBeNull();
      expect(r.n).toBe(win.length);
      for (const name of NUMERIC) {
        checkNumeric(
          detail,
          feature(r, name),
          train.map((w) => w[name]),
          win.map((w) => w[name]),
          0.002,
        );
      }
      for (const name of CATEGORICAL) {
        checkCategorical(
          detail,
          feature(r, name),
          train.map((w) => w[name]),
          win.map((w) => w[name]),
        );
      }
    }
  });

  it('finds no drift between two random halves of the same four years', async () => {
    t = makeTestApp(DAY);
    const random = seededRandom(20_251_124);
    const inBaseline = rows.map(() => random() < 0.5);
    const baseline = await createBaseline(
      t.app,
      'weather',
      csvOf(lines.filter((_, i) => inBaseline[i])),
      'text/csv',
      { exclude: 'date' },
    );
    const production = rows.filter((_, i) => !inBaseline[i]);
    expect(production.length).toBeGreaterThan(1300);
    await ingestAll(t.app, production.map(toRecord));

    const r = await runDriftOne(t.app, 'weather', {
      from: '2012-01-01T00:00:00Z',
      to: '2016-01-01T00:00:00Z',
    });
    expect(r.baseline_id).toBe(baseline.id);
    expect(r.n).toBe(production.length);
    expect(r.features.map((f) => f.feature).sort()).toEqual([...CATEGORICAL, ...NUMERIC].sort());
    for (const f of r.features) {
      expect(f.n, f.feature).toBe(production.length);
      expect(f.drifted, f.feature).toBe(false);
      expect(f.severity, f.feature).toBe('none');
      expect(f.psi as number, f.feature).toBeLessThan(0.1);
    }
    expect(r.drifted).toBe(false);
    expect(r.drifted_share).toBe(0);
  });

  it('flags the seasonal shift from a winter baseline to a summer window as critical drift', async () => {
    // A summer has 184 days of both cities: below the default minSamples, so the model gets its own.
    t = makeTestApp({ ...DAY, models: { weather: { minSamples: 150 } } });
    const winter = lines.filter((l) => /,2012-0[1-3]-/.test(l));
    await createBaseline(t.app, 'weather', csvOf(winter), 'text/csv', { exclude: 'date' });
    const summer = rows.filter((r) => /^2013-0[6-8]-/.test(r.date));
    await ingestAll(t.app, summer.map(toRecord));

    const r = await runDriftOne(t.app, 'weather', {
      from: '2013-06-01T00:00:00Z',
      to: '2013-09-01T00:00:00Z',
    });
    expect(r.n).toBe(summer.length);
    for (const name of ['temp_max', 'temp_min'] as const) {
      const f = feature(r, name);
      expect(f.drifted, name).toBe(true);
      expect(f.severity, name).toBe('critical');
      expect(f.pvalue_adjusted as number).toBeLessThan(0.05);
    }
    // Location is split evenly in every season, so it must not be flagged with the temperatures.
    expect(feature(r, 'location').drifted).toBe(false);
    expect(r.drifted).toBe(true);
  });
});
