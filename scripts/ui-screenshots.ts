// `npm run docs:ui`: screenshots of the web UI's main pages for docs/ui/, from a real driftwatch process
// serving the demo model, after the demo's replay of real Seattle weather (examples/demo.mjs) has raised
// drift alerts and recorded one retrain decision. Signs in as a reviewer, as the README's walk-through does.
//
//   npx tsx scripts/ui-screenshots.ts [--out docs/ui]

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { demo } from '../examples/demo.mjs';
import { launchChromium } from '../test/browser/chromium.js';
import { killAll, REPO_ROOT, startServerProcess } from '../test/server/process.js';
import { tempDir } from '../test/support.js';

const REVIEWER = 'screenshot-reviewer-token-0123';
const ADMIN = 'screenshot-admin-token-0123456';

const outArg = process.argv.indexOf('--out');
const OUT = resolve(REPO_ROOT, outArg > 0 ? (process.argv[outArg + 1] ?? 'docs/ui') : 'docs/ui');

async function main() {
  mkdirSync(OUT, { recursive: true });
  const dir = tempDir();
  const config = join(dir.dir, 'driftwatch.json');
  writeFileSync(
    config,
    JSON.stringify({
      auth: {
        tokens: [
          { name: 'root', role: 'admin', token: ADMIN },
          { name: 'rita', role: 'reviewer', token: REVIEWER },
        ],
      },
    }),
  );
  const server = await startServerProcess(join(dir.dir, 'dw.db'), { DRIFTWATCH_CONFIG: config });
  const browser = await launchChromium({ viewport: { width: 1280, height: 900 } });
  try {
    await demo({
      url: server.url(''),
      token: ADMIN,
      decision: 'retrain',
      csv: readFileSync(join(REPO_ROOT, 'node_modules/vega-datasets/data/seattle-weather.csv'), 'utf8'),
      log: () => {},
    });
    const api = async <T>(path: string): Promise<T> => {
      const res = await fetch(server.url(path), { headers: { authorization: `Bearer ${ADMIN}` } });
      if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
      return (await res.json()) as T;
    };
    const open = await api<{ alerts: { id: number; feature: string; severity: string }[] }>(
      '/v1/alerts?status=open',
    );
    const alert = open.alerts.find((a) => a.severity === 'critical') ?? open.alerts[0];
    if (!alert) throw new Error('the demo raised no open alert');

    const page = await browser.context.newPage();
    await page.goto(server.url('/ui/login'));
    await page.getByLabel('API token').fill(REVIEWER);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/ui$/);

    const shots: { name: string; path: string; prepare?: () => Promise<void> }[] = [
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
      { name: 'model', path: '/ui/models/weather' },
      { name: 'feature', path: `/ui/models/weather/features/${encodeURIComponent(alert.feature)}` },
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
