// A replay of real weather data (vega-datasets' weather.csv, Seattle and New York, 2012–2015) into a
// driftwatch app, hour by hour, with the drift tick run as the service runs it: the data behind the
// example report (scripts/example-report.ts) and the web UI's screenshots (scripts/ui-screenshots.ts).
//
// Two models, each with a baseline of its city's 2012–2013 days:
// - weather-seattle: the first 12 hours replay days spread over all of 2015 (what training saw), the last
//   12 hours the summer of 2015 (June–August): warm, dry days, so temperatures and precipitation drift and
//   the drift tick raises alerts.
// - weather-ny: every hour replays days spread over 2015: quiet.
// Each replayed day is one logged prediction; latency and status are not in the data set, so they are
// drawn from a seeded generator (the same on every run). Everything else is the data set's own numbers.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { createApp } from '../src/app.js';
import type { AppDeps } from '../src/context.js';
import { runDriftTick } from '../src/jobs/drift-tick.js';
import { mulberry32 } from '../src/stats/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CSV = join(ROOT, 'node_modules/vega-datasets/data/weather.csv');
const HOUR = 3_600_000;
const MIN = 60_000;
const PER_HOUR = 40;

/** The drift settings the replay is meant for: hourly buckets, a 6-hour rolling window. */
export const REPLAY_DRIFT = { bucket: '1h', rollingWindow: '6h', minSamples: 200 } as const;

interface Day {
  location: string;
  date: string;
  precipitation: number;
  temp_max: number;
  temp_min: number;
  wind: number;
  weather: string;
}

function loadDays(): Day[] {
  const [header, ...lines] = readFileSync(CSV, 'utf8').trim().split(/\r?\n/);
  if (header !== 'location,date,precipitation,temp_max,temp_min,wind,weather')
    throw new Error(`unexpected header in ${CSV}: ${header}`);
  return lines.map((line) => {
    const [location = '', date = '', p, tmax, tmin, wind, weather = ''] = line.split(',');
    return {
      location,
      date,
      precipitation: Number(p),
      temp_max: Number(tmax),
      temp_min: Number(tmin),
      wind: Number(wind),
      weather,
    };
  });
}

/** `n` items spread evenly over `list`, starting `offset` in. */
const spread = <T>(list: T[], n: number, offset: number): T[] =>
  Array.from({ length: n }, (_, i) => list[(offset + Math.floor((i * list.length) / n)) % list.length] as T);

/**
 * Replays 24 hours from `periodFrom` into `app` (baselines first), moving the clock with `setNow` and
 * running the drift tick after each hour, then once more at `end`.
 */
export async function replayWeather(opts: {
  app: ReturnType<typeof createApp>;
  deps: AppDeps;
  setNow: (ms: number) => void;
  periodFrom: number;
  end: number;
}): Promise<void> {
  const { app, deps, setNow, periodFrom: PERIOD_FROM } = opts;
  let now = PERIOD_FROM;
  setNow(now);
  const call = async (method: string, path: string, body: string, type = 'application/json') => {
    const res = await app.request(path, { method, headers: { 'content-type': type }, body });
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const days = loadDays();
  const city = (location: string, years: string[]) =>
    days.filter((d) => d.location === location && years.some((y) => d.date.startsWith(y)));
  const header = 'precipitation,temp_max,temp_min,wind,weather';
  const csvOf = (list: Day[]) =>
    `${header}\n${list.map((d) => [d.precipitation, d.temp_max, d.temp_min, d.wind, d.weather].join(',')).join('\n')}\n`;
  for (const [model, location] of [
    ['weather-seattle', 'Seattle'],
    ['weather-ny', 'New York'],
  ] as const)
    await call('POST', `/v1/models/${model}/baselines`, csvOf(city(location, ['2012', '2013'])), 'text/csv');

  const seattle2015 = city('Seattle', ['2015']);
  const summer = seattle2015.filter((d) => d.date >= '2015-06-01' && d.date <= '2015-08-31');
  const ny2015 = city('New York', ['2015']);
  const random = mulberry32(12);
  let seq = 0;
  const records = (model: string, list: Day[], hourStart: number, slow: boolean) =>
    list.map((d, i) => {
      const latency = (slow ? 38 : 22) + random() * 18 + (random() < 0.05 ? 60 : 0);
      return {
        model,
        model_version: 'v7',
        request_id: `${model}-${seq++}`,
        timestamp: hourStart + Math.floor((i * HOUR) / list.length),
        features: {
          precipitation: d.precipitation,
          temp_max: d.temp_max,
          temp_min: d.temp_min,
          wind: d.wind,
          weather: d.weather,
        },
        prediction: d.weather,
        latency_ms: Math.round(latency * 10) / 10,
        status: random() < (slow ? 0.03 : 0.006) ? 'error' : 'ok',
      };
    });

  for (let h = 0; h < 24; h++) {
    const start = PERIOD_FROM + h * HOUR;
    const shifted = h >= 12;
    const batch = [
      ...records(
        'weather-seattle',
        shifted ? spread(summer, PER_HOUR, h * 7) : spread(seattle2015, PER_HOUR, h * 11),
        start,
        shifted,
      ),
      ...records('weather-ny', spread(ny2015, PER_HOUR, h * 13), start, false),
    ];
    now = start + 50 * MIN;
    setNow(now);
    await call('POST', '/v1/ingest', JSON.stringify(batch));
    // The drift tick as the service runs it: closed buckets and the rolling window, alerts raised.
    const tick = await runDriftTick(deps, now);
    if (tick.errors.length > 0) throw new Error(`drift tick: ${JSON.stringify(tick.errors)}`);
  }
  now = opts.end;
  setNow(now);
  await runDriftTick(deps, now);
}
