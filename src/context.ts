import type { Config, Role } from './config.js';
import type { Logger } from './logger.js';
import type { Store } from './store/index.js';

/** Who is calling: a token's name and role, or "anonymous" when the API is open. */
export interface Actor {
  name: string;
  role: Role;
}

/** Milliseconds since the epoch; injected so tests and jobs run on a fixed clock. */
export type Clock = () => number;

/** What jobs report to health checks and GET /v1/jobs; the registry implements it. */
export interface JobsView {
  leader(): boolean;
  /** This process's identity as a leader candidate, and how leadership is held (lease row or advisory lock). */
  leadership?(): { instance: string; mechanism: 'lease' | 'advisory-lock' };
  status(): JobStatusView[];
}

export interface JobStatusView {
  name: string;
  schedule: string;
  timezone: string | null;
  running: boolean;
  last_start: string | null;
  last_success: string | null;
  last_error: string | null;
  last_error_at: string | null;
  last_duration_ms: number | null;
  next_run: string | null;
}

/** A log source's state for GET /v1/jobs: only the job leader consumes, the others stand by. */
export interface SourceStatusView {
  name: string;
  kind: 'nats';
  /** Where it reads from, without credentials. */
  url: string;
  stream: string;
  durable: string;
  state: 'standby' | 'connecting' | 'consuming' | 'stopping';
  /** Messages the consumer has not yet had acknowledged (num_pending + num_ack_pending); null before it is known. */
  lag: number | null;
  /** Messages received from the server, acknowledged after storing, and handed back unstored (nak). */
  delivered: number;
  acked: number;
  returned: number;
  records: { accepted: number; duplicates: number; rejected: number };
  /** Over the last minute. */
  throughput: { messages_per_s: number; records_per_s: number };
  batches: number;
  errors: number;
  last_batch_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
}

/** The log sources of this process (GET /v1/jobs lists them next to the jobs). */
export interface SourcesView {
  status(): SourceStatusView[];
}

/**
 * Per-process counters and histograms that services report to (GET /metrics); src/metrics/ implements it.
 * Optional in deps so services and tests without metrics need nothing.
 */
export interface MetricsSink {
  /** Ingest outcomes of one batch, per model as sent (the sink bounds the labels). */
  ingested(counts: {
    accepted: ReadonlyMap<string, number>;
    duplicate: ReadonlyMap<string, number>;
    rejected: ReadonlyMap<string | null, number>;
  }): void;
  /** Newly stored records: their model, version, status and the latency they report. */
  logged(
    records: readonly {
      model: string;
      modelVersion: string;
      status: 'ok' | 'error' | null;
      latencyMs: number | null;
    }[],
  ): void;
  /** One scored predict request of the bundled endpoint. */
  predicted(model: string, modelVersion: string, seconds: number): void;
  /** One run of a job, successful or not. */
  jobRan(job: string, seconds: number): void;
  /** One failed delivery attempt to a notification channel. */
  notificationFailed(channel: string): void;
  /** The log records of one OTLP export request (POST /v1/logs) and what became of them. */
  otlpLogs?(counts: { received: number; accepted: number; duplicates: number; rejected: number }): void;
  /** One batch of a log source stored and acknowledged: its messages and its records' outcomes. */
  sourceBatch?(
    source: string,
    counts: { messages: number; accepted: number; duplicates: number; rejected: number },
  ): void;
  /** One failure of a log source (connecting, fetching or storing). */
  sourceError?(source: string): void;
}

/** Everything a service function needs, passed explicitly instead of read from globals. */
export interface AppDeps {
  config: Config;
  store: Store;
  log: Logger;
  clock: Clock;
  /** The job registry, when jobs run in this process (absent in most tests). */
  jobs?: JobsView;
  /** Log sources (NATS JetStream consumers), when configured; they run on the job leader only. */
  sources?: SourcesView;
  /** Identity of this process in leases (job leader, delivery run); generated when absent. */
  instance?: string;
  /** This app's metrics (one prom-client Registry per deps); createApp makes one when absent. */
  metrics?: MetricsSink;
  /**
   * Brings this process's serving runtime up to date after a change of the served versions, so predict
   * answers from the new state at once whoever made the change (absent when the process serves nothing;
   * other processes of a fleet pick changes up within seconds).
   */
  servingChanged?: () => Promise<void>;
}

export type AppEnv = {
  Variables: {
    deps: AppDeps;
    requestId: string;
    log: Logger;
    /** Who is calling, set by the auth middleware (the token's name, or "anonymous" when the API is open). */
    actor: Actor;
    /** Set by routes that know which model a request concerns, so the request log line carries it. */
    model?: string;
  };
};

/** This process's identity in leases when deps name none (a test can give each app its own). */
const PROCESS_INSTANCE = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;

/** The identity this app holds leases under: the job leader, the delivery run. */
export function instanceOf(deps: { instance?: string }): string {
  return deps.instance ?? PROCESS_INSTANCE;
}
