import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { BaselineView } from '../../src/baselines/service.js';
import type { ColumnResult } from '../../src/drift/evaluate.js';
import type { DriftResult, FeatureHistogram } from '../../src/drift/service.js';
import { mulberry32 } from '../../src/stats/index.js';
import { ingestJson } from '../helpers.js';
import type { TestApp } from '../support.js';

type App = TestApp['app'];

/** One column of a drift result, as the API returns it. */
export type ColumnResultBody = ColumnResult;

/** A drift result as the API returns it. */
export type DriftResultBody = DriftResult;

/** A baseline as the API returns it (creation and activation add reaggregated_records). */
export type BaselineBody = BaselineView & { reaggregated_records?: number };

export interface NumericColumnBody {
  role: 'feature' | 'prediction';
  name: string;
  type: 'numeric';
  count: number;
  missing: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  psiEdges: number[];
  gridEdges?: number[];
  gridCounts?: number[];
  grid_cells?: number;
  exact: boolean;
}

export interface CategoricalColumnBody {
  role: 'feature' | 'prediction';
  name: string;
  type: 'categorical';
  count: number;
  missing: number;
  distinct: number;
  categories: string[];
  counts: number[];
  pooled: string[];
}

export type ColumnBody = NumericColumnBody | CategoricalColumnBody;

export interface BaselineDetailBody extends BaselineBody {
  columns: ColumnBody[];
}

/** GET …/features/:feature/histogram, as src/drift/service.ts types it. */
export type HistogramBody = FeatureHistogram;

const DATA_DIR = fileURLToPath(new URL('../../node_modules/vega-datasets/data/', import.meta.url));

export interface WeatherRow {
  location: string;
  date: string;
  precipitation: number;
  temp_max: number;
  temp_min: number;
  wind: number;
  weather: string;
}

export const WEATHER_HEADER = 'location,date,precipitation,temp_max,temp_min,wind,weather';

/** weather.csv as typed rows plus its raw lines (no quoted fields in this file, so a split is enough). */
export function loadWeather(): { rows: WeatherRow[]; lines: string[] } {
  const text = readFileSync(`${DATA_DIR}weather.csv`, 'utf8').trim();
  const [header, ...lines] = text.split('\n').map((l) => l.replace(/\r$/, ''));
  expect(header).toBe(WEATHER_HEADER);
  const rows = lines.map((line) => {
    const [location, date, precipitation, tempMax, tempMin, wind, weather] = line.split(',');
    return {
      location: location as string,
      date: date as string,
      precipitation: Number(precipitation),
      temp_max: Number(tempMax),
      temp_min: Number(tempMin),
      wind: Number(wind),
      weather: weather as string,
    };
  });
  return { rows, lines };
}

export interface FlightRow {
  date: string;
  delay: number;
  distance: number;
  origin: string;
  destination: string;
}

export function loadFlights(): FlightRow[] {
  return JSON.parse(readFileSync(`${DATA_DIR}flights-20k.json`, 'utf8')) as FlightRow[];
}

/** "2001/01/05 13:20" read as UTC. */
export const flightTs = (date: string) => Date.parse(`${date.replace(/\//g, '-').replace(' ', 'T')}:00Z`);
export const weatherTs = (date: string) => Date.parse(`${date}T12:00:00Z`);

/** Deterministic PRNG so "random" splits are the same on every run. */
export const seededRandom = mulberry32;

export async function postBaseline(
  app: App,
  model: string,
  body: string,
  contentType: string,
  query: Record<string, string> = {},
): Promise<{ status: number; body: BaselineBody & { error?: { code: string; message: string } } }> {
  const qs = new URLSearchParams(query).toString();
  const res = await app.request(`/v1/models/${model}/baselines${qs ? `?${qs}` : ''}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  return {
    status: res.status,
    body: (await res.json()) as BaselineBody & { error?: { code: string; message: string } },
  };
}

/** Uploads a baseline and fails the test unless it was created. */
export async function createBaseline(
  app: App,
  model: string,
  body: string,
  contentType: string,
  query: Record<string, string> = {},
): Promise<BaselineBody> {
  const res = await postBaseline(app, model, body, contentType, query);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

export async function baselineDetail(app: App, model: string, id: number): Promise<BaselineDetailBody> {
  const res = await app.request(`/v1/models/${model}/baselines/${id}?include=grid`);
  expect(res.status).toBe(200);
  return (await res.json()) as BaselineDetailBody;
}

export function column<T extends ColumnBody['type']>(
  detail: BaselineDetailBody,
  name: string,
  type: T,
): Extract<ColumnBody, { type: T }> {
  const c = detail.columns.find((x) => x.name === name && x.role === 'feature');
  if (!c || c.type !== type) throw new Error(`baseline ${detail.id} has no ${type} feature ${name}`);
  return c as Extract<ColumnBody, { type: T }>;
}

/** Ingests records in batches and fails the test unless every one was accepted. */
export async function ingestAll(app: App, records: Record<string, unknown>[], batch = 5000): Promise<void> {
  for (let i = 0; i < records.length; i += batch) {
    const chunk = records.slice(i, i + batch);
    const res = await ingestJson(app, chunk);
    expect(res.status, JSON.stringify(res.body.rejected.slice(0, 3))).toBe(200);
    expect(res.body.accepted).toBe(chunk.length);
  }
}

export async function runDrift(
  app: App,
  model: string,
  range: { from?: string | number; to?: string | number } = {},
): Promise<DriftResultBody[]> {
  const res = await app.request(`/v1/models/${model}/drift/run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(range),
  });
  const body = (await res.json()) as { results: DriftResultBody[] };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.results;
}

/** The single result of a run that is expected to cover exactly one model version. */
export async function runDriftOne(
  app: App,
  model: string,
  range: { from?: string | number; to?: string | number } = {},
): Promise<DriftResultBody> {
  const results = await runDrift(app, model, range);
  expect(results).toHaveLength(1);
  return results[0] as DriftResultBody;
}

export async function driftSeries(app: App, model: string, query = ''): Promise<DriftResultBody[]> {
  const res = await app.request(`/v1/models/${model}/drift${query ? `?${query}` : ''}`);
  const body = (await res.json()) as { results: DriftResultBody[] };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.results;
}

export function feature(result: DriftResultBody, name: string): ColumnResultBody {
  const f = result.features.find((x) => x.feature === name);
  if (!f) throw new Error(`result ${result.id} has no feature ${name}`);
  return f;
}

/** Raw category counts in the baseline's slot layout: top-K in profile order, pooled "other", then unseen. */
export function categorySlots(profile: CategoricalColumnBody, values: readonly string[]): number[] {
  const index = new Map(profile.categories.map((c, i) => [c, i]));
  const pooled = new Set(profile.pooled);
  const out = new Array<number>(profile.categories.length + 2).fill(0);
  for (const v of values) {
    const i = index.get(v) ?? (pooled.has(v) ? profile.categories.length : profile.categories.length + 1);
    out[i] = (out[i] as number) + 1;
  }
  return out;
}

/** Sum of the aggregate rows' n for a model, straight from the database (the API only shows windows). */
export async function aggregateTotals(t: TestApp, model: string): Promise<{ rows: number; n: number }> {
  const [row] = await t.sql<{ row_count: number; n: number }>(
    'SELECT count(*) AS row_count, coalesce(sum(n), 0) AS n FROM aggregates WHERE model = ?',
    [model],
  );
  return { rows: Number(row?.row_count ?? 0), n: Number(row?.n ?? 0) };
}

/** Synthetic training rows: x spread evenly over 0…199, colour red/green/blue in turn. */
export function syntheticTraining(rows = 400): { x: number; color: string }[] {
  return Array.from({ length: rows }, (_, i) => ({
    x: i % 200,
    color: ['red', 'green', 'blue'][i % 3] as string,
  }));
}

/** A record of the synthetic model "m". */
export function mrec(
  id: string,
  features: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { model: 'm', request_id: id, features, ...extra };
}
