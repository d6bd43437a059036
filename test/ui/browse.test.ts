import { afterEach, describe, expect, it } from 'vitest';
import { hour, type MApp, MIN, setupM, TOKENS } from '../alerts/helpers.js';
import { FIXED_NOW } from '../support.js';
import { browser, textOf } from './browser-helper.js';

// The overview, model and feature pages, through app.request on data made by the real ingest, baseline and
// drift tick: the numbers on the pages are the stored ones.

let m: MApp;
afterEach(async () => {
  await m?.t.close();
});

/** Model m: hours 6–9 ingested, 8 and 9 shifted (x in its top decile), then the drift tick. */
async function seeded(auth = true) {
  m = await setupM({}, auth);
  await m.window('a', hour(6), 0, FIXED_NOW + MIN);
  await m.window('b', hour(7), 0);
  await m.window('c', hour(8), 0.6);
  await m.window('d', hour(9), 0.6);
  await m.tick(FIXED_NOW + 10 * MIN);
  const b = browser(m.t.app);
  if (auth) await b.signIn(TOKENS.reviewer);
  return b;
}

interface Result {
  window: { from: string; to: string };
  features: { feature: string; psi: number | null; ks_statistic: number | null }[];
}

async function bucketResults(): Promise<Result[]> {
  const res = await m.admin.get<{ results: Result[] }>('/v1/models/m/drift?kind=bucket&limit=100');
  expect(res.status).toBe(200);
  return res.body.results;
}

describe('overview', () => {
  it('lists the model with its status, alerts, baseline, traffic and last drift run', async () => {
    const b = await seeded();
    const html = await b.html('/ui');
    const row = /<tr data-model="m">([\s\S]*?)<\/tr>/.exec(html)?.[1] ?? '';
    expect(row).toContain('href="/ui/models/m"');
    const alerts = await m.admin.alerts();
    const open = alerts.filter((a) => a.status === 'open');
    const critical = open.filter((a) => a.severity === 'critical').length;
    expect(critical).toBeGreaterThan(0);
    // status is the worst open severity, written out (not colour alone)
    expect(textOf(row)).toContain('▲critical');
    expect(row).toContain('href="/ui/alerts?model=m"');
    expect(textOf(row)).toContain(`${critical} critical, ${open.length - critical} warning`);
    expect(row).toContain(`#${m.baselineId}`);
    // 800 records in the last 24 hours, no latency reported, no errors
    expect(textOf(row)).toContain('800');
    expect(textOf(row)).toContain('0.0 %');
    expect(row).toContain('<svg');
    // the tick ran at FIXED_NOW + 10 min; the clock is still there
    expect(row).toMatch(/<time datetime="[^"]+"[^>]*>0 s ago<\/time>/);
    expect(html).toContain('No jobs run in this process');
  });

  it('shows job health when jobs run in the process', async () => {
    const b = await seeded(false);
    m.t.deps.jobs = {
      leader: () => true,
      status: () => [
        {
          name: 'drift',
          schedule: '*/5 * * * *',
          timezone: null,
          running: false,
          last_start: '2026-11-24T11:55:00.000Z',
          last_success: '2026-11-24T11:50:00.000Z',
          last_error: 'database is locked',
          last_error_at: '2026-11-24T11:55:00.000Z',
          last_duration_ms: 20,
          next_run: '2026-11-24T12:15:00.000Z',
        },
      ],
    };
    const html = await b.html('/ui');
    const text = textOf(html);
    expect(text).toContain('This process is the job leader');
    const row = textOf(/<tr data-job="drift">([\s\S]*?)<\/tr>/.exec(html)?.[1] ?? '');
    expect(row).toContain('failing');
    expect(row).toContain('database is locked');
    expect(row).toContain('in 5 min');
  });

  it('sends a browser without a session to sign in', async () => {
    m = await setupM({}, true);
    const res = await browser(m.t.app).request('/ui/models/m');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/ui/login?next=%2Fui%2Fmodels%2Fm');
  });
});

describe('model page', () => {
  it('draws the heatmap with a cell per feature and window holding the stored PSI', async () => {
    const b = await seeded();
    const html = await b.html('/ui/models/m');
    const results = await bucketResults();
    expect(results).toHaveLength(4);
    const heat = /<figure class="chart" id="drift-heatmap">([\s\S]*?)<\/figure>/.exec(html)?.[1] ?? '';
    expect(heat).toContain('role="img"');
    for (const r of results) {
      for (const f of r.features) {
        // columns are the windows' ends, as the trend's points
        const when = `${r.window.to.slice(0, 16).replace('T', ' ')} UTC`;
        expect(heat).toContain(`data-cell="${f.psi}"`);
        expect(heat).toContain(`${f.feature}, window ending ${when}: PSI`);
      }
    }
    // rows link to the feature pages, the shifted feature first (highest latest PSI)
    expect(heat).toContain('href="/ui/models/m/features/x"');
    const rows = [...heat.matchAll(/data-row-label="([^"]+)"/g)].map((r) => r[1]);
    expect(rows).toEqual(['x', 'color']);
    // the table lists every feature with its latest PSI
    const latest = results[0]?.features.find((f) => f.feature === 'x');
    const row = /<tr data-feature="x">([\s\S]*?)<\/tr>/.exec(html)?.[1] ?? '';
    expect(row).toContain(`data-psi="${latest?.psi}"`);
    expect(textOf(row)).toContain('▲critical');
  });

  it('marks version and baseline activations on the charts and lists the history', async () => {
    const b = await seeded();
    // a second baseline, activated at 08:30: a deploy marker inside the charts' range
    m.t.setNow(hour(8) + 30 * MIN);
    const second = await m.admin.baseline(
      'm',
      JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ x: i % 200, color: 'red' }))),
      'application/json',
      { activate: 'true' },
    );
    m.t.setNow(FIXED_NOW + 20 * MIN);
    const html = await b.html('/ui/models/m');
    expect(html).toContain(`data-role="marker"`);
    expect(html).toContain(`baseline ${second.id}`);
    expect(textOf(html)).toContain(`#${second.id} active`);
    expect(html).toContain('href="/ui/models/m/baselines"');
    expect(html).toContain('Requests and errors per bucket');
  });

  it('answers 404 for a model it does not know', async () => {
    const b = await seeded();
    const res = await b.request('/ui/models/nope');
    expect(res.status).toBe(404);
    expect(textOf(await res.text())).toContain('model nope has sent no records and has no baseline');
  });
});

describe('feature page', () => {
  it('shows the histogram overlay, both CDFs with D marked, the stats and the trend', async () => {
    const b = await seeded();
    const html = await b.html('/ui/models/m/features/x');
    const results = await bucketResults();
    const latest = results[0]?.features.find((f) => f.feature === 'x');
    const hist = await m.admin.get<{
      bins: { label: string; baseline: number; window: number }[];
      n: number;
    }>(`/v1/models/m/features/x/histogram?from=${results[0]?.window.from}&to=${results[0]?.window.to}`);
    expect(hist.status).toBe(200);
    expect(hist.body.n).toBe(200);
    const overlay = /<figure class="chart" id="histogram">([\s\S]*?)<\/figure>/.exec(html)?.[1] ?? '';
    expect(overlay.match(/data-bin="/g)).toHaveLength(hist.body.bins.length);
    const cdf = /<figure class="chart" id="cdf">([\s\S]*?)<\/figure>/.exec(html)?.[1] ?? '';
    const d = Number(/data-role="ks" data-d="([^"]+)"/.exec(cdf)?.[1]);
    // the binned D: the largest gap of the cumulative shares at the bin edges
    let cb = 0;
    let cc = 0;
    let best = 0;
    for (const bin of hist.body.bins) {
      cb += bin.baseline;
      cc += bin.window;
      best = Math.max(best, Math.abs(cb - cc));
    }
    expect(d).toBeCloseTo(best, 9);
    expect(cdf).toMatch(/>D = [\d.]+<\/text>/);
    // measures of the latest window, as stored
    const text = textOf(html);
    expect(text).toContain(`PSI ${latest?.psi?.toFixed(3)}`);
    expect(text).toContain(`KS statistic (D) ${latest?.ks_statistic?.toFixed(3)}`);
    expect(text).toContain('PSI warning 0.100');
    expect(text).toContain('PSI critical 0.250');
    expect(text).toContain('the model’s drift settings');
    expect(html).toContain('PSI of x per window');
    // a row per window, each linking to that window
    expect(html.match(/href="\/ui\/models\/m\/features\/x\?from=/g)).toHaveLength(4);
  });

  it('selects a window from the query and shows its own numbers', async () => {
    const b = await seeded();
    const results = await bucketResults();
    const oldest = results.at(-1) as Result;
    const x = oldest.features.find((f) => f.feature === 'x');
    const html = await b.html(`/ui/models/m/features/x?from=${oldest.window.from}&to=${oldest.window.to}`);
    const text = textOf(html);
    expect(text).toContain(
      `Window ${oldest.window.from.slice(0, 16).replace('T', ' ')} – ${oldest.window.to.slice(11, 16)} UTC`,
    );
    expect(text).toContain(`PSI ${x?.psi?.toFixed(3)}`);
    expect(html).toContain('aria-current="true"');
  });

  it('shows category shares without a CDF for a categorical feature, and 404 for an unknown one', async () => {
    const b = await seeded();
    const html = await b.html('/ui/models/m/features/color');
    expect(html).toContain('data-bin="red"');
    expect(html).not.toContain('id="cdf"');
    expect(textOf(html)).toContain('χ² statistic');
    expect((await b.request('/ui/models/m/features/nope')).status).toBe(404);
  });
});
