import { describe, expect, it } from 'vitest';
import { MAX_IMAGES, reportCharts } from '../../src/reports/charts.js';
import type { ModelReport, ReportContent } from '../../src/reports/content.js';
import { inlineImages, renderHtml, renderText } from '../../src/reports/render.js';

// The report's charts from gathered content (no store): which images, how many at most, their alt text,
// and the HTML and text without them.

const T0 = Date.parse('2026-11-23T07:00:00Z');
const HOUR = 3_600_000;

function model(name: string, drifting: boolean): ModelReport {
  const bins = [
    { label: '[-inf, 5)', lower: null, upper: 5, baseline: 0.5, window: 0.2 },
    { label: '[5, inf)', lower: 5, upper: null, baseline: 0.5, window: 0.8 },
  ];
  return {
    model: name,
    activeVersion: null,
    traffic: {
      requests: 48,
      errors: 1,
      error_rate: 1 / 48,
      latency: { count: 48, p50: 20, p95: 40, p99: 50, mean: 22 },
    },
    drift: {
      modelVersion: 'v1',
      kind: 'rolling',
      window: { from: '2026-11-24T01:00:00Z', to: '2026-11-24T07:00:00Z' },
      n: 300,
      drifted: drifting,
      minSamples: 200,
    },
    status: drifting ? 'drifting' : 'ok',
    drifting,
    features: ['a', 'b', 'c', 'd'].map((f) => ({
      feature: f,
      psi: 0.4,
      previousPsi: null,
      change: null,
      drifted: drifting,
      severity: drifting ? 'critical' : 'none',
    })),
    alerts: [],
    alertsBySeverity: { critical: 0, warning: 0 },
    retrain: [],
    charts: {
      psiTrend: ['a', 'b', 'c'].map((f) => ({
        feature: f,
        points: [0, 1, 2].map((i) => ({ t: T0 + (i + 6) * HOUR, psi: 0.1 * (i + 1) })),
      })),
      trendKind: 'rolling',
      psiWarning: 0.1,
      psiCritical: 0.25,
      traffic: Array.from({ length: 24 }, (_, i) => ({
        t: T0 + i * HOUR,
        requests: 2,
        errorRate: 0,
        p95: 40,
      })),
      histograms: drifting
        ? ['a', 'b', 'c'].map((feature) => ({
            model: name,
            model_version: 'v1',
            baseline_id: 1,
            feature,
            type: 'numeric' as const,
            window: { from: '2026-11-24T01:00:00Z', to: '2026-11-24T07:00:00Z' },
            n: 300,
            bins,
          }))
        : [],
    },
  };
}

const content = (models: ModelReport[]): ReportContent => ({
  schedule: 'daily',
  timezone: 'UTC',
  slot: T0 + 24 * HOUR,
  period: { from: T0, to: T0 + 24 * HOUR },
  models,
  unknownModels: [],
  drifting: models.filter((m) => m.drifting).length,
});

describe('report charts', () => {
  it('draws a trend and a sparkline per model and a histogram per drifted feature, with alt text', async () => {
    const c = content([model('fraud', true), model('iris', false)]);
    const images = await reportCharts(c);
    expect(images.map((i) => i.cid)).toEqual([
      'trend-0@driftwatch',
      'traffic-0@driftwatch',
      'hist-0-0@driftwatch',
      'hist-0-1@driftwatch',
      'hist-0-2@driftwatch',
      'trend-1@driftwatch',
      'traffic-1@driftwatch',
    ]);
    for (const i of images) expect([...i.content.subarray(1, 4)]).toEqual([0x50, 0x4e, 0x47]);
    expect(images[2]?.alt).toBe(
      'Distribution of a (fraud), baseline vs current window; largest shift: ≥ 5: 50.0% in the baseline, 80.0% now',
    );
    expect(images[0]?.alt).toContain('latest: a 0.3, b 0.3, c 0.3; warning at 0.1, critical at 0.25');

    // Without images the facts stay: the HTML names each largest shift, the text too.
    const html = renderHtml(c, images);
    expect(html).toContain('<li>a: ≥ 5: 50.0% in the baseline, 80.0% now</li>');
    for (const i of images) expect(html).toContain(`src="cid:${i.cid}" alt="`);
    expect(renderText(c)).toContain('  a, largest shift: ≥ 5: 50.0% in the baseline, 80.0% now');
    // For a file: every cid becomes a data: URI of the same PNG.
    const file = inlineImages(html, images);
    expect(file).not.toContain('cid:');
    expect(file).toContain(`src="data:image/png;base64,${images[0]?.content.toString('base64')}"`);
  });

  it(`keeps at most ${MAX_IMAGES} images, drifting models first`, async () => {
    const many = Array.from({ length: 12 }, (_, i) => model(`m${i}`, true));
    const images = await reportCharts(content(many));
    expect(images).toHaveLength(MAX_IMAGES);
    // 5 per drifting model: the first four models whole, then the fifth's first four.
    expect(images.at(-1)?.cid).toBe('hist-4-1@driftwatch');
  });
});
