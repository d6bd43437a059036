import type { Hono } from 'hono';
import { cdfChart, cdfDistance, histogramOverlay, lineChart } from '../../charts/index.js';
import { driftSettingsFor } from '../../config/index.js';
import type { ColumnResult } from '../../drift/evaluate.js';
import { type FeatureHistogram, featureHistogram, requireFeature } from '../../drift/service.js';
import { ApiError } from '../../errors.js';
import { binLabel } from '../../reports/render.js';
import { featureThresholds } from '../../thresholds/service.js';
import { Chart, num, pct, pval, SeverityBadge, span, uiPath } from '../components.js';
import {
  deployMarkers,
  featureSeries,
  kindParam,
  listBaselines,
  pickVersion,
  recentWindows,
  servedOf,
} from '../data/browse.js';
import { needs, page, type UiEnv } from '../kit.js';

const t = (iso: string) => Date.parse(iso);

/** A time from the query: ms since the epoch or an ISO date; undefined when absent or unreadable. */
function timeParam(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Cumulative shares at the upper edge of each numeric bin; the open outer bins get an edge one bin-width out. */
export function cdfPoints(h: FeatureHistogram): {
  baseline: { x: number; y: number }[];
  current: { x: number; y: number }[];
} {
  const edges = h.bins.map((b) => b.upper).filter((u): u is number => typeof u === 'number');
  if (h.type !== 'numeric' || edges.length === 0) return { baseline: [], current: [] };
  const first = edges[0] as number;
  const last = edges.at(-1) as number;
  const width = edges.length > 1 ? (last - first) / (edges.length - 1) : Math.abs(first) || 1;
  const baseline: { x: number; y: number }[] = [];
  const current: { x: number; y: number }[] = [];
  let cb = 0;
  let cc = 0;
  for (const b of h.bins) {
    cb += b.baseline;
    cc += b.window;
    const x = typeof b.upper === 'number' ? b.upper : last + width;
    baseline.push({ x, y: cb });
    current.push({ x, y: h.n === 0 ? Number.NaN : cc });
  }
  return { baseline, current: current.filter((p) => Number.isFinite(p.y)) };
}

export function registerFeaturePage(ui: Hono<UiEnv>): void {
  ui.get('/models/:model/features/:feature', needs('reviewer'), async (c) => {
    const deps = c.get('deps');
    const model = c.req.param('model');
    const feature = c.req.param('feature');
    const settings = driftSettingsFor(deps.config, model);
    const version = await pickVersion(deps, model, c.req.query('version'));
    const windows = await recentWindows(
      deps,
      model,
      version,
      kindParam(c.req.query('kind')),
      undefined,
      feature,
    );
    await requireFeature(deps, model, feature);
    const thresholds = await featureThresholds(deps, model, feature);
    const series = featureSeries(windows.results, feature);
    const askedFrom = timeParam(c.req.query('from'));
    const askedTo = timeParam(c.req.query('to'));
    const selected =
      askedFrom !== undefined || askedTo !== undefined
        ? series.find((s) => t(s.result.window.from) === askedFrom && t(s.result.window.to) === askedTo)
        : series.at(-1);
    const range = selected
      ? { from: t(selected.result.window.from), to: t(selected.result.window.to) }
      : { from: askedFrom, to: askedTo };
    let histogram: FeatureHistogram | null = null;
    let histogramError: string | null = null;
    try {
      histogram = await featureHistogram(deps, model, feature, {
        ...(range.from !== undefined ? { from: range.from } : {}),
        ...(range.to !== undefined ? { to: range.to } : {}),
        modelVersion: version,
      });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      histogramError = err.message;
    }
    const [served, baselines] = await Promise.all([servedOf(deps, model), listBaselines(deps, model)]);
    const markers = deployMarkers(served?.events, baselines).map((m) => ({ x: m.at, label: m.label }));
    const column = selected?.column;
    const q = (extra: Record<string, string>) => {
      const p = new URLSearchParams({ ...(version === '' ? {} : { version }), ...extra });
      const s = p.toString();
      return s ? `?${s}` : '';
    };
    const cdf = histogram ? cdfPoints(histogram) : null;
    const binnedD =
      cdf && cdf.baseline.length > 0 && cdf.current.length > 0
        ? cdfDistance({ name: 'b', points: cdf.baseline }, { name: 'c', points: cdf.current })
        : null;

    return page(
      c,
      {
        title: `${feature} · ${model}`,
        section: 'models',
        crumbs: [
          { href: '/ui', label: 'Overview' },
          { href: `${uiPath.model(model)}${q({})}`, label: model },
          { label: feature },
        ],
      },
      <>
        <p>
          {histogram ? (
            <>
              Window {span(histogram.window.from, histogram.window.to)}
              {version === '' ? '' : `, version ${version}`}, against baseline #{histogram.baseline_id}
              {column ? (
                <>
                  :{' '}
                  <SeverityBadge severity={column.drifted === null ? 'none' : (column.severity ?? 'none')} />
                  {column.drifted === null ? (
                    <span class="muted"> (too few values for a verdict)</span>
                  ) : null}
                </>
              ) : null}
            </>
          ) : (
            histogramError
          )}
        </p>
        {(askedFrom !== undefined || askedTo !== undefined) && !selected ? (
          <p class="notice warn">
            No stored drift result for exactly this window; the distribution is computed for it, the measures
            are not.
          </p>
        ) : null}

        {histogram ? (
          <div class="chart-grid">
            <Chart
              id="histogram"
              svg={histogramOverlay({
                width: 560,
                height: 280,
                title: `${feature}: share per ${histogram.type === 'numeric' ? 'bin' : 'category'}`,
                bins: histogram.bins.map((b) => ({
                  label: binLabel(b),
                  baseline: b.baseline,
                  current: b.window,
                })),
                names: { baseline: 'Baseline', current: 'This window' },
              })}
              caption={`${num(histogram.n, 0)} values in the window.`}
            />
            {cdf && cdf.baseline.length > 0 ? (
              <Chart
                id="cdf"
                svg={cdfChart({
                  width: 560,
                  height: 280,
                  title: `${feature}: cumulative share`,
                  xLabel: feature,
                  baseline: { name: 'Baseline', points: cdf.baseline },
                  current: { name: 'This window', points: cdf.current },
                })}
                caption={`The red segment marks the largest distance between the two curves at the bin edges (D = ${num(binnedD?.d)}); the KS statistic in the table is computed on the finer grid.`}
              />
            ) : null}
          </div>
        ) : null}

        <div class="grid2">
          <div>
            <h2 id="stats">Measures</h2>
            {column ? (
              <Stats column={column} />
            ) : (
              <p class="muted">No drift result for this feature in the window.</p>
            )}
          </div>
          <div>
            <h2 id="thresholds">Thresholds in force</h2>
            <dl class="facts">
              <dt>PSI warning</dt>
              <dd>{num(column?.psi_warning ?? thresholds.psiWarning)}</dd>
              <dt>PSI critical</dt>
              <dd>{num(thresholds.psiCritical)}</dd>
              <dt>Significance (α)</dt>
              <dd>{num(thresholds.alpha)}</dd>
              <dt>Set by</dt>
              <dd>
                {thresholds.source === 'override'
                  ? `an override by ${thresholds.setBy ?? 'someone'}${thresholds.reason ? `: ${thresholds.reason}` : ''}`
                  : thresholds.source === 'config'
                    ? 'the feature’s configuration'
                    : 'the model’s drift settings'}
              </dd>
              <dt>Minimum values for a verdict</dt>
              <dd>{settings.minSamples}</dd>
            </dl>
          </div>
        </div>

        <h2 id="trend">PSI trend</h2>
        <Chart
          svg={lineChart({
            width: 1100,
            height: 260,
            yLabel: 'PSI',
            title: `PSI of ${feature} per window`,
            series: [
              {
                name: feature,
                points: series.map((s) => ({ x: t(s.result.window.to), y: s.column.psi ?? Number.NaN })),
              },
            ],
            thresholds: [
              { y: thresholds.psiWarning, label: 'warning' },
              { y: thresholds.psiCritical, label: 'critical' },
            ],
            markers,
          })}
          caption="Each point is a window, at its end (UTC). Dotted vertical lines mark version and baseline activations."
        />

        <h2 id="windows">Windows</h2>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Window</th>
                <th scope="col">Verdict</th>
                <th scope="col" class="num">
                  PSI
                </th>
                <th scope="col" class="num">
                  KS D
                </th>
                <th scope="col" class="num">
                  Adjusted p
                </th>
                <th scope="col" class="num">
                  Missing
                </th>
                <th scope="col" class="num">
                  Values
                </th>
              </tr>
            </thead>
            <tbody>
              {[...series].reverse().map((s) => {
                const isSel = s === selected;
                return (
                  <tr class={isSel ? 'selected' : undefined}>
                    <th scope="row">
                      <a
                        href={`${uiPath.feature(model, feature)}${q({ from: s.result.window.from, to: s.result.window.to })}`}
                        aria-current={isSel ? 'true' : undefined}
                      >
                        {span(s.result.window.from, s.result.window.to)}
                      </a>
                    </th>
                    <td>
                      {s.column.drifted === null ? (
                        <span class="muted">too few values</span>
                      ) : (
                        <SeverityBadge severity={s.column.severity ?? 'none'} />
                      )}
                    </td>
                    <td class="num">{num(s.column.psi)}</td>
                    <td class="num">{num(s.column.ks_statistic)}</td>
                    <td class="num">{pval(s.column.pvalue_adjusted)}</td>
                    <td class="num">{pct(s.column.missing_rate)}</td>
                    <td class="num">{num(s.column.n, 0)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </>,
    );
  });
}

function Stats(props: { column: ColumnResult }) {
  const f = props.column;
  const rows: [string, string][] = [
    ['PSI', num(f.psi)],
    ...(f.type === 'numeric'
      ? ([
          ['KS statistic (D)', num(f.ks_statistic)],
          ['KS p-value', pval(f.ks_pvalue)],
          ['Wasserstein (normalised)', num(f.wasserstein_normed)],
        ] as [string, string][])
      : ([
          ['χ² statistic', num(f.chi2_statistic, 2)],
          ['χ² p-value', pval(f.chi2_pvalue)],
        ] as [string, string][])),
    ['Jensen–Shannon', num(f.js)],
    ['Adjusted p-value (Benjamini–Hochberg)', pval(f.pvalue_adjusted)],
    ['Values used', num(f.n, 0)],
    ['Records with the column', num(f.records, 0)],
    ['Missing (baseline)', `${pct(f.missing_rate)} (${pct(f.baseline_missing_rate)})`],
    ['Wrong type', pct(f.type_mismatch_rate)],
    [
      f.type === 'numeric' ? 'Out of the baseline range' : 'Unseen categories',
      pct(f.type === 'numeric' ? f.out_of_range_rate : f.unseen_rate),
    ],
  ];
  return (
    <div class="table-wrap">
      <table>
        <tbody>
          {rows.map(([k, v]) => (
            <tr>
              <th scope="row">{k}</th>
              <td class="num" data-stat={k}>
                {v}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
