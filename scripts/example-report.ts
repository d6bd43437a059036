// The example report under docs/reports/: a replay of real weather data (vega-datasets' weather.csv,
// Seattle and New York, 2012–2015) into a fresh SQLite store, the drift tick as the service runs it, then
// the daily report rendered with a fixed clock, written as a standalone HTML file (charts as data: URIs)
// and screenshot with headless Chromium.
//
//   npm run docs:report            (npx tsx scripts/example-report.ts [--out docs/reports])
//
// Two models, each with a baseline of its city's 2012–2013 days:
// - weather-seattle: the period's first 12 hours replay days spread over all of 2015 (what training saw),
//   the last 12 hours replay the summer of 2015 (June–August): warm, dry days, so temperatures and
//   precipitation drift and the drift tick raises alerts.
// - weather-ny: every hour replays days spread over 2015: quiet.
// Each replayed day is one logged prediction; latency and status are not in the data set, so they are
// drawn from a seeded generator (the same on every run). Everything else is the data set's own numbers.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createApp } from '../src/app.js';
import { defaultConfig } from '../src/config.js';
import type { AppDeps } from '../src/context.js';
import { runDriftTick } from '../src/jobs/drift-tick.js';
import { inlineImages } from '../src/reports/render.js';
import { renderFor } from '../src/reports/service.js';
import { mulberry32 } from '../src/stats/index.js';
import { openStore } from '../src/store/index.js';
import { launchChromium } from '../test/browser/chromium.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CSV = join(ROOT, 'node_modules/vega-datasets/data/weather.csv');
const HOUR = 3_600_000;
const MIN = 60_000;
/** The report's slot: 08:00 in Berlin on 24 Nov 2026; its period is the 24 hours before. */
const SLOT = Date.parse('2026-11-24T07:00:00Z');
const PERIOD_FROM = SLOT - 24 * HOUR;
const PER_HOUR = 40;

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

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'docs/reports' } } });
  const outDir = resolve(ROOT, values.out ?? 'docs/reports');
  const days = loadDays();
  const city = (location: string, years: string[]) =>
    days.filter((d) => d.location === location && years.some((y) => d.date.startsWith(y)));

  const work = mkdtempSync(join(tmpdir(), 'dw-example-report-'));
  let now = PERIOD_FROM;
  const config = defaultConfig({
    database: { path: join(work, 'driftwatch.db') },
    drift: { bucket: '1h', rollingWindow: '6h', minSamples: 200 },
    notifications: { externalUrl: 'https://driftwatch.example.com' },
    reports: {
      smtp: { host: 'mail.internal', port: 587, from: 'driftwatch@example.com' },
      schedules: [
        {
          name: 'daily',
          cron: '0 8 * * *',
          timezone: 'Europe/Berlin',
          to: ['ml-team@example.com'],
          period: '24h',
        },
      ],
    },
  });
  const store = await openStore(config.database);
  const deps: AppDeps = { config, store, log: pino({ level: 'silent' }), clock: () => now };
  const app = createApp(deps);
  const call = async (method: string, path: string, body: string, type = 'application/json') => {
    const res = await app.request(path, { method, headers: { 'content-type': type }, body });
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };

  try {
    const header = 'precipitation,temp_max,temp_min,wind,weather';
    const csvOf = (list: Day[]) =>
      `${header}\n${list.map((d) => [d.precipitation, d.temp_max, d.temp_min, d.wind, d.weather].join(',')).join('\n')}\n`;
    for (const [model, location] of [
      ['weather-seattle', 'Seattle'],
      ['weather-ny', 'New York'],
    ] as const)
      await call(
        'POST',
        `/v1/models/${model}/baselines`,
        csvOf(city(location, ['2012', '2013'])),
        'text/csv',
      );

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
      await call('POST', '/v1/ingest', JSON.stringify(batch));
      // The drift tick as the service runs it: closed buckets and the rolling window, alerts raised.
      const tick = await runDriftTick(deps, now);
      if (tick.errors.length > 0) throw new Error(`drift tick: ${JSON.stringify(tick.errors)}`);
    }
    now = SLOT;
    await runDriftTick(deps, now);

    const schedule = config.reports.schedules[0];
    if (!schedule) throw new Error('no schedule');
    const rendered = await renderFor(deps, schedule, SLOT);
    const html = inlineImages(rendered.html, rendered.images);
    mkdirSync(outDir, { recursive: true });
    const htmlPath = join(outDir, 'example-report.html');
    const pngPath = join(outDir, 'example-report.png');
    writeFileSync(htmlPath, html);
    writeFileSync(join(outDir, 'example-report.txt'), rendered.text);

    const browser = await launchChromium({ viewport: { width: 760, height: 900 } });
    try {
      const page = await browser.context.newPage();
      await page.goto(`file://${htmlPath}`);
      await page.waitForLoadState('load');
      await page.screenshot({ path: pngPath, fullPage: true });
    } finally {
      await browser.close();
    }
    console.log(rendered.subject);
    console.log(`${rendered.images.length} charts`);
    for (const p of [htmlPath, pngPath]) console.log(`${p} (${Math.round(statSync(p).size / 1024)} KiB)`);
  } finally {
    await store.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
