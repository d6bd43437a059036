import { alertCounts } from '../../alerts/review.js';
import { type BaselineView, listBaselines } from '../../baselines/service.js';
import { driftSettingsFor } from '../../config/index.js';
import type { AppDeps, JobStatusView } from '../../context.js';
import {
  type DriftResult,
  driftSeries,
  driftSummaries,
  type FeatureMax,
  lastRun,
  type ResultCells,
  windowCells,
} from '../../drift/service.js';
import { ApiError } from '../../errors.js';
import { latestVersion, listModels } from '../../models/service.js';
import {
  listVersions,
  type ModelEventView,
  type ServedVersionView,
  servedVersions,
} from '../../serving/versions.js';
import type { AlertCount, WindowKind } from '../../store/index.js';
import { type TrafficView, trafficSeries } from '../../traffic/service.js';

// What the overview, model and feature pages show, gathered from the services the API calls. Bounded:
// a page reads at most MAX_WINDOWS drift results, whatever the history holds.

type Deps = AppDeps;

const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
/** Drift results (windows) a model or feature page reads and draws. */
export const MAX_WINDOWS = 48;
/** Features drawn in the heatmap, the worst by latest PSI; the others are listed in a table. */
export const HEATMAP_FEATURES = 30;

/** Open means still in review: open or acknowledged (snoozed and decided ones wait for nobody). */
const IN_REVIEW = new Set(['open', 'acknowledged']);

export interface ModelOverview {
  model: string;
  records: number;
  lastReceivedAt: string;
  activeVersion: string | null;
  shadowVersions: string[];
  activeBaselines: { id: number; modelVersion: string | null }[];
  /** Worst severity among alerts in review, null when none. */
  worst: 'critical' | 'warning' | null;
  inReview: { critical: number; warning: number };
  traffic: TrafficView | null;
  lastRun: { windowTo: number; evaluatedAt: number } | null;
}

/** A traffic bucket for charts: the model's bucket, grouped to whole hours when it is shorter. */
export function chartBucket(deps: Pick<AppDeps, 'config'>, model: string): number {
  const b = driftSettingsFor(deps.config, model).bucket;
  return b < HOUR && HOUR % b === 0 ? HOUR : b;
}

export function alertSummary(counts: readonly AlertCount[]) {
  const inReview = { critical: 0, warning: 0 };
  for (const c of counts) if (IN_REVIEW.has(c.status)) inReview[c.severity] += c.n;
  const worst = inReview.critical > 0 ? 'critical' : inReview.warning > 0 ? 'warning' : null;
  return { inReview, worst } as const;
}

export async function overview(
  deps: Deps,
): Promise<{ models: ModelOverview[]; jobs: JobStatusView[] | null; leader: boolean | null }> {
  const now = deps.clock();
  const models = await listModels(deps);
  const out: ModelOverview[] = [];
  for (const m of models) {
    const [served, baselines, counts, ran] = await Promise.all([
      servedVersions(deps, m.model),
      listBaselines(deps, m.model),
      alertCounts(deps, { model: m.model }),
      lastRun(deps, m.model),
    ]);
    const traffic = await trafficSeries(deps, m.model, {
      from: now - DAY,
      to: now,
      bucket: chartBucket(deps, m.model),
    });
    out.push({
      model: m.model,
      records: m.record_count,
      lastReceivedAt: m.last_received_at,
      activeVersion: served.find((v) => v.state === 'active')?.version ?? null,
      shadowVersions: served.filter((v) => v.state === 'shadow').map((v) => v.version),
      activeBaselines: baselines
        .filter((b) => b.active)
        .map((b) => ({ id: b.id, modelVersion: b.model_version })),
      ...alertSummary(counts),
      traffic,
      lastRun: ran,
    });
  }
  // Worst first, then by name: what needs a look is at the top.
  const rank = (m: ModelOverview) => (m.worst === 'critical' ? 0 : m.worst === 'warning' ? 1 : 2);
  out.sort((a, b) => rank(a) - rank(b) || a.model.localeCompare(b.model));
  return {
    models: out,
    jobs: deps.jobs ? deps.jobs.status() : null,
    leader: deps.jobs ? deps.jobs.leader() : null,
  };
}

/** The served versions and their audit trail, or null for a model driftwatch does not serve. */
export async function servedOf(
  deps: Deps,
  model: string,
): Promise<{ versions: ServedVersionView[]; events: ModelEventView[] } | null> {
  try {
    return await listVersions(deps, model);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'not_found') return null;
    throw err;
  }
}

export interface Windows<R = DriftResult> {
  /** The model version shown. */
  modelVersion: string;
  kind: WindowKind;
  /** Newest first, one result per window (the latest evaluation of it). */
  results: R[];
}

export const WINDOW_KINDS: [WindowKind, string][] = [
  ['bucket', 'closed buckets'],
  ['rolling', 'rolling windows'],
  ['range', 'on-demand ranges'],
];

/** A `?kind=` query value, or undefined (the default choice) when absent or unknown. */
export function kindParam(v: string | undefined): WindowKind | undefined {
  return WINDOW_KINDS.some(([k]) => k === v) ? (v as WindowKind) : undefined;
}

/** What choosing windows looks at in a result. */
interface Judged {
  window: { from: string; to: string };
  features: { drifted: boolean | null }[];
}

/** True when some feature of the result got a verdict (enough values in the window). */
const judged = (r: Judged | undefined): boolean => r?.features.some((f) => f.drifted !== null) === true;

/**
 * The newest MAX_WINDOWS results of one version, of `kind` when given. Otherwise closed buckets, unless the
 * newest bucket is too small for any verdict while rolling windows have them (small hourly traffic judged
 * over a longer rolling window): then rolling windows, which are what raised the alerts. With neither,
 * whatever kind was evaluated (on-demand ranges).
 */
export async function recentWindows(
  deps: Deps,
  model: string,
  modelVersion: string,
  kind?: WindowKind,
  limit = MAX_WINDOWS,
  feature?: string,
): Promise<Windows> {
  // With a feature, each result carries only that feature (a narrow read, see driftSeries).
  return chooseWindows(
    (k) => driftSeries(deps, model, { modelVersion, limit, feature, kind: k }),
    modelVersion,
    kind,
    limit,
  );
}

/**
 * As recentWindows, each result with the cells (PSI and verdict) of the features `pick` chooses, plus every
 * feature of the windows with its highest PSI and the newest result whole: what the model page draws.
 */
export async function recentCells(
  deps: Deps,
  model: string,
  modelVersion: string,
  kind: WindowKind | undefined,
  pick: (features: FeatureMax[], latest: DriftResult | null) => readonly string[],
  limit = MAX_WINDOWS,
): Promise<Windows<ResultCells> & { features: FeatureMax[]; latest: DriftResult | null }> {
  // A summary has drifted_share exactly when some feature got a verdict (its features are read after).
  const windows = await chooseWindows(
    (k) => driftSummaries(deps, model, { modelVersion, limit, kind: k }),
    modelVersion,
    kind,
    limit,
    (r) => r !== undefined && (r.drifted_share !== null || judged(r)),
  );
  return { ...windows, ...(await windowCells(deps, windows.results, pick)) };
}

async function chooseWindows<R extends Judged>(
  read: (kind: WindowKind) => Promise<R[]>,
  modelVersion: string,
  kind: WindowKind | undefined,
  limit: number,
  hasVerdicts: (r: R | undefined) => boolean = judged,
): Promise<Windows<R>> {
  let k: WindowKind = kind ?? 'bucket';
  let rows = await read(k);
  if (kind === undefined && !hasVerdicts(rows[0])) {
    const rolling = await read('rolling');
    if (hasVerdicts(rolling[0]) || (rows.length === 0 && rolling.length > 0)) {
      rows = rolling;
      k = 'rolling';
    }
  }
  if (rows.length === 0 && kind === undefined) {
    rows = await read('range');
    if (rows.length > 0) k = 'range';
  }
  const seen = new Set<string>();
  const results: R[] = [];
  for (const r of rows) {
    const key = `${r.window.from}/${r.window.to}`;
    if (seen.has(key)) continue;
    seen.add(key);
    results.push(r);
    if (results.length >= limit) break;
  }
  return { modelVersion, kind: k, results };
}

/**
 * Which version a page shows: ?version=, else the one driftwatch serves (a shadow's records may be newer,
 * but few), else the one that sent data last (as featureHistogram picks).
 */
export async function pickVersion(deps: Deps, model: string, asked: string | undefined): Promise<string> {
  if (asked !== undefined) return asked === '(none)' ? '' : asked;
  const active = (await servedVersions(deps, model)).find((v) => v.state === 'active');
  return active?.version ?? latestVersion(deps, model);
}

export async function versionsOf(deps: Deps, model: string): Promise<string[]> {
  const [m] = await listModels(deps, model);
  return (m?.versions ?? []).map((v) => v.model_version ?? '');
}

/** A feature's measures in each result (oldest first), skipping results without it. */
export function featureSeries<
  R extends { features: readonly { feature: string }[]; prediction: object | null },
>(
  results: readonly R[],
  feature: string,
): { result: R; column: R['features'][number] | NonNullable<R['prediction']> }[] {
  const out: { result: R; column: R['features'][number] | NonNullable<R['prediction']> }[] = [];
  for (const r of results) {
    const column = feature === 'prediction' ? r.prediction : r.features.find((f) => f.feature === feature);
    if (column) out.push({ result: r, column });
  }
  return out.reverse();
}

export interface DeployMarker {
  at: number;
  label: string;
}

/** Where a version or a baseline was activated: the audit trail's activations and the baselines' activation times. */
export function deployMarkers(
  events: readonly ModelEventView[] | undefined,
  baselines: readonly BaselineView[],
): DeployMarker[] {
  const out: DeployMarker[] = [];
  for (const e of events ?? []) {
    if ((e.action === 'activate' || e.action === 'rollback') && e.to_version)
      out.push({
        at: Date.parse(e.at),
        label: `${e.action === 'rollback' ? 'rollback to' : 'version'} ${e.to_version}`,
      });
  }
  for (const b of baselines) {
    if (b.activated_at) out.push({ at: Date.parse(b.activated_at), label: `baseline ${b.id}` });
  }
  return out.sort((a, b) => a.at - b.at);
}

export { listBaselines };
