// `npm run docs:ui`: screenshots of the web UI's main pages for docs/ui/. A day of real weather is
// replayed hour by hour up to now (scripts/weather-replay.ts: Seattle's summer of 2015 against its
// 2012–2013 baseline drifts, New York stays quiet) into a fresh database, then a real driftwatch process
// serves it (and the demo model) with tokens configured; one retrain decision is recorded through the API,
// and the pages are captured signed in as a reviewer, as the README's walk-through does.
//
//   npx tsx scripts/ui-screenshots.ts [--out docs/ui]

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { createApp } from '../src/app.js';
import { defaultConfig } from '../src/config/index.js';
import type { AppDeps } from '../src/context.js';
import { openStore } from '../src/store/index.js';
import { launchChromium } from '../test/browser/chromium.js';
import { killAll, REPO_ROOT, startServerProcess } from '../test/server/process.js';
import { tempDir } from '../test/support.js';
import { REPLAY_DRIFT, replayWeather } from './weather-replay.js';

const HOUR = 3_600_000;
const MODEL = 'weather-seattle';

const REVIEWER = 'screenshot-reviewer-token-0123';
const ADMIN = 'screenshot-admin-token-0123456';

const outArg = process.argv.indexOf('--out');
const OUT = resolve(REPO_ROOT, outArg > 0 ? (process.argv[outArg + 1] ?? 'docs/ui') : 'docs/ui');

async function main() {
  mkdirSync(OUT, { recursive: true });
  const dir = tempDir();
  const config = join(dir.dir, 'driftwatch.json');
  const db = join(dir.dir, 'dw.db');
  {
    let now = Date.now();
    const replayConfig = defaultConfig({ database: { path: db }, drift: REPLAY_DRIFT });
    const deps: AppDeps = {
      config: replayConfig,
      store: await openStore(replayConfig.database),
      log: pino({ level: 'silent' }),
      clock: () => now,
    };
    const end = Date.now();
    await replayWeather({
      app: createApp(deps),
      deps,
      setNow: (ms) => {
        now = ms;
      },
      // The last replayed hour is the one before this one, so no evaluation lies in the future.
      periodFrom: Math.floor(end / HOUR) * HOUR - 24 * HOUR,
      end,
    });
    await deps.store.close();
  }
  writeFileSync(
    config,
    JSON.stringify({
      drift: REPLAY_DRIFT,
      auth: {
        tokens: [
          { name: 'root', role: 'admin', token: ADMIN },
          { name: 'rita', role: 'reviewer', token: REVIEWER },
        ],
      },
    }),
  );
  const server = await startServerProcess(db, { DRIFTWATCH_CONFIG: config });
  const browser = await launchChromium({ viewport: { width: 1280, height: 900 } });
  try {
    const api = async <T>(path: string): Promise<T> => {
      const res = await fetch(server.url(path), { headers: { authorization: `Bearer ${ADMIN}` } });
      if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
      return (await res.json()) as T;
    };
    const open = await api<{ alerts: { id: number; feature: string; severity: string; version: number }[] }>(
      `/v1/alerts?status=open&model=${MODEL}`,
    );
    const [alert, other] = [...open.alerts].sort(
      (a, b) => (a.severity === 'critical' ? -1 : 1) - (b.severity === 'critical' ? -1 : 1),
    );
    if (!alert) throw new Error('the replay raised no open alert');
    // One decision already recorded, so the queue and the retrain page show one.
    if (other) {
      const res = await fetch(server.url(`/v1/alerts/${other.id}/decision`), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${ADMIN}`,
          'content-type': 'application/json',
          'if-match': `"${other.version}"`,
        },
        body: JSON.stringify({
          decision: 'retrain',
          note: 'retrain with the 2015 summer in the training set',
        }),
      });
      if (!res.ok) throw new Error(`decision: HTTP ${res.status} ${await res.text()}`);
    }

    const page = await browser.context.newPage();
    await page.goto(server.url('/ui/login'));
    await page.screenshot({ path: join(OUT, 'sign-in.png') });
    await page.getByLabel('API token').fill(REVIEWER);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/ui$/);

    const shots: { name: string; path: string; prepare?: () => Promise<void> }[] = [
      { name: 'versions', path: '/ui/models/weather/versions' },
      { name: 'overview', path: '/ui' },
      { name: 'alerts', path: '/ui/alerts' },
      { name: 'alert', path: `/ui/alerts/${alert.id}` },
      {
        name: 'decision',
        path: `/ui/alerts/${alert.id}`,
        prepare: async () => {
          await page.getByLabel(/^Accept the shift/).check();
          await page.getByLabel(/^Note/).fill('summer 2015 is the new normal for this sensor');
          await page.getByRole('button', { name: 'Review decision…' }).click();
          await page.waitForSelector('#decision-effect');
        },
      },
      { name: 'model', path: `/ui/models/${MODEL}` },
      { name: 'feature', path: `/ui/models/${MODEL}/features/${encodeURIComponent(alert.feature)}` },
      { name: 'retrain', path: '/ui/retrain' },
    ];
    for (const shot of shots) {
      await page.goto(server.url(shot.path));
      if (shot.prepare) await shot.prepare();
      const file = join(OUT, `${shot.name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      console.log(`${file}  (${shot.path})`);
    }
    // The queue on a phone-sized screen.
    const narrow = await browser.context.newPage();
    await narrow.setViewportSize({ width: 390, height: 844 });
    await narrow.goto(server.url('/ui/alerts'));
    await narrow.screenshot({ path: join(OUT, 'alerts-narrow.png'), fullPage: true });
    console.log(join(OUT, 'alerts-narrow.png'));
  } finally {
    await browser.close();
    await killAll();
    dir.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
