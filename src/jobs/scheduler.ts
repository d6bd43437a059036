import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../logger.js';

export interface Job {
  name: string;
  schedule: string;
  /** The pure tick; the scheduler only calls it, logs, and records the outcome. */
  run: (now: number) => unknown | Promise<unknown>;
  /** True when a run did nothing worth an info line (logged at debug instead): frequent ticks stay quiet. */
  idle?: (result: never) => boolean;
}

export interface JobStatus {
  name: string;
  schedule: string;
  lastSuccessAt: number | null;
  lastError: string | null;
}

export interface Scheduler {
  status(): JobStatus[];
  stop(): Promise<void>;
}

export function startScheduler(jobs: Job[], log: Logger, clock: () => number): Scheduler {
  const status = new Map<string, JobStatus>();
  const tasks: ScheduledTask[] = [];
  for (const job of jobs) {
    const s: JobStatus = { name: job.name, schedule: job.schedule, lastSuccessAt: null, lastError: null };
    status.set(job.name, s);
    const task = cron.schedule(
      job.schedule,
      async () => {
        const started = clock();
        try {
          const result = await job.run(started);
          s.lastSuccessAt = clock();
          s.lastError = null;
          const failed = (result as { errors?: unknown[] } | undefined)?.errors?.length ?? 0;
          if (failed > 0) log.warn({ job: job.name, duration_ms: s.lastSuccessAt - started, result }, 'job done with errors');
          else if (job.idle?.(result as never)) log.debug({ job: job.name, result }, 'job done');
          else log.info({ job: job.name, duration_ms: s.lastSuccessAt - started, result }, 'job done');
        } catch (err) {
          s.lastError = (err as Error).message;
          log.error({ job: job.name, err }, 'job failed');
        }
      },
      { name: job.name, noOverlap: true },
    );
    tasks.push(task);
  }
  return {
    status: () => [...status.values()],
    stop: async () => {
      await Promise.all(tasks.map((t) => t.destroy()));
    },
  };
}
