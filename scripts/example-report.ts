// The example report under docs/reports/: a replay of real weather data (vega-datasets' weather.csv,
// Seattle and New York, 2012–2015) into a fresh SQLite store, the drift tick as the service runs it, then
// the daily report rendered with a fixed clock, written as a standalone HTML file (charts as data: URIs)
// and screenshot with headless Chromium.
//
//   npm run docs:report            (npx tsx scripts/example-report.ts [--out docs/reports])
//
// The replay itself is scripts/weather-replay.ts (shared with the web UI's screenshots).

import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createApp } from '../src/app.js';
import { defaultConfig } from '../src/config/index.js';
import type { AppDeps } from '../src/context.js';
import { inlineImages } from '../src/reports/render.js';
import { renderFor } from '../src/reports/service.js';
import { openStore } from '../src/store/index.js';
import { launchChromium } from '../test/browser/chromium.js';
import { REPLAY_DRIFT, replayWeather } from './weather-replay.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HOUR = 3_600_000;
/** The report's slot: 08:00 in Berlin on 24 Nov 2026; its period is the 24 hours before. */
const SLOT = Date.parse('2026-11-24T07:00:00Z');
const PERIOD_FROM = SLOT - 24 * HOUR;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'docs/reports' } } });
  const outDir = resolve(ROOT, values.out ?? 'docs/reports');

  const work = mkdtempSync(join(tmpdir(), 'dw-example-report-'));
  let now = PERIOD_FROM;
  const config = defaultConfig({
    database: { path: join(work, 'driftwatch.db') },
    drift: REPLAY_DRIFT,
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

  try {
    await replayWeather({
      app,
      deps,
      setNow: (ms) => {
        now = ms;
      },
      periodFrom: PERIOD_FROM,
      end: SLOT,
    });

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
