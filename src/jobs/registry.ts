import cron, { type ScheduledTask } from 'node-cron';
import { type AppDeps, instanceOf, type JobStatusView, type JobsView } from '../context.js';
import type { LeaderLock } from '../store/index.js';

/** A job as a capability registers it: a schedule and a pure tick that receives the time it runs at. */
export interface JobDefinition<R = unknown> {
  name: string;
  /** node-cron expression (seconds field optional). */
  schedule: string;
  /** IANA zone the schedule is read in (default: the process's zone). */
  timezone?: string;
  tick: (now: number) => Promise<R>;
  /** True when a run did nothing worth an info line (logged at debug instead): frequent ticks stay quiet. */
  idle?: (result: R) => boolean;
  /** Problems a run reports without failing (e.g. one window of many); logged as a warning. */
  errors?: (result: R) => unknown[];
  /** Also run at once when this process becomes the leader (resuming what a previous leader left). */
  onLeadership?: boolean;
}

interface JobState {
  def: JobDefinition;
  task: ScheduledTask | null;
  running: Promise<void> | null;
  lastStart: number | null;
  lastSuccess: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  lastDurationMs: number | null;
}

export interface RegistryOptions {
  /** How long leadership lasts without renewal; a dead leader is replaced after at most this long. */
  leaseMs?: number;
  /** How often the leader renews (and followers try to take over). */
  renewMs?: number;
}

/**
 * Runs registered jobs on their schedules, but only while this process is the leader: one lease row in
 * the store, renewed every few seconds, so two processes on one database never both run jobs. A tick
 * that is still running is not started again; each job's last start, success, error and duration are kept
 * for GET /v1/jobs and /readyz.
 */
export class JobRegistry implements JobsView {
  private readonly jobs = new Map<string, JobState>();
  private isLeader = false;
  private renewTimer: NodeJS.Timeout | null = null;
  private started = false;
  private stopping = false;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly instance: string;
  private readonly lock: LeaderLock;
  private readonly leadershipListeners: ((leader: boolean) => void)[] = [];

  constructor(
    private readonly deps: Pick<AppDeps, 'store' | 'clock' | 'log' | 'config' | 'metrics'> & {
      instance?: string;
    },
    options: RegistryOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? 15_000;
    this.renewMs = options.renewMs ?? 5_000;
    this.instance = instanceOf(deps);
    this.lock = deps.store.leaderLock(this.instance, this.leaseMs);
  }

  leadership(): { instance: string; mechanism: LeaderLock['mechanism'] } {
    return { instance: this.instance, mechanism: this.lock.mechanism };
  }

  register<R>(def: JobDefinition<R>): void {
    if (this.jobs.has(def.name)) throw new Error(`job ${def.name} is registered twice`);
    if (!cron.validate(def.schedule)) throw new Error(`job ${def.name}: invalid schedule ${def.schedule}`);
    this.jobs.set(def.name, {
      def: def as JobDefinition,
      task: null,
      running: null,
      lastStart: null,
      lastSuccess: null,
      lastError: null,
      lastErrorAt: null,
      lastDurationMs: null,
    });
  }

  leader(): boolean {
    return this.isLeader;
  }

  /** Called on every change of leadership (and on stop): long-running work such as log sources follows it. */
  onLeadershipChange(listener: (leader: boolean) => void): void {
    this.leadershipListeners.push(listener);
  }

  private leadershipChanged(leader: boolean): void {
    for (const listener of this.leadershipListeners) {
      try {
        listener(leader);
      } catch (err) {
        this.deps.log.error({ err }, 'leadership listener failed');
      }
    }
  }

  /** Takes or renews leadership; logs every change. */
  async renew(): Promise<boolean> {
    let held = false;
    try {
      held = await this.lock.hold(this.deps.clock());
    } catch (err) {
      // Without the store we cannot know who leads: stop running jobs until renewal works again.
      this.deps.log.error({ err }, 'leader lease renewal failed');
    }
    // A renewal that finished after stop() began must not make a stopping process the leader again.
    if (this.stopping) {
      if (held) await this.lock.release().catch(() => undefined);
      if (this.isLeader) this.leadershipChanged(false);
      this.isLeader = false;
      return false;
    }
    if (held !== this.isLeader) {
      this.isLeader = held;
      if (held) {
        this.deps.log.info(
          { instance: this.instance, lease_ms: this.leaseMs, mechanism: this.lock.mechanism },
          'leader: this process runs the jobs',
        );
        if (this.started) this.runOnLeadership();
      } else this.deps.log.warn({ instance: this.instance }, 'not the leader: jobs run in another process');
      this.leadershipChanged(held);
    }
    return held;
  }

  async start(): Promise<void> {
    if (this.started) return;
    await this.renew();
    this.started = true;
    if (!this.isLeader) {
      const lease = await this.lock.holder().catch(() => undefined);
      this.deps.log.warn(
        {
          holder: lease?.holder,
          expires_at: lease?.expiresAt ? new Date(lease.expiresAt).toISOString() : null,
          mechanism: this.lock.mechanism,
        },
        'another driftwatch process on this database holds the job lease; this one serves the API and takes over the jobs if that process stops',
      );
    }
    this.renewTimer = setInterval(() => void this.renew(), this.renewMs);
    this.renewTimer.unref();
    if (this.isLeader) this.runOnLeadership();
    const log = this.deps.log;
    for (const state of this.jobs.values()) {
      const { def } = state;
      state.task = cron.schedule(def.schedule, () => this.fire(state), {
        name: def.name,
        ...(def.timezone ? { timezone: def.timezone } : {}),
        // node-cron's own messages become JSON log lines like everything else.
        logger: {
          info: (msg: string) => log.debug({ job: def.name }, `cron: ${msg}`),
          debug: (msg: string) => log.debug({ job: def.name }, `cron: ${msg}`),
          warn: (msg: string) =>
            msg.includes('overlap')
              ? log.debug({ job: def.name }, `cron: ${msg}`)
              : log.warn({ job: def.name }, `cron: ${msg}`),
          error: (msg: unknown, extra?: unknown) =>
            log.error({ job: def.name, err: msg, extra }, 'cron error'),
        },
      });
    }
  }

  /** Work a previous leader left unfinished (a rebuild cut short by a crash) need not wait for its schedule. */
  private runOnLeadership(): void {
    for (const state of this.jobs.values()) if (state.def.onLeadership) this.fire(state);
  }

  private fire(state: JobState): void {
    if (!this.isLeader || this.stopping || state.running) return;
    void this.runJob(state);
  }

  private runJob(state: JobState): Promise<void> {
    const { def } = state;
    const log = this.deps.log;
    const run = (async () => {
      const started = this.deps.clock();
      const t0 = performance.now();
      state.lastStart = started;
      try {
        const result = await def.tick(started);
        state.lastDurationMs = Math.round(performance.now() - t0);
        this.deps.metrics?.jobRan(def.name, (performance.now() - t0) / 1000);
        const errors = def.errors?.(result) ?? [];
        // A run that could not do part of its work (a window that cannot be evaluated, a report that failed)
        // is not a success: status and /readyz say it fails, with the first error, until a clean run.
        if (errors.length > 0) {
          state.lastError = `${errors.length} error${errors.length === 1 ? '' : 's'}, the first: ${describeError(errors[0])}`;
          state.lastErrorAt = this.deps.clock();
        } else state.lastSuccess = this.deps.clock();
        if (errors.length > 0)
          log.warn({ job: def.name, duration_ms: state.lastDurationMs, result }, 'job done with errors');
        else if (def.idle?.(result)) log.debug({ job: def.name, result }, 'job done');
        else log.info({ job: def.name, duration_ms: state.lastDurationMs, result }, 'job done');
      } catch (err) {
        state.lastDurationMs = Math.round(performance.now() - t0);
        this.deps.metrics?.jobRan(def.name, (performance.now() - t0) / 1000);
        state.lastError = err instanceof Error ? err.message : String(err);
        state.lastErrorAt = this.deps.clock();
        log.error({ job: def.name, err }, 'job failed');
      }
    })();
    state.running = run.finally(() => {
      state.running = null;
    });
    return state.running;
  }

  /** Runs a job now (if this process leads and it is not already running); resolves when it is done. */
  async runNow(name: string): Promise<boolean> {
    const state = this.jobs.get(name);
    if (!state) throw new Error(`no job named ${name}`);
    if (!this.isLeader || this.stopping) return false;
    if (state.running) {
      await state.running;
      return true;
    }
    await this.runJob(state);
    return true;
  }

  status(): JobStatusView[] {
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return [...this.jobs.values()].map((s) => {
      const next = s.task?.getNextRun() ?? null;
      return {
        name: s.def.name,
        schedule: s.def.schedule,
        timezone: s.def.timezone ?? null,
        running: s.running !== null,
        last_start: iso(s.lastStart),
        last_success: iso(s.lastSuccess),
        last_error: s.lastError,
        last_error_at: iso(s.lastErrorAt),
        last_duration_ms: s.lastDurationMs,
        next_run: this.isLeader && next ? next.toISOString() : null,
      };
    });
  }

  /** Stops scheduling, waits for running ticks, and hands leadership back so another process takes over at once. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.renewTimer) clearInterval(this.renewTimer);
    await Promise.all([...this.jobs.values()].map((s) => s.task?.destroy()));
    await Promise.all([...this.jobs.values()].map((s) => s.running));
    if (this.isLeader) {
      this.isLeader = false;
      this.leadershipChanged(false);
      await this.lock.release().catch(() => undefined);
    }
  }
}

/** One error of a job's result as a line of text (an Error's message, a string, or its JSON). */
function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'string') return e;
  const text = JSON.stringify(e) ?? String(e);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
