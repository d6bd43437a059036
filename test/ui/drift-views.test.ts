import { afterEach, describe, expect, it } from 'vitest';
import type { AlertView } from '../../src/alerts/types.js';
import { hour, type MApp, MIN, mBatch, setupM, TOKENS } from '../alerts/helpers.js';
import { FIXED_NOW } from '../support.js';
import { browser, textOf } from './browser-helper.js';

// What the model and alert pages say about drift in words and pictures: bin edges as the email writes
// them, the largest shift, the version a rollback activated, the version a model page opens on, and
// windows with too few values.

let m: MApp | undefined;
afterEach(async () => {
  await m?.t.close();
  m = undefined;
});

/** Model m with a critical drift alert on x from hour 8 (unversioned), signed in as a reviewer. */
async function withAlert() {
  m = await setupM({}, true);
  await m.window('a', hour(8), 0.6, FIXED_NOW + MIN);
  await m.tick(FIXED_NOW + 2 * MIN);
  const alert = await m.reviewer.alertOf('x');
  const b = browser(m.t.app);
  await b.signIn(TOKENS.reviewer);
  return { m, b, alert };
}

/**
 * Model m as if driftwatch served it: versions v1 then v2 activated (the audit trail says so), v3 in
 * shadow. v2 sends 200 shifted records in hour 8, the shadow v3 a few later ones in hour 9.
 */
async function servedM() {
  m = await setupM({}, true);
  const mm = m;
  await mm.t.store.tx(async (tx) => {
    for (const [i, version] of ['v1', 'v2', 'v3'].entries()) {
      await tx.serving.register({
        model: 'm',
        version,
        state: 'registered',
        manifest: JSON.stringify({ created_at: new Date(hour(1 + i)).toISOString() }),
        sha256: `sha-${version}`,
        sizeBytes: 1,
        registeredAt: hour(1 + i),
        registeredBy: 'root',
        activatedAt: null,
        baselineId: null,
        onnx: Buffer.from('not a model'),
      });
    }
    await tx.serving.activate('m', 'v1', hour(2));
    await tx.serving.addEvent({
      model: 'm',
      at: hour(2),
      actor: 'root',
      action: 'activate',
      fromVersion: null,
      toVersion: 'v1',
      note: null,
    });
    await tx.serving.activate('m', 'v2', hour(4));
    await tx.serving.addEvent({
      model: 'm',
      at: hour(4),
      actor: 'root',
      action: 'activate',
      fromVersion: 'v1',
      toVersion: 'v2',
      note: null,
    });
    await tx.serving.setState('m', 'v3', 'shadow');
  });
  mm.t.setNow(FIXED_NOW + MIN);
  await mm.admin.ingest(mBatch('two', hour(8), 0.6, 200, { model_version: 'v2' }));
  mm.t.setNow(FIXED_NOW + 2 * MIN);
  await mm.admin.ingest(mBatch('three', hour(9), 0, 8, { model_version: 'v3' }));
  await mm.tick(FIXED_NOW + 3 * MIN);
  const b = browser(mm.t.app);
  await b.signIn(TOKENS.reviewer);
  return { m: mm, b };
}

const figure = (html: string, id: string) =>
  new RegExp(`<figure class="chart" id="${id}">([\\s\\S]*?)</figure>`).exec(html)?.[1] ?? '';

describe('alert page', () => {
  it('writes bin edges rounded as the email does, in full, and says in words which bin moved most', async () => {
    const { m, b, alert } = await withAlert();
    const api = await m.reviewer.alert(alert.id);
    const bins = (api.histogram?.bins ?? []) as {
      lower: number | null;
      upper: number | null;
      baseline: number;
      window: number;
    }[];
    // the stored edges are long floats (19.900000000000006); the page shows three significant digits
    expect(bins.some((x) => String(x.upper).length > 10)).toBe(true);
    const html = await b.html(`/ui/alerts/${alert.id}`);
    const svg = figure(html, 'chart-histogram');
    expect(svg).not.toMatch(/\d\.\d{5,}/);
    const labels = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((t) => t[1]);
    const p3 = (v: number | null) => String(Number((v as number).toPrecision(3)));
    for (const bin of bins.slice(1, -1)) expect(labels).toContain(`[${p3(bin.lower)}, ${p3(bin.upper)})`);
    expect(labels).toContain(`&lt; ${p3(bins[0]?.upper ?? null)}`);
    // the largest shift, as the critical-alert email words it
    const best = [...bins].sort(
      (p, q) => Math.abs(q.window - q.baseline) - Math.abs(p.window - p.baseline),
    )[0] as (typeof bins)[number];
    expect(best.upper).toBeNull();
    const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
    expect(textOf(html)).toContain(
      `Largest shift in the latest window: ≥ ${p3(best.lower)}: ${pct(best.baseline)} in the baseline, ${pct(best.window)} now.`,
    );
  });

  it('names the version a rollback decision activated in the audit trail', async () => {
    const { m, b } = await servedM();
    const alert = (await m.reviewer.alerts()).find(
      (a) => a.feature === 'x' && a.kind === 'drift' && a.model_version === 'v2',
    ) as AlertView;
    const res = await m.reviewer.act<{ rollback: { status: string; to_version: string } }>(
      alert.id,
      'decision',
      { decision: 'rollback', note: 'v2 is broken' },
      alert.version,
    );
    expect(res.status).toBe(200);
    expect(res.body.rollback).toMatchObject({ status: 'activated', to_version: 'v1' });
    const trail = /<ol class="trail">([\s\S]*?)<\/ol>/.exec(await b.html(`/ui/alerts/${alert.id}`))?.[1];
    expect(textOf(trail ?? '')).toContain('decision: rollback: activated version v1 from v2');
  });
});

describe('model page', () => {
  it('opens on the served version, not on a shadow that sent the latest few records', async () => {
    const { m, b } = await servedM();
    expect(await m.t.store.read((tx) => tx.models.latestVersion('m'))).toBe('v3');
    const html = await b.html('/ui/models/m');
    const selected = /<option value="([^"]+)" selected/.exec(html)?.[1];
    expect(selected).toBe('v2');
    // the heatmap and table are v2's: its 200 records in the latest window
    expect(textOf(html)).toContain('200 records');
    const other = await b.html('/ui/models/m?version=v3');
    expect(/<option value="([^"]+)" selected/.exec(other)?.[1]).toBe('v3');
  });

  it('draws windows with too few values neutral, labels columns by window end as the trend', async () => {
    m = await setupM({}, true);
    // hour 6: 40 shifted records (below minSamples 100, no verdict); hour 7: 200 shifted ones
    await m.window('few', hour(6), 0.6, FIXED_NOW + MIN, 40);
    await m.window('many', hour(7), 0.6);
    await m.tick(FIXED_NOW + 10 * MIN);
    const b = browser(m.t.app);
    await b.signIn(TOKENS.reviewer);
    const results = (
      await m.admin.get<{
        results: {
          window: { from: string; to: string };
          features: { feature: string; psi: number; drifted: boolean | null }[];
        }[];
      }>('/v1/models/m/drift?kind=bucket&limit=10')
    ).body.results;
    const few = results.find((r) => r.window.from === new Date(hour(6)).toISOString());
    const judged = results.find((r) => r.window.from === new Date(hour(7)).toISOString());
    const fx = few?.features.find((f) => f.feature === 'x');
    const jx = judged?.features.find((f) => f.feature === 'x');
    expect(fx?.drifted).toBeNull();
    expect(jx?.drifted).toBe(true);
    expect(fx?.psi).toBeGreaterThan(0.25);

    const heat = figure(await b.html('/ui/models/m'), 'drift-heatmap');
    const cell = (psi: number | undefined) =>
      new RegExp(`<g data-cell="${psi}"[^>]*>([\\s\\S]*?)</g>`).exec(heat)?.[0] ?? '';
    const fill = (g: string) => /<rect[^>]*fill="([^"]+)"/.exec(g)?.[1];
    const thin = cell(fx?.psi);
    const red = cell(jx?.psi);
    expect(thin).toContain('data-insufficient="true"');
    expect(fill(red)).toBe('#cf222e');
    expect(fill(thin)).not.toBe(fill(red));
    expect(fill(thin)).not.toBe('#d4a72c');
    expect(thin).toContain('too few values for a verdict');
    expect(heat).toContain('insufficient data (too few values)');
    // columns are windows' ends, as the trend's points
    const to = (r: typeof few) => `${r?.window.to.slice(0, 16).replace('T', ' ')} UTC`;
    expect(thin).toContain(`x, window ending ${to(few)}: PSI`);
  });
});
