import { processDriftResult, processTraffic, resendFiring, wakeSnoozed } from '../alerts/raise.js';
import { driftSettingsFor } from '../config/index.js';
import type { AppDeps } from '../context.js';
import { type DriftResult, evaluateAndStore, evaluateModel, rollingWindow } from '../drift/service.js';
import { alertmanagerChannels } from '../notifications/service.js';
import { judgePerformance } from '../performance/alerts.js';
import { rollupCutoff } from '../retention/rollup.js';
import type { ChangedBucket } from '../store/index.js';
import { DAY_MS, rollsUp } from '../store/repos/buckets.js';
import { windowTraffic } from '../traffic/service.js';

// The composing step: drift/ evaluates windows, alerts/ turns results into alerts. Nothing else wires
// the two together, so data flows one way (aggregates → drift → alerts → notifications).

type Deps = Pick<AppDeps, 'store' | 'config' | 'clock'>;

/** Changed buckets taken per tick; the rest wait for the next one. */
export const TICK_BUCKETS = 5_000;

export interface DriftTickResult {
  evaluated: number;
  /** Changed buckets left for a later tick (still open, being rebuilt, or beyond this tick's share). */
  pending: number;
  errors: { model: string; model_version: string | null; kind: string; from: string; error: string }[];
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Judges a window's traffic (latency p95, error rate) when the model has traffic thresholds; independent of
 * any baseline, so a model without one gets traffic alerts too.
 */
async function judgeTraffic(
  deps: Deps,
  model: string,
  modelVersion: string,
  kind: 'bucket' | 'rolling',
  from: number,
  to: number,
): Promise<void> {
  const s = driftSettingsFor(deps.config, model);
  if (s.latencyP95Ms === undefined && s.errorRate === undefined) return;
  const traffic = await deps.store.read((tx) =>
    windowTraffic(tx, { model, modelVersion, bucketMs: s.bucket, from, to }),
  );
  await processTraffic(deps, { model, modelVersion, kind, from, to, traffic });
}

/** Evaluates a window and hands the result to alerts; one window's failure is reported, not thrown. */
async function evaluateAndRaise(
  deps: Deps,
  result: DriftTickResult,
  model: string,
  modelVersion: string,
  kind: 'bucket' | 'rolling',
  from: number,
  to: number,
): Promise<boolean> {
  try {
    await judgeTraffic(deps, model, modelVersion, kind, from, to);
    await judgePerformance(deps, model, modelVersion, kind, from, to);
    const r = await evaluateAndStore(deps, model, modelVersion, kind, from, to);
    if (r) {
      await processDriftResult(deps, r);
      result.evaluated++;
      // An activation began after this tick looked: the window is provisional, so judge it again later.
      if (r.rebuilding) return false;
    }
    return true;
  } catch (err) {
    result.errors.push({
      model,
      model_version: modelVersion || null,
      kind,
      from: new Date(from).toISOString(),
      error: (err as Error).message,
    });
    return false;
  }
}

/**
 * Evaluates every closed bucket whose data changed since it was last taken (late data included) and the
 * rolling window of each model version that received data in it, then wakes due snoozes. A bucket is
 * forgotten only when its evaluations succeeded and it did not change again meanwhile (its change
 * sequence is compared), so nothing is lost to commit order, clocks or crashes. `now` is given.
 */
export async function runDriftTick(deps: Deps, now: number): Promise<DriftTickResult> {
  const { changed, rebuilding } = await deps.store.read(async (tx) => {
    const rebuilding = new Set<string>();
    for (const a of await tx.baselines.activations())
      for (const v of JSON.parse(a.versions) as string[]) rebuilding.add(`${a.model}\u0000${v}`);
    return { changed: await tx.aggregates.changed(TICK_BUCKETS), rebuilding };
  });
  const result: DriftTickResult = { evaluated: 0, pending: 0, errors: [] };
  const rolling = new Map<string, { model: string; modelVersion: string; members: ChangedBucket[] }>();
  const closed: { bucket: ChangedBucket; inRolling: boolean }[] = [];
  for (const c of changed) {
    const s = driftSettingsFor(deps.config, c.model);
    if (c.bucketMs !== s.bucket) {
      // Aggregated under another bucket size (the config changed): nothing evaluates those buckets now.
      await deps.store.tx((tx) => tx.aggregates.takeChanged(c, c.seq));
      continue;
    }
    // Late data for an hour of a day already rolled up: the hour alone no longer holds its records (the day
    // row does), so its stored result stays; the day row takes the late rows at the next rollup.
    if (rollsUp(c.bucketMs) && c.bucketStart < rollupCutoff(deps.config, now)) {
      const day = c.bucketStart - (c.bucketStart % DAY_MS);
      const key = { model: c.model, modelVersion: c.modelVersion, day };
      if (await deps.store.read((tx) => tx.aggregates.hasDayRow(key))) {
        await deps.store.tx((tx) => tx.aggregates.takeChanged(c, c.seq));
        continue;
      }
    }
    const versionKey = `${c.model}\u0000${c.modelVersion}`;
    if (rebuilding.has(versionKey)) {
      result.pending++;
      continue;
    }
    const roll = rollingWindow(deps, c.model, now);
    const inRolling = c.bucketStart >= roll.from && c.bucketStart < roll.to;
    if (inRolling && c.seq > c.rolledSeq) {
      const r = rolling.get(versionKey) ?? { model: c.model, modelVersion: c.modelVersion, members: [] };
      r.members.push(c);
      rolling.set(versionKey, r);
    }
    if (c.bucketStart + c.bucketMs <= now) closed.push({ bucket: c, inRolling });
    else result.pending++;
  }

  const rolledOk = new Set<string>();
  for (const [key, r] of rolling) {
    const roll = rollingWindow(deps, r.model, now);
    if (await evaluateAndRaise(deps, result, r.model, r.modelVersion, 'rolling', roll.from, roll.to)) {
      rolledOk.add(key);
      await deps.store.tx(async (tx) => {
        for (const m of r.members) await tx.aggregates.markRolled(m, m.seq);
      });
    }
    await yieldToEventLoop();
  }
  for (const { bucket: b, inRolling } of closed) {
    const ok = await evaluateAndRaise(
      deps,
      result,
      b.model,
      b.modelVersion,
      'bucket',
      b.bucketStart,
      b.bucketStart + b.bucketMs,
    );
    const rolled = !inRolling || b.seq <= b.rolledSeq || rolledOk.has(`${b.model}\u0000${b.modelVersion}`);
    // A window that failed stays changed and is retried by the next tick.
    if (ok && rolled) await deps.store.tx((tx) => tx.aggregates.takeChanged(b, b.seq));
    else result.pending++;
    await yieldToEventLoop();
  }
  await wakeSnoozed(deps, now);
  return result;
}

/** POST /v1/models/:model/drift/run: evaluate now and raise alerts from bucket and rolling windows. */
export async function runDriftNow(
  deps: Deps,
  model: string,
  range: { from?: number; to?: number } = {},
): Promise<DriftResult[]> {
  const results = await evaluateModel(deps, model, range);
  for (const r of results) {
    await processDriftResult(deps, r);
    if (r.window_kind !== 'range') {
      const args = [Date.parse(r.window.from), Date.parse(r.window.to)] as const;
      await judgeTraffic(deps, model, r.model_version ?? '', r.window_kind, ...args);
      await judgePerformance(deps, model, r.model_version ?? '', r.window_kind, ...args);
    }
  }
  return results;
}

/** Keeps Alertmanager's view fresh: re-sends firing alerts every notifications.alertmanagerResend. */
export function alertmanagerResendTick(deps: Deps) {
  let last = 0;
  return async (now: number): Promise<number> => {
    if (alertmanagerChannels(deps.config).length === 0) return 0;
    if (now - last < deps.config.notifications.alertmanagerResend) return 0;
    last = now;
    return resendFiring(deps, now);
  };
}
