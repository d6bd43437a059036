import { readFileSync } from 'node:fs';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AppDeps, MetricsSink } from '../context.js';
import { EMAIL_CHANNEL } from '../notifications/providers.js';
import type { FeatureLatestRow } from '../store/index.js';

// GET /metrics: one prom-client Registry per app (never the global default one), so several apps in one
// process (tests, a bench) keep their numbers apart. Per-process counters are pushed by services through
// MetricsSink; store-wide gauges are read from the store when Prometheus scrapes (collect callbacks), and
// only by the job leader, so a fleet's dashboards do not add the same number up once per process.

/** Distinct `model` label values; further models are counted under "other". */
export const MAX_MODEL_LABELS = 200;
/** Distinct `model_version` label values per model; further versions are counted under "other". */
export const MAX_VERSION_LABELS = 20;
/** Feature labels per model (feature_latest holds at most this many per version as well). */
export const MAX_FEATURE_LABELS = 500;

export const OTHER = 'other';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const JOB_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

function packageVersion(): string {
  try {
    // src/metrics/ and dist/metrics/ are both two levels below the package root.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export const VERSION = packageVersion();

type Deps = Pick<AppDeps, 'store' | 'jobs' | 'config' | 'sources'>;

interface StoreSnapshot {
  features: FeatureLatestRow[];
  alerts: { model: string; kind: string; severity: string; n: number }[];
  retrain: { status: string; n: number }[];
}

export class Metrics implements MetricsSink {
  readonly registry = new Registry();
  /** Models that get a label of their own, in the order they were admitted (at most MAX_MODEL_LABELS). */
  private readonly models = new Set<string>();
  private readonly versions = new Map<string, Set<string>>();
  private pending: Promise<StoreSnapshot | null> | undefined;

  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly ingestRecords: Counter<'model' | 'outcome'>;
  private readonly modelRequests: Counter<'model' | 'model_version' | 'status'>;
  private readonly modelLatency: Histogram<'model' | 'model_version'>;
  private readonly predictDuration: Histogram<'model' | 'model_version'>;
  private readonly jobDuration: Histogram<'job'>;
  private readonly notificationFailures: Counter<'channel'>;
  private readonly otlpReceived: Counter;
  private readonly otlpRecords: Counter<'outcome'>;
  private readonly sourceMessages: Counter<'source'>;
  private readonly sourceRecords: Counter<'source' | 'outcome'>;
  private readonly sourceErrors: Counter<'source'>;

  constructor(private readonly deps: Deps) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'driftwatch_http_request_duration_seconds',
      help: 'HTTP requests answered by this process, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.ingestRecords = new Counter({
      name: 'driftwatch_ingest_records_total',
      help: 'Records received by this process, by outcome (accepted, duplicate, rejected).',
      labelNames: ['model', 'outcome'],
      registers,
    });
    this.modelRequests = new Counter({
      name: 'driftwatch_model_requests_total',
      help: 'Logged inference records newly stored through this process, by the status they report.',
      labelNames: ['model', 'model_version', 'status'],
      registers,
    });
    this.modelLatency = new Histogram({
      name: 'driftwatch_model_latency_seconds',
      help: 'Inference latency the logged records report (latency_ms), newly stored through this process.',
      labelNames: ['model', 'model_version'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.predictDuration = new Histogram({
      name: 'driftwatch_predict_duration_seconds',
      help: 'Time the bundled predict endpoint spent scoring a request (the model run, errors included).',
      labelNames: ['model', 'model_version'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.jobDuration = new Histogram({
      name: 'driftwatch_job_duration_seconds',
      help: 'Job runs in this process (only the leader runs jobs), successful or not.',
      labelNames: ['job'],
      buckets: JOB_BUCKETS,
      registers,
    });
    this.notificationFailures = new Counter({
      name: 'driftwatch_notification_failures_total',
      help: 'Failed notification delivery attempts made by this process, by channel.',
      labelNames: ['channel'],
      registers,
    });
    // OTLP logs are pushed, so the source's health is these counts: a rising rejected count is a
    // Collector sending logs that are not model logs, or model logs whose attributes do not map.
    this.otlpReceived = new Counter({
      name: 'driftwatch_otlp_log_records_received_total',
      help: 'Log records received by this process on POST /v1/logs (OTLP/HTTP).',
      registers,
    });
    this.otlpRecords = new Counter({
      name: 'driftwatch_otlp_log_records_total',
      help: 'OTLP log records by outcome: accepted (stored), duplicate (stored already), rejected (not a model log, or a record refused).',
      labelNames: ['outcome'],
      registers,
    });
    // Log sources: `source` is a configured source's name, so the labels are bounded by the config.
    this.sourceMessages = new Counter({
      name: 'driftwatch_source_messages_total',
      help: 'Messages a log source stored and acknowledged in this process.',
      labelNames: ['source'],
      registers,
    });
    this.sourceRecords = new Counter({
      name: 'driftwatch_source_records_total',
      help: "Records of a log source's messages, by outcome (accepted, duplicate, rejected).",
      labelNames: ['source', 'outcome'],
      registers,
    });
    this.sourceErrors = new Counter({
      name: 'driftwatch_source_errors_total',
      help: 'Failures of a log source in this process (connecting, fetching, storing); it retries.',
      labelNames: ['source'],
      registers,
    });
    new Gauge({
      name: 'driftwatch_build_info',
      help: 'Always 1; the driftwatch version in a label.',
      labelNames: ['version'],
      registers,
    }).set({ version: VERSION }, 1);

    const metrics = this;
    new Gauge({
      name: 'driftwatch_leader',
      help: '1 when this process is the job leader and exports the store-wide gauges, else 0.',
      registers,
      collect() {
        this.set(metrics.exportsStoreWide() ? 1 : 0);
      },
    });

    new Gauge({
      name: 'driftwatch_source_lag_messages',
      help: "Messages a log source has not yet stored (the consumer's pending and unacknowledged); only the consuming leader reports it.",
      labelNames: ['source'],
      registers,
      collect() {
        this.reset();
        for (const s of metrics.deps.sources?.status() ?? [])
          if (s.lag !== null) this.set({ source: s.name }, s.lag);
      },
    });

    // ---- store-wide gauges: one read of the store per scrape, shared by every collect callback ----
    // The per-feature families (driftwatch_feature_*) are rendered by featureText(): with 10,000 features
    // in a store prom-client's set() and formatting of 30,000 labelled samples alone took about 80 ms.
    new Gauge({
      name: 'driftwatch_model_drifted_features',
      help: "Features that drifted in the model's latest result.",
      labelNames: ['model'],
      registers,
      async collect() {
        this.reset();
        const s = await metrics.snapshot();
        if (!s) return;
        const counts = new Map<string, number>();
        for (const r of s.features) counts.set(r.model, (counts.get(r.model) ?? 0) + (r.drifted ? 1 : 0));
        for (const [model, n] of counts) this.set({ model }, n);
      },
    });
    new Gauge({
      name: 'driftwatch_alerts_open',
      help: 'Alerts in review (every status but closed), by model, kind and severity.',
      labelNames: ['model', 'kind', 'severity'],
      registers,
      async collect() {
        this.reset();
        const s = await metrics.snapshot();
        if (!s) return;
        for (const a of s.alerts)
          this.inc({ model: metrics.knownModel(a.model), kind: a.kind, severity: a.severity }, a.n);
      },
    });
    new Gauge({
      name: 'driftwatch_retrain_requests',
      help: 'Retrain requests in the store, by status.',
      labelNames: ['status'],
      registers,
      async collect() {
        this.reset();
        const s = await metrics.snapshot();
        if (!s) return;
        for (const r of s.retrain) this.set({ status: r.status }, r.n);
      },
    });
    new Gauge({
      name: 'driftwatch_job_last_success_timestamp_seconds',
      help: "Unix time of the job's last successful run, as the leader saw it.",
      labelNames: ['job'],
      registers,
      collect() {
        this.reset();
        const jobs = metrics.deps.jobs;
        if (!jobs?.leader()) return;
        for (const j of jobs.status())
          if (j.last_success !== null) this.set({ job: j.name }, Date.parse(j.last_success) / 1000);
      },
    });
  }

  /** Store-wide gauges come from the job leader only (or the single process when there is no registry). */
  exportsStoreWide(): boolean {
    return this.deps.jobs === undefined || this.deps.jobs.leader();
  }

  /** The exposition text: this app's registry, then the per-feature families read in the same snapshot. */
  async text(): Promise<string> {
    // Both start in this tick, so the collect callbacks and featureText share one read of the store.
    const [registry, features] = await Promise.all([this.registry.metrics(), this.featureText()]);
    return registry + features;
  }

  /** driftwatch_feature_psi, _ks_statistic and _drifted in the text format, straight from the snapshot. */
  private async featureText(): Promise<string> {
    const s = await this.snapshot();
    const rows = s?.features ?? [];
    const labels = rows.map((r) => `{model="${escapeLabel(r.model)}",feature="${escapeLabel(r.feature)}"}`);
    let out = '';
    for (const f of FEATURE_FAMILIES) {
      out += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} gauge\n`;
      for (let i = 0; i < rows.length; i++) {
        const v = f.pick(rows[i] as FeatureLatestRow);
        if (v !== null) out += `${f.name}${labels[i]} ${formatValue(v)}\n`;
      }
    }
    return out;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every collect callback of one scrape starts in the same tick and shares this read. */
  private snapshot(): Promise<StoreSnapshot | null> {
    this.pending ??= this.load().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async load(): Promise<StoreSnapshot | null> {
    if (!this.exportsStoreWide()) return null;
    const { known, features, alerts, retrain } = await this.deps.store.read(async (tx) => ({
      known: await tx.metrics.knownModels(MAX_MODEL_LABELS),
      features: await tx.metrics.featureLatest(),
      alerts: await tx.metrics.openAlerts(),
      retrain: await tx.metrics.retrainRequests(),
    }));
    for (const m of known) this.admitModel(m);
    return { features: currentFeatures(features, (m) => this.models.has(m)), alerts, retrain };
  }

  /** A model's label: its name once admitted, while fewer than MAX_MODEL_LABELS are; else "other". */
  private admitModel(model: string): string {
    if (this.models.has(model)) return model;
    if (this.models.size >= MAX_MODEL_LABELS) return OTHER;
    this.models.add(model);
    return model;
  }

  /** A model's label without admitting it: only models already known get a label of their own. */
  private knownModel(model: string | null): string {
    return model !== null && this.models.has(model) ? model : OTHER;
  }

  private versionLabel(model: string, version: string): string {
    if (model === OTHER) return OTHER;
    let set = this.versions.get(model);
    if (!set) {
      set = new Set();
      this.versions.set(model, set);
    }
    if (set.has(version)) return version;
    if (set.size >= MAX_VERSION_LABELS) return OTHER;
    set.add(version);
    return version;
  }

  // ---- MetricsSink ----

  ingested(counts: {
    accepted: ReadonlyMap<string, number>;
    duplicate: ReadonlyMap<string, number>;
    rejected: ReadonlyMap<string | null, number>;
  }): void {
    // Accepted records and duplicates of stored ones belong to models the store has: they may be admitted.
    // A rejected record's model is whatever the client wrote, so it is labelled only when already known.
    for (const [model, n] of counts.accepted)
      this.ingestRecords.inc({ model: this.admitModel(model), outcome: 'accepted' }, n);
    for (const [model, n] of counts.duplicate)
      this.ingestRecords.inc({ model: this.admitModel(model), outcome: 'duplicate' }, n);
    for (const [model, n] of counts.rejected)
      this.ingestRecords.inc({ model: this.knownModel(model), outcome: 'rejected' }, n);
  }

  logged(
    records: readonly {
      model: string;
      modelVersion: string;
      status: 'ok' | 'error' | null;
      latencyMs: number | null;
    }[],
  ): void {
    // Counted per (model, version, status) first: one counter update per series, not per record.
    const counts = new Map<string, { model: string; version: string; status: string; n: number }>();
    for (const r of records) {
      const model = this.admitModel(r.model);
      const version = this.versionLabel(model, r.modelVersion);
      const status = r.status ?? 'unknown';
      const key = `${model}\u0000${version}\u0000${status}`;
      const c = counts.get(key);
      if (c) c.n++;
      else counts.set(key, { model, version, status, n: 1 });
      if (r.latencyMs !== null && Number.isFinite(r.latencyMs) && r.latencyMs >= 0)
        this.modelLatency.observe({ model, model_version: version }, r.latencyMs / 1000);
    }
    for (const c of counts.values())
      this.modelRequests.inc({ model: c.model, model_version: c.version, status: c.status }, c.n);
  }

  predicted(model: string, modelVersion: string, seconds: number): void {
    const m = this.admitModel(model);
    this.predictDuration.observe({ model: m, model_version: this.versionLabel(m, modelVersion) }, seconds);
  }

  jobRan(job: string, seconds: number): void {
    this.jobDuration.observe({ job }, seconds);
  }

  notificationFailed(channel: string): void {
    // Email reports are deliveries of the outbox too, under their reserved channel name.
    const configured =
      channel === EMAIL_CHANNEL || this.deps.config.notifications.channels.some((c) => c.name === channel);
    this.notificationFailures.inc({ channel: configured ? channel : OTHER });
  }

  otlpLogs(counts: { received: number; accepted: number; duplicates: number; rejected: number }): void {
    this.otlpReceived.inc(counts.received);
    this.otlpRecords.inc({ outcome: 'accepted' }, counts.accepted);
    this.otlpRecords.inc({ outcome: 'duplicate' }, counts.duplicates);
    this.otlpRecords.inc({ outcome: 'rejected' }, counts.rejected);
  }

  sourceBatch(
    source: string,
    counts: { messages: number; accepted: number; duplicates: number; rejected: number },
  ): void {
    this.sourceMessages.inc({ source }, counts.messages);
    this.sourceRecords.inc({ source, outcome: 'accepted' }, counts.accepted);
    this.sourceRecords.inc({ source, outcome: 'duplicate' }, counts.duplicates);
    this.sourceRecords.inc({ source, outcome: 'rejected' }, counts.rejected);
  }

  sourceError(source: string): void {
    this.sourceErrors.inc({ source });
  }

  /** One HTTP request: `route` is the matched route pattern (bounded by the app's routes). */
  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status: String(status) }, seconds);
  }
}

const FEATURE_FAMILIES: {
  name: string;
  help: string;
  pick: (r: FeatureLatestRow) => number | null;
}[] = [
  {
    name: 'driftwatch_feature_psi',
    help: "PSI of the feature in its model's latest rolling or bucket result (the version evaluated last).",
    pick: (r) => r.psi,
  },
  {
    name: 'driftwatch_feature_ks_statistic',
    help: "Kolmogorov-Smirnov statistic of the feature in its model's latest result (numeric features).",
    pick: (r) => r.ksStatistic,
  },
  {
    name: 'driftwatch_feature_drifted',
    help: "1 when the feature drifted in its model's latest result, 0 when not (absent without a verdict).",
    pick: (r) => (r.drifted === null ? null : r.drifted ? 1 : 0),
  },
];

/** A label value in the text format: backslash, double quote and newline escaped. */
export function escapeLabel(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * The rows metrics export: per model, the version whose result is newest (a later window end, then a later
 * evaluation), for models with a label of their own, at most MAX_FEATURE_LABELS features each.
 */
export function currentFeatures(
  rows: readonly FeatureLatestRow[],
  labelled: (model: string) => boolean,
): FeatureLatestRow[] {
  const newest = new Map<string, { version: string; to: number; at: number }>();
  for (const r of rows) {
    const n = newest.get(r.model);
    if (!n || r.windowTo > n.to || (r.windowTo === n.to && r.evaluatedAt > n.at))
      newest.set(r.model, { version: r.modelVersion, to: r.windowTo, at: r.evaluatedAt });
  }
  const perModel = new Map<string, number>();
  const out: FeatureLatestRow[] = [];
  for (const r of rows) {
    if (newest.get(r.model)?.version !== r.modelVersion || !labelled(r.model)) continue;
    const k = perModel.get(r.model) ?? 0;
    if (k >= MAX_FEATURE_LABELS) continue;
    perModel.set(r.model, k + 1);
    out.push(r);
  }
  return out;
}
