// Every PromQL expression in dashboards/ names only metrics driftwatch exposes. EXPOSED is the list the
// /metrics endpoint was specified with; e2e.test.ts checks it against a real GET /metrics of a running
// driftwatch. prom-client's default metrics are checked against prom-client itself.
import { collectDefaultMetrics, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { dashboardQueries, ruleQueries } from './prometheus.js';

const HISTOGRAMS = [
  'driftwatch_http_request_duration_seconds',
  'driftwatch_model_latency_seconds',
  'driftwatch_predict_duration_seconds',
  'driftwatch_job_duration_seconds',
];
const EXPOSED = new Set([
  ...HISTOGRAMS,
  'driftwatch_ingest_records_total',
  'driftwatch_model_requests_total',
  'driftwatch_feature_psi',
  'driftwatch_feature_ks_statistic',
  'driftwatch_feature_drifted',
  'driftwatch_model_drifted_features',
  'driftwatch_alerts_open',
  'driftwatch_retrain_requests',
  'driftwatch_job_last_success_timestamp_seconds',
  'driftwatch_notification_failures_total',
  'driftwatch_build_info',
  'driftwatch_leader',
]);

/** driftwatch metric names in a PromQL expression, histogram series suffixes stripped. */
function driftwatchMetrics(expr: string): string[] {
  return [...expr.matchAll(/driftwatch_[a-z_]+/g)].map(([name]) => {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    return base !== name && HISTOGRAMS.includes(base) ? base : name;
  });
}

/** prom-client default metric names (process_*, nodejs_*) in a PromQL expression. */
function defaultMetrics(expr: string): string[] {
  return [...expr.matchAll(/\b(?:process|nodejs)_[a-z0-9_]+/g)].map(([name]) => name);
}

async function promClientDefaults(): Promise<Set<string>> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const names = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram')
      for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
  }
  return names;
}

const queries = [...dashboardQueries(), ...ruleQueries()];

describe('metric names in dashboards and rules', () => {
  it('finds the expressions', () => {
    expect(queries.length).toBeGreaterThan(30);
    for (const q of queries) expect(q.expr.trim(), q.where).not.toBe('');
  });

  it('parses names out of expressions', () => {
    expect(
      driftwatchMetrics(
        'histogram_quantile(0.9, sum by (le) (rate(driftwatch_model_latency_seconds_bucket{job="drift"}[5m]))) / driftwatch_model_requests_total',
      ),
    ).toEqual(['driftwatch_model_latency_seconds', 'driftwatch_model_requests_total']);
    // _count is stripped from histograms only
    expect(driftwatchMetrics('driftwatch_ingest_records_count')).toEqual(['driftwatch_ingest_records_count']);
  });

  it.each(queries.map((q) => [q.where, q.expr]))(
    '%s names only exposed driftwatch metrics',
    (_where, expr) => {
      const names = driftwatchMetrics(expr);
      const unknown = names.filter((n) => !EXPOSED.has(n));
      expect(unknown, expr).toEqual([]);
    },
  );

  it('uses only prom-client default metrics that exist', async () => {
    const defaults = await promClientDefaults();
    const used = queries.flatMap((q) => defaultMetrics(q.expr).map((name) => ({ where: q.where, name })));
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((u) => !defaults.has(u.name))).toEqual([]);
  });

  it('every exposed driftwatch metric is on a dashboard', () => {
    const onDashboards = new Set(dashboardQueries().flatMap((q) => driftwatchMetrics(q.expr)));
    expect([...EXPOSED].filter((n) => !onDashboards.has(n))).toEqual([]);
  });

  it('counters are summed and store-wide gauges taken with max()', () => {
    const gauges = [
      'driftwatch_feature_psi',
      'driftwatch_feature_ks_statistic',
      'driftwatch_feature_drifted',
      'driftwatch_model_drifted_features',
      'driftwatch_alerts_open',
      'driftwatch_retrain_requests',
      'driftwatch_job_last_success_timestamp_seconds',
    ];
    for (const q of queries) {
      if (q.expr.startsWith('label_values(')) continue;
      for (const g of gauges) {
        if (!q.expr.includes(g)) continue;
        // the gauge's selector is the argument of max(...) / max by (...) (...)
        expect(q.expr, q.where).toMatch(new RegExp(`\\bmax(?: by \\([^)]*\\) )?\\(${g}[{)]`));
      }
      // counters and histogram series appear only inside rate()/increase(), and each of those inside sum
      const counters = /\bdriftwatch_\w+_(?:total|bucket|count|sum)\b/g;
      const inRate = /\b(?:rate|increase)\(driftwatch_\w+_(?:total|bucket|count|sum)\b/g;
      expect(q.expr.match(inRate)?.length ?? 0, q.where).toBe(q.expr.match(counters)?.length ?? 0);
      const rates = q.expr.match(/\b(?:rate|increase)\(/g)?.length ?? 0;
      const summed = q.expr.match(/\bsum(?: by \([^)]*\) )?\((?:rate|increase)\(/g)?.length ?? 0;
      expect(summed, q.where).toBe(rates);
    }
  });
});
