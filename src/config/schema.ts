import cron from 'node-cron';
import { z } from 'zod';

// The configuration's schema: every key with its default and a why-comment, and the types derived from it.
// Pure: load.ts reads the file and the environment, secrets.ts the files and variables secrets point at.

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** Byte sizes may be given as a number of bytes or a string such as "16MiB" or "500 kB". */
const byteSize = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*$/i.exec(v);
  const unit = SIZE_UNITS[(m?.[2] ?? 'b').toLowerCase()];
  if (!m || unit === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a size like 16MiB or a number of bytes, got "${v}"` });
    return z.NEVER;
  }
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes < 1) {
    ctx.addIssue({ code: 'custom', message: `must be at least 1 byte, got "${v}"` });
    return z.NEVER;
  }
  return bytes;
});

const durationDays = z.number().positive();

/**
 * Receivers and links are http(s) only: fetch would also "deliver" to a data: URL and mark it sent, so the
 * notification vanished. Credentials in the URL would travel in every request and every log line.
 */
const httpUrl = z.string().superRefine((v, ctx) => {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected an http:// or https:// URL' });
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: `expected an http:// or https:// URL, got ${url.protocol}` });
  } else if (url.username !== '' || url.password !== '') {
    ctx.addIssue({
      code: 'custom',
      message: 'must not contain a user name or password (user:password@host)',
    });
  }
});

const cronExpression = z.string().refine((v) => cron.validate(v), {
  error: 'not a valid cron expression (e.g. "*/10 * * * *")',
});

/** Durations such as "90s", "15m", "1h", "7d", or a number of milliseconds. */
const duration = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(v);
  const unit = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m?.[2] ?? ''];
  if (!m || unit === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 15m, 1h or 7d, got "${v}"` });
    return z.NEVER;
  }
  const ms = Math.round(Number(m[1]) * unit);
  if (ms < 1) {
    ctx.addIssue({ code: 'custom', message: `must be at least 1 ms, got "${v}"` });
    return z.NEVER;
  }
  return ms;
});

/** Drift settings; `drift` holds the defaults and `models.<name>` overrides them per model. */
const driftSettings = z.strictObject({
  // Event-time bucket size: the unit of aggregation, of closed-bucket windows and of ad-hoc ranges.
  bucket: duration.optional(),
  // Rolling window composed of the most recent buckets.
  rollingWindow: duration.optional(),
  // Below this many values a window gets measures but no drift verdict.
  minSamples: z.number().int().min(1).optional(),
  // PSI at or above which a feature counts as drifted (warning) / critically drifted.
  psiWarning: z.number().positive().optional(),
  psiCritical: z.number().positive().optional(),
  // Significance level for KS / chi-square p-values, Benjamini–Hochberg adjusted across a run's features.
  alpha: z.number().gt(0).lt(1).optional(),
  // Data-quality alert: share of values missing (above the baseline's own missing share), of the wrong
  // type, or never seen in training, at or above which a data_quality alert fires.
  qualityRate: z.number().gt(0).max(1).optional(),
  // Replace the fixed PSI warning threshold by mean + 3σ of PSI over baseline-sized random chunks of the
  // window's size drawn from the baseline (as NannyML calibrates), never below psiWarning.
  calibrated: z.boolean().optional(),
  // Traffic alerts (off unless set): a window's latency p95 in ms, and its share of failed requests, at or
  // above which a latency / error_rate alert fires (critical at twice it); judged once the window has
  // minSamples requests (latency: minSamples records with latency_ms).
  latencyP95Ms: z.number().positive().optional(),
  errorRate: z.number().gt(0).max(1).optional(),
  // performance_drop alert: how far the estimated (or, with minSamples labels, realized) accuracy of a
  // classifier that logs probabilities may fall below its baseline's before the alert fires.
  performanceDrop: z.number().gt(0).max(1).optional(),
});
export type DriftSettingsInput = z.infer<typeof driftSettings>;

/** Thresholds that may be set per feature (config `models.<m>.features.<f>` or the API). */
// psiCritical ≥ psiWarning is checked by thresholdProblems, across levels and even when other keys are bad.
const featureThresholds = z.strictObject({
  psiWarning: z.number().positive().optional(),
  psiCritical: z.number().positive().optional(),
  alpha: z.number().gt(0).lt(1).optional(),
});
export type FeatureThresholds = z.infer<typeof featureThresholds>;

const modelSettings = driftSettings.extend({
  features: z.record(z.string(), featureThresholds).default({}),
  // Names of the features, in order, for inputs that arrive as bare lists: KServe V1 list instances
  // ([5.1, 3.5, …]) and Open Inference Protocol [N, F] tensors (POST /v1/ingest/cloudevents).
  featureNames: z
    .array(z.string().min(1, { error: 'feature names must not be empty' }))
    .min(1)
    .refine((names) => new Set(names).size === names.length, { error: 'feature names must be distinct' })
    .optional(),
  // Performance without labels (src/performance): a binary score is predicted positive at ≥ threshold;
  // kind is detected from the logged prediction (a number in [0, 1] or an object of class probabilities)
  // unless given.
  performance: z
    .strictObject({
      threshold: z.number().min(0).max(1).optional(),
      kind: z.enum(['binary', 'multiclass']).optional(),
    })
    .optional(),
  // Joint shifts (docs/statistics.md, Joint shifts), for a baseline with 2–100 numeric features; `features`
  // picks at most 100 of a wider model. On by default; `enabled: false` turns it off. Its nulls come from
  // chunks of the baseline, so heavy-tailed features do not fire it (docs/statistics.md, Joint shifts).
  multivariate: z
    .strictObject({
      enabled: z.boolean().optional(),
      features: z
        .array(z.string().min(1))
        .min(2, { error: 'name at least 2 features' })
        .max(100, { error: 'at most 100 features (5,050 second moments per bucket)' })
        .refine((names) => new Set(names).size === names.length, { error: 'feature names must be distinct' })
        .optional(),
    })
    .optional(),
  alerts: z
    .strictObject({
      // Drift alerts from a CUSUM per feature over closed buckets, with h set so that one false alarm comes
      // on average every `arl0` null buckets (docs/statistics.md, Sequential alerts), instead of per window.
      sequential: z.strictObject({ arl0: z.number().min(10).max(1e7) }).optional(),
    })
    .optional(),
});

// metrics: may only scrape GET /metrics (a Prometheus server's token).
const role = z.enum(['ingest', 'reviewer', 'admin', 'metrics']);
export type Role = z.infer<typeof role>;

const token = z
  .strictObject({
    // The actor name recorded in audit trails.
    name: z.string().min(1).max(100),
    role,
    // Either the token itself (e.g. from an env-substituted file) or its sha256 hex; only the hash is kept.
    token: z.string().min(16, { error: 'tokens must be at least 16 characters' }).optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, { error: 'expected 64 lowercase hex characters' })
      .optional(),
  })
  .refine((t) => (t.token === undefined) !== (t.sha256 === undefined), {
    error: 'give exactly one of token or sha256',
  });

const channel = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(100)
    // Email reports and critical-alert mails are deliveries of this channel (GET /v1/notifications/deliveries).
    .refine((v) => v !== 'email', { error: 'email is reserved for the deliveries of email reports' }),
  type: z.enum(['webhook', 'slack', 'alertmanager']),
  // For alertmanager: the base URL (http://alertmanager:9093); /api/v2/alerts is appended.
  url: httpUrl,
  // webhook: HMAC-SHA256 key for the X-Driftwatch-Signature header.
  secret: z.string().min(1).optional(),
  // Which events to send; all when absent.
  events: z.array(z.string()).optional(),
});
export type ChannelConfig = z.infer<typeof channel>;

/** An IANA time zone name that this Node's Intl knows (Europe/Berlin, UTC, …). */
const timeZone = z.string().refine(
  (v) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: v });
      return true;
    } catch {
      return false;
    }
  },
  { error: 'not a known IANA time zone (e.g. "Europe/Berlin" or "UTC")' },
);

const email = z.email({ error: 'expected an email address' });

/** Report schedules use minute-resolution cron (five fields): the reports job checks once a minute. */
const reportCron = cronExpression.refine((v) => v.trim().split(/\s+/).length === 5, {
  error: 'report schedules take five cron fields (minute hour day month weekday)',
});

const reportSchedule = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'letters, digits, . _ - (at most 64)' })
    // The runs of the critical-alert mails (reports.critical) are listed under this name.
    .refine((v) => v !== 'critical', { error: 'critical is reserved for the critical-alert mails' }),
  cron: reportCron,
  timezone: timeZone.default('UTC'),
  to: z.array(email).min(1, { error: 'give at least one recipient' }),
  // The period a report covers, ending at its scheduled time.
  period: duration.default(86_400_000),
  // Models the report covers; all the store knows when absent.
  models: z.array(z.string().min(1)).min(1).optional(),
});
export type ReportScheduleConfig = z.infer<typeof reportSchedule>;

/** The immediate mail on critical alerts: who gets it, for which models, and the period its charts cover. */
const reportCritical = z.strictObject({
  to: z.array(email).min(1, { error: 'give at least one recipient' }),
  // Models whose critical alerts are mailed; every model when absent.
  models: z.array(z.string().min(1)).min(1).optional(),
  // The period the mail's model section (traffic, PSI trend) covers, ending when the alert went critical.
  period: duration.default(86_400_000),
  // The zone dates in the mail are written in.
  timezone: timeZone.default('UTC'),
});
export type ReportCriticalConfig = z.infer<typeof reportCritical>;

const smtpAuth = z
  .strictObject({
    user: z.string().min(1),
    // The password itself, or where to read it: an environment variable or a file (e.g. a mounted secret).
    pass: z.string().optional(),
    pass_env: z.string().min(1).optional(),
    pass_file: z.string().min(1).optional(),
  })
  .refine((a) => [a.pass, a.pass_env, a.pass_file].filter((v) => v !== undefined).length === 1, {
    error: 'give exactly one of pass, pass_env or pass_file',
  })
  // Not a config key (strictObject refuses it): set at load when pass_env / pass_file cannot be read.
  .transform((a): typeof a & { unresolved?: string } => a);

const reportsSection = z
  .strictObject({
    smtp: z
      .strictObject({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65535).default(587),
        // true: TLS from the start (port 465); false: STARTTLS when the server offers it.
        secure: z.boolean().default(false),
        auth: smtpAuth.optional(),
        from: email,
        // Per-attempt connection and greeting timeout.
        timeoutMs: z.number().int().positive().default(30_000),
      })
      .optional(),
    schedules: z.array(reportSchedule).default([]),
    // Mail each critical alert once, at once, to these recipients (off when absent).
    critical: reportCritical.optional(),
    // Attempts before a report is marked failed; 1, 2, 4, … minutes apart.
    maxAttempts: z.number().int().min(1).max(20).default(6),
  })
  .prefault({})
  .superRefine((r, ctx) => {
    const seen = new Set<string>();
    r.schedules.forEach((s, i) => {
      if (seen.has(s.name))
        ctx.addIssue({
          code: 'custom',
          path: ['schedules', i, 'name'],
          message: `schedule ${s.name} is named twice`,
        });
      seen.add(s.name);
    });
    if (r.schedules.length > 0 && !r.smtp)
      ctx.addIssue({
        code: 'custom',
        path: ['smtp'],
        message: 'schedules need an smtp section to send with',
      });
    if (r.critical && !r.smtp)
      ctx.addIssue({
        code: 'custom',
        path: ['smtp'],
        message: 'critical needs an smtp section to send with',
      });
  });

/** JetStream stream and consumer names: no whitespace, dots or wildcards (they become parts of API subjects). */
const jetStreamName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^\s.*>/\\]+$/, { error: 'may not contain whitespace, ".", "*", ">", "/" or "\\"' });

/**
 * A NATS JetStream source: a durable pull consumer whose messages carry ingest records (one JSON record
 * or NDJSON per message). Only the job leader consumes; a message is acknowledged once its records commit.
 */
const natsSource = z
  .strictObject({
    // The source's name in GET /v1/jobs, metric labels and rejections (default: the durable's name).
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'letters, digits, . _ - (at most 64)' })
      .optional(),
    url: z.string().superRefine((v, ctx) => {
      const url = URL.canParse(v) ? new URL(v) : null;
      if (!url || !['nats:', 'tls:'].includes(url.protocol))
        ctx.addIssue({
          code: 'custom',
          message: 'expected a nats:// or tls:// URL such as nats://127.0.0.1:4222',
        });
    }),
    stream: jetStreamName,
    // Subjects the stream captures when driftwatch creates it, and the consumer's filter.
    subjects: z
      .array(z.string().min(1).regex(/^\S+$/, { error: 'a subject may not contain whitespace' }))
      .min(1, { error: 'give at least one subject' }),
    durable: jetStreamName,
    // Messages per fetch and per stored transaction.
    batch: z.number().int().min(1).max(10_000).default(500),
    // Bytes per fetch: what one batch may hold in memory (the server stops sending at this size).
    batchBytes: byteSize.default(4 * 1024 * 1024),
    // A larger message is stored as a rejection (its first KiB kept) and acknowledged, never parsed.
    maxMessageBytes: byteSize.default(1024 * 1024),
    // How long the server waits for an acknowledgement before redelivering (a crashed leader's batch); a
    // batch must be fetched and stored within it.
    ackWait: duration
      .refine((ms) => ms >= 2_000, { error: 'must be at least 2s (a fetch waits at least 1s)' })
      .default(30_000),
    // Create the stream (with the subjects and maxMessageBytes) when it does not exist.
    createStream: z.boolean().default(true),
  })
  .superRefine((s, ctx) => {
    // The server never sends a message larger than a fetch's byte limit: such a message would stall the consumer.
    if (s.batchBytes < s.maxMessageBytes)
      ctx.addIssue({
        code: 'custom',
        path: ['batchBytes'],
        message: `must be at least maxMessageBytes (${s.maxMessageBytes} bytes)`,
      });
  });
export type NatsSourceConfig = z.infer<typeof natsSource> & { name: string };

export const DRIFT_DEFAULTS = {
  bucket: 3600e3,
  rollingWindow: 86400e3,
  minSamples: 200,
  psiWarning: 0.1,
  psiCritical: 0.25,
  alpha: 0.05,
  qualityRate: 0.05,
  calibrated: false,
  latencyP95Ms: undefined as number | undefined,
  errorRate: undefined as number | undefined,
  performanceDrop: 0.05,
};
export type DriftSettings = typeof DRIFT_DEFAULTS;

// OpenTelemetry logs (POST /v1/logs): which attributes of a log record carry the record's fields. The
// prefixes are settings because a fleet may already log these under names of its own (e.g. "ml.").
const otlpSource = z
  .strictObject({
    // <prefix>model, <prefix>request_id, <prefix>model_version, <prefix>prediction, <prefix>label,
    // <prefix>latency_ms, on the record's or its resource's attributes.
    attributePrefix: z.string().min(1, { error: 'must not be empty' }).default('driftwatch.'),
    // Attributes named <featurePrefix><feature> are features, besides a key-value map body.
    featurePrefix: z.string().min(1, { error: 'must not be empty' }).default('driftwatch.feature.'),
  })
  .refine((s) => s.featurePrefix !== s.attributePrefix, {
    error: 'featurePrefix must differ from attributePrefix, or driftwatch.model would also be a feature',
    path: ['featurePrefix'],
  })
  .prefault({});

const BATCH_RULE = 'an integer from 1 (no batching) to 1024';
const maxBatchRequests = z
  .number({ error: BATCH_RULE })
  .int({ error: BATCH_RULE })
  .min(1, { error: BATCH_RULE })
  .max(1024, { error: BATCH_RULE });

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      // Loopback by default: a sidecar is reached by its neighbour, not the network.
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      // A second listener answering only /healthz and /readyz (off when unset). Under overload, clients that
      // reconnect after a 503 fill the API port's accept queue, and a probe on a new connection waits behind
      // them; a port of its own is accepted apart from that queue. Point Kubernetes probes at it.
      healthPort: z.number().int().min(0).max(65535).optional(),
      // How long in-flight requests may take to finish after SIGTERM before the process exits anyway.
      shutdownTimeoutMs: z.number().int().positive().default(10_000),
      // Requests being worked on at once (health checks excepted); beyond it a 503 with Retry-After, so an
      // overload is pushed back to clients instead of queuing bodies in memory and stalling health checks.
      maxInFlight: z.number().int().positive().default(16),
      // How long a client may take to send a whole request body; for uploads (ingest, labels, baselines,
      // model versions) the longest pause with no byte arriving instead. A connection that trickles holds an
      // in-flight slot and buffered bytes, so it must not hold them for long; a 1 GiB upload that keeps
      // arriving must not be cut by a whole-request deadline.
      requestTimeoutMs: z.number().int().positive().default(30_000),
      // Of those, ingest requests (the ones that carry large bodies).
      maxIngestInFlight: z.number().int().positive().default(2),
      // Label uploads at once (up to ingest.labelsBodyLimit each, buffered and parsed whole): their own bound,
      // like ingest's, so concurrent uploads are refused with a 503 rather than growing memory.
      maxLabelsInFlight: z.number().int().positive().default(2),
      // Requests with no valid credential (the sign-in form, /docs, refusals) at once. They never take the
      // slots of server.maxInFlight, so clients trickling into POST /ui/login cannot starve ingest and reviewers.
      maxAnonymousInFlight: z.number().int().positive().default(4),
      // Bodies of JSON commands (alert actions, drift runs, thresholds) are small and read whole; the bound
      // keeps one request from holding the process's memory.
      jsonBodyLimit: byteSize.default(1024 * 1024),
    })
    .prefault({}),
  database: z
    .strictObject({
      // A SQLite file path, or postgres://user:pass@host:5432/db (sslmode and pool_size may be URL
      // parameters) for a fleet sharing one PostgreSQL. Wins over `path` when set.
      url: z
        .string()
        .min(1)
        .refine((v) => !isPostgresUrl(v) || URL.canParse(v), 'not a valid postgres:// URL')
        .optional(),
      // The SQLite file when no url is given (kept for existing configs).
      path: z.string().min(1).default('./data/driftwatch.db'),
      // PostgreSQL connections per process (pool_size in the URL wins).
      poolSize: z.number().int().min(1).max(1000).default(10),
      // FULL makes every acknowledged ingest survive power loss, not only a process crash; NORMAL trades that for speed.
      synchronous: z.enum(['full', 'normal']).default('full'),
    })
    .prefault({}),
  ingest: z
    .strictObject({
      // Applies to the body as sent and again after gzip decoding, so a small compressed bomb is refused too.
      bodyLimit: byteSize.default(16 * 1024 * 1024),
      // POST /v1/labels is read whole like an ingest batch; backfills of ground truth can be large.
      labelsBodyLimit: byteSize.default(16 * 1024 * 1024),
      // KServe payload logger (POST /v1/ingest/cloudevents): how long the first half of a request/response
      // pair waits for the other before the kserve-join job ingests it alone.
      cloudEventsJoinTimeout: duration.default(60_000),
      // Halves waiting for their other half (pending_events rows); beyond it new halves get a 503.
      cloudEventsMaxPending: z.number().int().positive().default(100_000),
      // InferenceService name (Ce-Inferenceservicename) → driftwatch model name, when they differ.
      cloudEventsModels: z.record(z.string(), z.string().min(1)).default({}),
    })
    .prefault({}),
  sources: z
    .strictObject({
      otlp: otlpSource,
      nats: z
        .array(natsSource)
        .default([])
        .transform((list) => list.map((s): NatsSourceConfig => ({ ...s, name: s.name ?? s.durable })))
        .superRefine((list, ctx) => {
          const seen = new Set<string>();
          list.forEach((s, i) => {
            if (seen.has(s.name))
              ctx.addIssue({
                code: 'custom',
                path: [i, 'name'],
                message: `source ${s.name} is named twice (name defaults to the durable)`,
              });
            seen.add(s.name);
          });
        }),
    })
    .prefault({}),
  baselines: z
    .strictObject({
      // Training uploads are streamed, so this bounds the time one upload holds the profiler, not its memory.
      maxBytes: byteSize.default(1024 ** 3),
      // Numeric columns keep 8 bytes per value for exact quantiles: rows × numeric columns × 8 B is the memory.
      maxRows: z.number().int().positive().default(10_000_000),
      // One CSV record or NDJSON line is buffered until it ends; a file without newlines must not be held whole.
      maxLineBytes: byteSize.default(1024 * 1024),
      // The JSON format (an array or {"rows": [...]}) is parsed whole, unlike CSV and NDJSON.
      maxJsonBytes: byteSize.default(16 * 1024 * 1024),
    })
    .prefault({}),
  retention: z
    .strictObject({
      // Counted from when a record was received, so backfilled history is kept as long as fresh data.
      rawRecordsDays: durationDays.default(7),
      // node-cron expression for the pruning job.
      pruneSchedule: cronExpression.default('*/10 * * * *'),
      // Days (counted by bucket time) that aggregates keep their drift bucket; older ones are merged into one
      // row per UTC day. Default: 30, or rawRecordsDays if longer.
      hourlyDays: durationDays.optional(),
      // node-cron expression for the rollup job.
      rollupSchedule: cronExpression.default('20 * * * *'),
    })
    // A label correction recounts its bucket from the raw records and replaces the bucket's outcomes: a
    // bucket already merged into its day would then count them twice.
    .refine((r) => r.hourlyDays === undefined || r.hourlyDays >= r.rawRecordsDays, {
      path: ['hourlyDays'],
      error:
        'must be at least retention.rawRecordsDays: buckets are recounted from raw records while those are kept',
    })
    .transform((r) => ({ ...r, hourlyDays: r.hourlyDays ?? Math.max(30, r.rawRecordsDays) }))
    .prefault({}),
  drift: driftSettings
    .extend({
      // node-cron expression for the drift tick that evaluates windows whose data changed.
      schedule: cronExpression.default('* * * * *'),
    })
    .prefault({}),
  models: z.record(z.string(), modelSettings).default({}),
  auth: z
    .strictObject({
      // No tokens: the API is open (allowed only on loopback unless --insecure).
      tokens: z.array(token).default([]),
      // How long a web UI sign-in lasts (the session cookie and its stored row).
      sessionTtl: duration
        .refine((ms) => ms >= 60_000 && ms <= 30 * 86_400_000, {
          error: 'a session lasts between 1m and 30d',
        })
        .default(12 * 3_600_000),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      // GET /metrics without a token when the request comes from a loopback address (a Prometheus agent or
      // sidecar in the same pod). With tokens configured, anyone else needs a metrics or admin token.
      loopbackOpen: z.boolean().default(true),
    })
    .prefault({}),
  client: z
    .strictObject({
      // Bearer token the CLI sends to the service (usually from DRIFTWATCH_TOKEN, not a file).
      token: z.string().min(1).optional(),
    })
    .prefault({}),
  notifications: z
    .strictObject({
      channels: z.array(channel).default([]),
      // Base URL reviewers open driftwatch at; used for links in notifications.
      externalUrl: httpUrl.optional(),
      // Per-attempt timeout for a receiver.
      timeoutMs: z.number().int().positive().default(5_000),
      // Attempts before a delivery is marked failed (with exponential backoff between them).
      maxAttempts: z.number().int().min(1).default(8),
      // How often open alerts are re-sent to Alertmanager, which resolves alerts not refreshed within its resolve_timeout (5m by default).
      alertmanagerResend: duration.default(60_000),
    })
    .prefault({}),
  serving: z
    .strictObject({
      // models/<name>/<version>/{model.onnx, manifest.json[, baseline.csv]}; scanned at start-up.
      modelsDir: z.string().min(1).default('./models'),
      // A predict request gets this long (→ 504 after it); a model still busy after twice as long is restarted.
      deadlineMs: z.number().int().positive().max(600_000).default(1000),
      // Instances per predict request.
      maxInstances: z.number().int().positive().max(100_000).default(1000),
      // Predict requests worked on at once (their own bound, apart from server.maxInFlight); beyond: 503.
      maxInFlight: z.number().int().positive().max(100_000).default(256),
      // onnxruntime intra-op threads per loaded version.
      threads: z.number().int().min(1).max(64).default(1),
      // Most queued requests run as one (rows stacked) when the model takes any number of rows; 1: never.
      // Off for a model whose rows affect each other (batch norm in training mode, sequence models).
      maxBatchRequests: maxBatchRequests.default(32),
      // Log every prediction into driftwatch's own ingest (per model below).
      logPredictions: z.boolean().default(true),
      models: z
        .record(
          z.string(),
          z.strictObject({
            deadlineMs: z.number().int().positive().max(600_000).optional(),
            logPredictions: z.boolean().optional(),
            maxBatchRequests: maxBatchRequests.optional(),
          }),
        )
        .default({}),
    })
    .prefault({}),
  reports: reportsSection,
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;

/** True for postgres:// and postgresql:// URLs: the PostgreSQL store instead of a SQLite file. */
export function isPostgresUrl(v: string): boolean {
  return /^postgres(ql)?:\/\//i.test(v);
}

/** Which store the database section selects. */
export type DatabaseTarget =
  | { dialect: 'sqlite'; path: string; synchronous: 'full' | 'normal' }
  | { dialect: 'postgres'; url: string; poolSize: number };

export function databaseTarget(db: Config['database']): DatabaseTarget {
  const where = db.url ?? db.path;
  return isPostgresUrl(where)
    ? { dialect: 'postgres', url: where, poolSize: db.poolSize }
    : { dialect: 'sqlite', path: where, synchronous: db.synchronous };
}
export type ConfigInput = z.input<typeof configSchema>;

/** Effective drift settings for a model: built-in defaults < `drift` < `models.<model>`. */
export function driftSettingsFor(config: Config, model: string): DriftSettings {
  const pick = (o: DriftSettingsInput | undefined) =>
    Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined));
  const { schedule: _schedule, ...defaults } = config.drift;
  const {
    features: _features,
    featureNames: _names,
    performance: _performance,
    multivariate: _multivariate,
    alerts: _alerts,
    ...modelOwn
  } = config.models[model] ?? { features: {} };
  return { ...DRIFT_DEFAULTS, ...pick(defaults), ...pick(modelOwn) } as DriftSettings;
}

/** Most requests a model process runs as one for `model`: `serving.models.<model>`, else `serving`. */
export function maxBatchRequestsFor(config: Config, model: string): number {
  return config.serving.models[model]?.maxBatchRequests ?? config.serving.maxBatchRequests;
}
