import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config/index.js';
import type { AppDeps, JobStatusView } from '../../src/context.js';
import { JobRegistry, type RegistryOptions } from '../../src/jobs/registry.js';
import type { Store } from '../../src/store/index.js';
import { LeaseLock } from '../../src/store/lease-lock.js';
import { FIXED_NOW, openTestStore } from '../support.js';

// The leader lock: of several registries on one store exactly one runs jobs, and another takes over
// when the leader stops or stops renewing. Each registry stands for a process of its own on one database
// (on PostgreSQL each holds its lock on a session of its own).

// A schedule that never fires during a test (1 January, 00:00): ticks run only through runNow.
const NEVER = '0 0 1 1 *';

let store: Store | undefined;
const registries: JobRegistry[] = [];
afterEach(async () => {
  for (const r of registries.splice(0)) await r.stop();
  await store?.close();
  store = undefined;
});

interface Node {
  registry: JobRegistry;
  deps: AppDeps;
  calls: string[];
}

/** Registries on one store, each with its own instance id, sharing a movable clock. */
function cluster(options: RegistryOptions = {}, lock: 'store' | 'lease' = 'store') {
  const config = defaultConfig({ database: { path: ':memory:' } });
  store = openTestStore();
  const opened = store;
  // 'lease': leadership as a lease row with an expiry, whatever the store would use by itself.
  const shared: Store =
    lock === 'lease'
      ? Object.create(opened, {
          leaderLock: { value: (holder: string, ttlMs: number) => new LeaseLock(opened, holder, ttlMs) },
        })
      : opened;
  let now = FIXED_NOW;
  const log = pino({ level: 'silent' });
  const node = (instance: string, tick?: () => Promise<unknown>): Node => {
    const deps: AppDeps = { config, store: shared, log, clock: () => now, instance };
    const registry = new JobRegistry(deps, options);
    registries.push(registry);
    const calls: string[] = [];
    registry.register({
      name: 'count',
      schedule: NEVER,
      tick: async () => {
        calls.push(instance);
        return tick?.();
      },
    });
    return { registry, deps, calls };
  };
  return {
    node,
    setNow: (ms: number) => {
      now = ms;
    },
    /** Who holds leadership now, as the store's lock reports it (a probe that never takes it). */
    holder: async () => (await shared.leaderLock('probe', 1_000).holder())?.holder,
  };
}

describe('job leadership', () => {
  it('makes exactly one of two registries the leader; only the leader runs jobs; the other takes over after stop()', async () => {
    const c = cluster();
    const a = c.node('a');
    const b = c.node('b');
    await a.registry.start();
    await b.registry.start();
    expect([a.registry.leader(), b.registry.leader()]).toEqual([true, false]);
    expect(await c.holder()).toBe('a');

    expect(await a.registry.runNow('count')).toBe(true);
    expect(await b.registry.runNow('count')).toBe(false);
    expect(await a.registry.runNow('count')).toBe(true);
    expect(a.calls).toEqual(['a', 'a']);
    expect(b.calls).toEqual([]);

    // A follower's renewal does not take a live lease.
    expect(await b.registry.renew()).toBe(false);
    expect(b.registry.leader()).toBe(false);

    await a.registry.stop();
    expect(a.registry.leader()).toBe(false);
    // stop() hands the lease back at once: no waiting for it to expire.
    expect(await c.holder()).toBeUndefined();
    expect(await b.registry.renew()).toBe(true);
    expect(b.registry.leader()).toBe(true);
    expect(await c.holder()).toBe('b');
    expect(await b.registry.runNow('count')).toBe(true);
    expect(b.calls).toEqual(['b']);
    expect(a.calls).toEqual(['a', 'a']);
  });

  it('with a lease row, replaces a leader that stopped renewing once its lease has expired', async () => {
    const c = cluster({ leaseMs: 1_000, renewMs: 60_000 }, 'lease');
    const a = c.node('a');
    const b = c.node('b');
    await a.registry.start();
    await b.registry.start();
    expect(a.registry.leader()).toBe(true);

    // Still within a's lease: b cannot take over.
    c.setNow(FIXED_NOW + 900);
    expect(await b.registry.renew()).toBe(false);
    expect(await c.holder()).toBe('a');

    // a never renewed; past its lease b takes over on its next renewal.
    c.setNow(FIXED_NOW + 1_500);
    expect(await b.registry.renew()).toBe(true);
    expect(b.registry.leader()).toBe(true);
    expect(await c.holder()).toBe('b');
    expect(await b.registry.runNow('count')).toBe(true);
    expect(b.calls).toEqual(['b']);

    // When a renews again it learns it lost the lease and stops running jobs.
    expect(await a.registry.renew()).toBe(false);
    expect(a.registry.leader()).toBe(false);
    expect(await a.registry.runNow('count')).toBe(false);
    expect(a.calls).toEqual([]);
    expect(await c.holder()).toBe('b');
  });

  it("reports a failing tick's error in status() and GET /v1/jobs, with the leader flag", async () => {
    const c = cluster();
    let failing = true;
    const a = c.node('a', async () => {
      if (failing) throw new Error('disk on fire');
    });
    const b = c.node('b');
    await a.registry.start();
    await b.registry.start();
    c.setNow(FIXED_NOW + 5_000);
    expect(await a.registry.runNow('count')).toBe(true);
    expect(a.calls).toEqual(['a']);

    const [status] = a.registry.status();
    expect(status).toMatchObject({
      name: 'count',
      schedule: NEVER,
      running: false,
      last_start: new Date(FIXED_NOW + 5_000).toISOString(),
      last_success: null,
      last_error: 'disk on fire',
      last_error_at: new Date(FIXED_NOW + 5_000).toISOString(),
    });

    const leaderApp = createApp({ ...a.deps, jobs: a.registry });
    const res = await leaderApp.request('/v1/jobs');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { leader: boolean; jobs: JobStatusView[] };
    expect(body.leader).toBe(true);
    expect(body.jobs).toEqual([
      expect.objectContaining({ name: 'count', last_error: 'disk on fire', last_success: null }),
    ]);
    // The leader knows when the job runs next; a follower does not run it.
    expect(body.jobs[0]?.next_run).not.toBeNull();

    const ready = (await (await leaderApp.request('/readyz')).json()) as {
      checks: { leader: boolean; jobs: Record<string, string> };
    };
    expect(ready.checks.leader).toBe(true);
    expect(ready.checks.jobs.count).toBe('failing: disk on fire');

    const followerApp = createApp({ ...b.deps, jobs: b.registry });
    const follower = (await (await followerApp.request('/v1/jobs')).json()) as {
      leader: boolean;
      jobs: JobStatusView[];
    };
    expect(follower.leader).toBe(false);
    expect(follower.jobs).toEqual([
      expect.objectContaining({ name: 'count', last_error: null, last_start: null, next_run: null }),
    ]);

    // A later success clears the "failing" state in /readyz; the last error stays on record.
    failing = false;
    c.setNow(FIXED_NOW + 6_000);
    expect(await a.registry.runNow('count')).toBe(true);
    expect(a.registry.status()[0]).toMatchObject({
      last_success: new Date(FIXED_NOW + 6_000).toISOString(),
      last_error: 'disk on fire',
    });
    const after = (await (await leaderApp.request('/readyz')).json()) as {
      checks: { jobs: Record<string, string> };
    };
    expect(after.checks.jobs.count).toBe('ok');
  });
});

describe('job status', () => {
  it('records a run that finished with errors as failing, with the first error, until a clean run', async () => {
    store = openTestStore();
    const config = defaultConfig({ database: { path: ':memory:' } });
    let now = FIXED_NOW;
    const deps: AppDeps = { config, store, log: pino({ level: 'silent' }), clock: () => now, instance: 'a' };
    const registry = new JobRegistry(deps);
    registries.push(registry);
    let errors: unknown[] = [];
    registry.register({
      name: 'evaluate',
      schedule: NEVER,
      tick: async () => ({ errors }),
      errors: (r) => r.errors,
    });
    await registry.start();
    const status = () => registry.status().find((j) => j.name === 'evaluate');

    expect(await registry.runNow('evaluate')).toBe(true);
    expect(status()).toMatchObject({ last_success: new Date(now).toISOString(), last_error: null });

    now += 60_000;
    errors = [{ model: 'clf', kind: 'rolling', error: 'rebin: edges must be strictly ascending' }, 'second'];
    await registry.runNow('evaluate');
    expect(status()).toMatchObject({
      last_success: new Date(FIXED_NOW).toISOString(),
      last_error_at: new Date(now).toISOString(),
    });
    expect(status()?.last_error).toMatch(/^2 errors, the first: .*rebin: edges must be strictly ascending/);
    // /readyz shows the job failing (without taking the API out of service).
    const app = createApp({ ...deps, jobs: registry });
    const ready = (await (await app.request('/readyz')).json()) as {
      checks: { jobs: Record<string, string> };
    };
    expect(ready.checks.jobs.evaluate).toMatch(/^failing: 2 errors/);

    now += 60_000;
    errors = [];
    await registry.runNow('evaluate');
    expect(status()?.last_success).toBe(new Date(now).toISOString());
    const again = (await (await app.request('/readyz')).json()) as {
      checks: { jobs: Record<string, string> };
    };
    expect(again.checks.jobs.evaluate).toBe('ok');
  });
});
