import type { Hono } from 'hono';
import { alertCounts } from '../../alerts/review.js';
import { heatmap, lineChart, type Series } from '../../charts/index.js';
import { driftSettingsFor } from '../../config/index.js';
import type { ColumnResult } from '../../drift/evaluate.js';
import type { DriftResult, FeatureMax, ResultCells } from '../../drift/service.js';
import { compareShadow } from '../../serving/compare.js';
import { trafficSeries } from '../../traffic/service.js';
import { Ago, Chart, num, pct, pval, SeverityBadge, uiPath, utc } from '../components.js';
import {
  alertSummary,
  chartBucket,
  type DeployMarker,
  deployMarkers,
  featureSeries,
  HEATMAP_FEATURES,
  kindParam,
  listBaselines,
  pickVersion,
  recentCells,
  servedOf,
  versionsOf,
  WINDOW_KINDS,
} from '../data/browse.js';
import { needs, page, type UiContext, type UiEnv } from '../kit.js';

const TREND_FEATURES = 6;
const QUALITY_ROWS = 20;

const t = (iso: string) => Date.parse(iso);

/** The measure a row is sorted by: latest PSI, missing values last. */
const psiOf = (c: ColumnResult | undefined) => c?.psi ?? Number.NEGATIVE_INFINITY;

export function registerModelPage(ui: Hono<UiEnv>): void {
  ui.get('/models/:model', needs('reviewer'), async (c) => {
    const deps = c.get('deps');
    const model = c.req.param('model');
    const now = deps.clock();
    const settings = driftSettingsFor(deps.config, model);
    const version = await pickVersion(deps, model, c.req.query('version'));
    // Every shown window as its summary and the PSI and verdict of the features the heatmap draws; every
    // feature's highest PSI; the newest window whole (its tables list every measure).
    const windows = await recentCells(
      deps,
      model,
      version,
      kindParam(c.req.query('kind')),
      (features, latest) => byLatestPsi(features, latest).slice(0, HEATMAP_FEATURES),
    );
    const latestWhole = windows.latest;
    const [versions, served, baselines, counts] = await Promise.all([
      versionsOf(deps, model),
      servedOf(deps, model),
      listBaselines(deps, model),
      alertCounts(deps, { model }),
    ]);
    const results = windows.results;
    const latest = results[0];
    const oldestFirst = [...results].reverse();
    const markers = deployMarkers(served?.events, baselines);
    const alerts = alertSummary(counts);
    const active = served?.versions.find((v) => v.state === 'active');
    const activeBaselines = baselines.filter((b) => b.active);

    const from = oldestFirst[0] ? t(oldestFirst[0].window.from) : now - 2 * 86_400_000;
    // A model with a baseline but no records yet has no traffic (trafficSeries answers 404).
    const traffic =
      versions.length > 0
        ? await trafficSeries(deps, model, { from, to: now, bucket: chartBucket(deps, model) })
        : null;

    return page(
      c,
      {
        title: `Model ${model}`,
        section: 'models',
        crumbs: [{ href: '/ui', label: 'Overview' }, { label: model }],
      },
      <>
        <div class="cards">
          <div class="card">
            <div class="label">Status</div>
            <div class="value">
              <SeverityBadge severity={alerts.worst ?? 'none'} />
            </div>
            <a href={`/ui/alerts?model=${encodeURIComponent(model)}`}>
              {alerts.inReview.critical} critical, {alerts.inReview.warning} warning awaiting decision
            </a>
          </div>
          <div class="card">
            <div class="label">Served version</div>
            <div class="value">{active?.version ?? '—'}</div>
            <a href={`${uiPath.model(model)}/versions`}>
              {served ? 'Versions and history' : 'not served here'}
            </a>
          </div>
          <div class="card">
            <div class="label">Active baseline</div>
            <div class="value">{activeBaselines.map((b) => `#${b.id}`).join(', ') || '—'}</div>
            <a href={`${uiPath.model(model)}/baselines`}>Baselines</a>
          </div>
          <div class="card">
            <div class="label">Latest window</div>
            <div class="value">{latest ? <Ago at={latest.window.to} now={now} past /> : '—'}</div>
            <span class="muted">
              {latest
                ? `${num(latest.n, 0)} records, evaluated ${utc(latest.evaluated_at)}`
                : 'no drift results yet'}
            </span>
          </div>
        </div>

        <form method="get" class="filters" action={uiPath.model(model)}>
          {versions.length > 1 ? (
            <div>
              <label for="version">Model version</label>
              <select id="version" name="version" data-filter>
                {versions.map((v) => (
                  <option value={v === '' ? '(none)' : v} selected={v === windows.modelVersion}>
                    {v === '' ? '(no version)' : v}
                  </option>
                ))}
              </select>
            </div>
          ) : null}
          <div>
            <label for="kind">Windows</label>
            <select id="kind" name="kind">
              {WINDOW_KINDS.map(([k, label]) => (
                <option value={k} selected={k === windows.kind}>
                  {label}
                </option>
              ))}
            </select>
          </div>
          <button type="submit">Show</button>
        </form>

        {results.length === 0 || latestWhole === null ? (
          <p class="muted">
            No drift results for{' '}
            {windows.modelVersion === '' ? 'this model' : `version ${windows.modelVersion}`} yet.
          </p>
        ) : (
          <DriftSections
            c={c}
            model={model}
            results={results}
            latest={latestWhole}
            features={windows.features}
            kind={windows.kind}
            version={windows.modelVersion}
            markers={markers}
            levels={{ warning: settings.psiWarning, critical: settings.psiCritical }}
          />
        )}

        <h2 id="traffic">Traffic, latency and errors</h2>
        <TrafficCharts traffic={traffic} markers={markers} />

        <h2 id="history">Versions and baselines</h2>
        <div class="grid2">
          <div>
            <h3>Version history</h3>
            {served ? (
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Action</th>
                      <th scope="col">Version</th>
                      <th scope="col">By</th>
                    </tr>
                  </thead>
                  <tbody>
                    {served.events.slice(0, 15).map((e) => (
                      <tr>
                        <td>{utc(e.at)}</td>
                        <td>{e.action}</td>
                        <td>
                          {e.from_version && e.to_version
                            ? `${e.from_version} → ${e.to_version}`
                            : (e.to_version ?? e.from_version ?? '—')}
                        </td>
                        <td>{e.actor}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <p class="muted">
                driftwatch does not serve this model; versions come from the records it sends.
              </p>
            )}
            <p>
              <a href={`${uiPath.model(model)}/versions`}>All versions</a>
            </p>
          </div>
          <div>
            <h3>Baselines</h3>
            {baselines.length === 0 ? (
              <p class="muted">No baseline.</p>
            ) : (
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Baseline</th>
                      <th scope="col">For version</th>
                      <th scope="col">Activated</th>
                    </tr>
                  </thead>
                  <tbody>
                    {baselines.slice(0, 10).map((b) => (
                      <tr>
                        <td>
                          #{b.id} {b.active ? <span class="badge ok">active</span> : null}
                        </td>
                        <td>{b.model_version ?? '(any)'}</td>
                        <td>{utc(b.activated_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <p>
              <a href={`${uiPath.model(model)}/baselines`}>All baselines</a>
            </p>
          </div>
        </div>

        {served?.versions.some((v) => v.state === 'shadow') ? (
          <ShadowSection
            c={c}
            model={model}
            shadows={served.versions.filter((v) => v.state === 'shadow').map((v) => v.version)}
          />
        ) : null}
      </>,
    );
  });
}

/** Feature names by their PSI in the latest window (highest first, missing last), then by name. */
function byLatestPsi(features: readonly FeatureMax[], latest: DriftResult | null): string[] {
  const latestBy = new Map((latest?.features ?? []).map((f) => [f.feature, f]));
  return features
    .map((f) => f.feature)
    .sort((a, b) => psiOf(latestBy.get(b)) - psiOf(latestBy.get(a)) || a.localeCompare(b));
}

function markerOpts(markers: DeployMarker[]) {
  return markers.map((m) => ({ x: m.at, label: m.label }));
}

function DriftSections(props: {
  c: UiContext;
  model: string;
  results: ResultCells[];
  /** The newest of `results`, whole. */
  latest: DriftResult;
  /** Every feature of the windows and its highest PSI in them. */
  features: FeatureMax[];
  kind: string;
  version: string;
  markers: DeployMarker[];
  levels: { warning: number; critical: number };
}) {
  const { model, results, latest, features, markers, levels } = props;
  const oldestFirst = [...results].reverse();
  // Windows are placed at their end in the heatmap as in the trend charts (and "latest window" is its end).
  const columns = oldestFirst.map((r) => t(r.window.to));
  // Every feature any shown window has, ordered by its latest PSI (highest first), then by name.
  const latestBy = new Map(latest.features.map((f) => [f.feature, f]));
  const maxBy = new Map<string, number>();
  for (const f of features) if (f.psi !== null) maxBy.set(f.feature, f.psi);
  const names = byLatestPsi(features, latest);
  const shown = names.slice(0, HEATMAP_FEATURES);
  const cellIndex = oldestFirst.map((r) => new Map(r.features.map((f) => [f.feature, f])));
  const q = props.version === '' ? '' : `?version=${encodeURIComponent(props.version)}`;
  const svg = heatmap({
    width: 1100,
    rowHeight: 16,
    columns,
    columnTime: 'end',
    valueLabel: 'PSI',
    levels,
    title: `PSI per feature and ${props.kind === 'bucket' ? 'bucket' : `${props.kind} window`}`,
    rows: shown.map((name) => ({
      label: name,
      href: `${uiPath.feature(model, name)}${q}`,
      values: cellIndex.map((m) => m.get(name)?.psi ?? null),
      // no verdict: too few values in the window (as the table below says)
      insufficient: cellIndex.map((m) => m.get(name)?.drifted === null),
    })),
  });
  const trend: Series[] = shown.slice(0, TREND_FEATURES).map((name) => ({
    name,
    points: featureSeries(results, name).map((p) => ({
      x: t(p.result.window.to),
      y: p.column.psi ?? Number.NaN,
    })),
  }));
  const prediction = results
    .flatMap((r) => (r.prediction ? [{ result: r, column: r.prediction }] : []))
    .reverse();
  const quality = latest.features
    .map((f) => ({
      f,
      worst: Math.max(
        (f.missing_rate ?? 0) - f.baseline_missing_rate,
        f.type_mismatch_rate ?? 0,
        f.out_of_range_rate ?? 0,
        f.unseen_rate ?? 0,
      ),
    }))
    .filter((x) => x.worst > 0)
    .sort((a, b) => b.worst - a.worst)
    .slice(0, QUALITY_ROWS);

  return (
    <>
      <h2 id="heatmap">Drift by feature and window</h2>
      <Chart
        id="drift-heatmap"
        svg={svg}
        caption={`The ${shown.length} features with the highest latest PSI (of ${names.length}) over the newest ${results.length} windows, oldest at the left, from ${utc(oldestFirst[0]?.window.from ?? null)} to ${utc(latest.window.to)}; columns are labelled by the window’s end (UTC), as the trend below. A dot marks PSI ≥ ${levels.warning}, a triangle ≥ ${levels.critical}; a pale cell with a dash had too few values for a verdict. Hover a cell for its value; the table below lists every feature.`}
      />
      <h2 id="trend">PSI trend of the top features</h2>
      <Chart
        svg={lineChart({
          width: 1100,
          height: 300,
          yLabel: 'PSI',
          title: 'PSI per window, the features with the highest latest PSI',
          series: trend,
          thresholds: [
            { y: levels.warning, label: 'warning' },
            { y: levels.critical, label: 'critical' },
          ],
          markers: markerOpts(markers),
        })}
        caption="Each point is a window, at its end (UTC), as the heatmap's columns. Dotted vertical lines mark version and baseline activations."
      />
      {prediction.length > 0 ? (
        <>
          <h2 id="prediction">Prediction drift</h2>
          <Chart
            svg={lineChart({
              width: 1100,
              height: 240,
              yLabel: 'PSI / KS D',
              title: 'Drift of the predictions per window',
              series: [
                {
                  name: 'PSI',
                  points: prediction.map((p) => ({
                    x: t(p.result.window.to),
                    y: p.column.psi ?? Number.NaN,
                  })),
                },
                {
                  name: 'KS D',
                  dashed: true,
                  points: prediction.map((p) => ({
                    x: t(p.result.window.to),
                    y: p.column.ks_statistic ?? Number.NaN,
                  })),
                },
              ],
              thresholds: [{ y: levels.warning, label: 'PSI warning' }],
              markers: markerOpts(markers),
            })}
          />
          <p>
            Latest window: PSI {num(latest.prediction?.psi)}, KS D {num(latest.prediction?.ks_statistic)},
            adjusted p {pval(latest.prediction?.pvalue_adjusted)}{' '}
            {latest.prediction?.severity ? <SeverityBadge severity={latest.prediction.severity} /> : null}{' '}
            <a href={`${uiPath.feature(model, 'prediction')}${q}`}>Distribution of the predictions</a>
          </p>
        </>
      ) : null}

      <h2 id="quality">Data quality (latest window)</h2>
      {quality.length === 0 && latest.unknown_features.length === 0 ? (
        <p>No missing values beyond the baseline’s, no mistyped, out-of-range or unseen values.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Feature</th>
                <th scope="col" class="num">
                  Missing (baseline)
                </th>
                <th scope="col" class="num">
                  Wrong type
                </th>
                <th scope="col" class="num">
                  Out of range
                </th>
                <th scope="col" class="num">
                  Unseen category
                </th>
              </tr>
            </thead>
            <tbody>
              {quality.map(({ f }) => (
                <tr>
                  <th scope="row">
                    <a href={`${uiPath.feature(model, f.feature)}${q}`}>{f.feature}</a>
                  </th>
                  <td class="num">
                    {pct(f.missing_rate)} ({pct(f.baseline_missing_rate)})
                  </td>
                  <td class="num">{pct(f.type_mismatch_rate)}</td>
                  <td class="num">{pct(f.out_of_range_rate)}</td>
                  <td class="num">{pct(f.unseen_rate)}</td>
                </tr>
              ))}
              {latest.unknown_features.slice(0, QUALITY_ROWS).map((u) => (
                <tr>
                  <th scope="row">{u.feature}</th>
                  <td colspan={4}>
                    not in the baseline: sent by {num(u.records, 0)} records ({pct(u.rate)})
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2 id="features">All features</h2>
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Every feature's measures in the latest window, highest PSI first</caption>
          <thead>
            <tr>
              <th scope="col">Feature</th>
              <th scope="col">Verdict</th>
              <th scope="col" class="num">
                PSI
              </th>
              <th scope="col" class="num">
                Highest PSI shown
              </th>
              <th scope="col" class="num">
                KS D / χ²
              </th>
              <th scope="col" class="num">
                Adjusted p
              </th>
              <th scope="col" class="num">
                Values
              </th>
            </tr>
          </thead>
          <tbody>
            {names.map((name) => {
              const f = latestBy.get(name);
              return (
                <tr data-feature={name}>
                  <th scope="row">
                    <a href={`${uiPath.feature(model, name)}${q}`}>{name}</a>
                  </th>
                  <td>
                    {f?.drifted === null || f === undefined ? (
                      <span class="muted">too few values</span>
                    ) : (
                      <SeverityBadge severity={f.severity ?? 'none'} />
                    )}
                  </td>
                  <td class="num" data-psi={f?.psi ?? ''}>
                    {num(f?.psi)}
                  </td>
                  <td class="num">{num(maxBy.get(name))}</td>
                  <td class="num">
                    {f?.type === 'categorical' ? num(f.chi2_statistic, 1) : num(f?.ks_statistic)}
                  </td>
                  <td class="num">{pval(f?.pvalue_adjusted)}</td>
                  <td class="num">{num(f?.n, 0)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}

function TrafficCharts(props: {
  traffic: Awaited<ReturnType<typeof trafficSeries>> | null;
  markers: DeployMarker[];
}) {
  const { traffic, markers } = props;
  if (!traffic || traffic.buckets.length === 0) return <p class="muted">No traffic in this period.</p>;
  const at = (b: { from: string }) => t(b.from);
  const m = markerOpts(markers);
  const tt = traffic.total;
  return (
    <>
      <p>
        {tt.requests.toLocaleString('en-US')} requests from {utc(traffic.window.from)} to{' '}
        {utc(traffic.window.to)}; latency p50 {num(tt.latency.p50, 1)} ms, p95 {num(tt.latency.p95, 1)} ms;
        error rate {pct(tt.error_rate)}.
      </p>
      <div class="chart-grid">
        <Chart
          svg={lineChart({
            width: 540,
            height: 220,
            yLabel: 'requests',
            title: 'Requests and errors per bucket',
            series: [
              { name: 'requests', points: traffic.buckets.map((b) => ({ x: at(b), y: b.requests })) },
              {
                name: 'errors',
                dashed: true,
                points: traffic.buckets.map((b) => ({ x: at(b), y: b.errors })),
              },
            ],
            markers: m,
          })}
        />
        <Chart
          svg={lineChart({
            width: 540,
            height: 220,
            yLabel: 'ms',
            title: 'Latency per bucket',
            series: [
              {
                name: 'p50',
                points: traffic.buckets.map((b) => ({ x: at(b), y: b.latency.p50 ?? Number.NaN })),
              },
              {
                name: 'p95',
                dashed: true,
                points: traffic.buckets.map((b) => ({ x: at(b), y: b.latency.p95 ?? Number.NaN })),
              },
            ],
            markers: m,
          })}
        />
        <Chart
          svg={lineChart({
            width: 540,
            height: 220,
            yLabel: 'error rate',
            title: 'Error rate per bucket',
            series: [
              {
                name: 'error rate',
                points: traffic.buckets.map((b) => ({ x: at(b), y: b.error_rate ?? Number.NaN })),
              },
            ],
            markers: m,
          })}
        />
      </div>
    </>
  );
}

async function ShadowSection(props: { c: UiContext; model: string; shadows: string[] }) {
  const deps = props.c.get('deps');
  const rows = await Promise.all(
    props.shadows.map(async (v) => {
      try {
        return { v, cmp: await compareShadow(deps, props.model, v, {}), error: null };
      } catch (err) {
        return { v, cmp: null, error: (err as Error).message };
      }
    }),
  );
  return (
    <>
      <h2 id="shadow">Shadow comparisons (last 7 days)</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Shadow version</th>
              <th scope="col">Against</th>
              <th scope="col" class="num">
                Requests
              </th>
              <th scope="col" class="num">
                Shadow errors
              </th>
              <th scope="col" class="num">
                Agreement / mean |Δ|
              </th>
              <th scope="col" class="num">
                Mean latency active / shadow
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ v, cmp, error }) =>
              cmp ? (
                <tr data-shadow={v}>
                  <th scope="row">{v}</th>
                  <td>{cmp.active_version}</td>
                  <td class="num">{num(cmp.requests, 0)}</td>
                  <td class="num">{num(cmp.errors, 0)}</td>
                  <td class="num">
                    {'agreement' in cmp
                      ? pct(cmp.agreement)
                      : num((cmp as { mean_abs_difference: number | null }).mean_abs_difference)}
                  </td>
                  <td class="num">
                    {num(cmp.latency_ms.active_mean, 1)} / {num(cmp.latency_ms.shadow_mean, 1)} ms
                  </td>
                </tr>
              ) : (
                <tr>
                  <th scope="row">{v}</th>
                  <td colspan={5}>{error}</td>
                </tr>
              ),
            )}
          </tbody>
        </table>
      </div>
      <p>
        <a href={`${uiPath.model(props.model)}/versions`}>Promote or stop a shadow</a> (admins).
      </p>
    </>
  );
}
