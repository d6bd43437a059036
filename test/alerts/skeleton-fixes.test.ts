import { afterEach, describe, expect, it } from 'vitest';
import type { AlertView } from '../../src/alerts/types.js';
import { startActivation } from '../../src/baselines/service.js';
import { syntheticTraining } from '../drift/helpers.js';
import type { ErrorBody } from './helpers.js';
import { HOUR, hour, type MApp, MIN, mBatch, setupM } from './helpers.js';

let m: MApp | undefined;
afterEach(async () => {
  await m?.t.close();
  m = undefined;
});

const DAY = 24 * HOUR;

describe('alerts from backfilled buckets', () => {
  it('recover on a calm bucket later in event time, not on an earlier one', async () => {
    m = await setupM();
    // Two days back: far outside the one-hour rolling window, so no rolling window ever judges these hours.
    const past = hour(8) - 2 * DAY;
    await m.window('early-calm', past - HOUR, 0);
    await m.window('hot', past, 0.6);
    await m.tick(m.t.deps.clock() + MIN);
    const [alert] = (await m.reviewer.alerts()).filter((a) => a.feature === 'x' && a.kind === 'drift');
    expect(alert?.recovered).toBe(false);

    // A calm bucket *before* the drifting one (re-evaluated because late data arrived) is no recovery.
    await m.window('early-late', past - HOUR, 0, undefined, 20);
    await m.tick(m.t.deps.clock() + MIN);
    expect((await m.reviewer.alert(alert?.id as number)).recovered).toBe(false);

    // The next hour in event time is back to the training distribution: the alert recovers.
    await m.window('calm', past + HOUR, 0);
    await m.tick(m.t.deps.clock() + MIN);
    const after = await m.reviewer.alert(alert?.id as number);
    expect(after.recovered).toBe(true);
    expect(after.events.map((e) => e.action)).toContain('recovered');
  });
});

describe('features the baseline does not have', () => {
  it('are counted per window and raise a data-quality alert on that name', async () => {
    m = await setupM();
    const batch = mBatch('z', hour(8), 0).map((r) => ({
      ...r,
      features: { ...(r.features as object), zip: '10115' },
    }));
    await m.reviewer.ingest(batch);
    await m.tick(hour(9) + 5 * MIN);
    const [result] = await m.reviewer.driftRun('m', { from: hour(8), to: hour(9) });
    expect(result?.unknown_features).toEqual([{ feature: 'zip', records: 200, rate: 1 }]);
    const schema = (await m.reviewer.alerts()).filter((a) => a.feature === 'zip');
    expect(schema).toHaveLength(1);
    expect(schema[0]).toMatchObject({ kind: 'data_quality', severity: 'critical', status: 'open' });
    expect(schema[0]?.latest.unknown_feature_rate).toBe(1);
    // No drift alert on the known features: the distribution is the training one.
    expect((await m.reviewer.alerts()).filter((a) => a.kind === 'drift')).toEqual([]);
  });
});

describe('rollback decisions', () => {
  it('are refused with 409 when the model has no earlier version, and name the earlier one otherwise', async () => {
    m = await setupM();
    await m.reviewer.ingest(mBatch('v2', hour(8), 0.6, 200, { model_version: 'v2' }));
    await m.tick(hour(9) + 5 * MIN);
    const alert = (await m.reviewer.alerts()).find(
      (a) => a.feature === 'x' && a.kind === 'drift',
    ) as AlertView;
    const refused = await m.reviewer.act<ErrorBody>(
      alert.id,
      'decision',
      { decision: 'rollback', note: 'bad' },
      alert.version,
    );
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('conflict');
    expect(refused.body.error.message).toMatch(/no version before v2/);
    expect((await m.reviewer.alert(alert.id)).status).toBe('open');

    // An earlier version exists once v1 has sent records (earlier first timestamp).
    await m.reviewer.ingest(mBatch('v1', hour(2), 0, 10, { model_version: 'v1' }));
    const ok = await m.reviewer.act<{ rollback: { to_version: string; from_version: string } }>(
      alert.id,
      'decision',
      { decision: 'rollback', note: 'bad release' },
      alert.version,
    );
    expect(ok.status).toBe(200);
    expect(ok.body.rollback).toMatchObject({ from_version: 'v2', to_version: 'v1' });
  });
});

describe('threshold overrides', () => {
  it('refuse psi_critical below psi_warning and features the baseline does not know', async () => {
    m = await setupM();
    const put = (feature: string, body: unknown) =>
      m?.admin.request<ErrorBody>('PUT', `/v1/models/m/features/${feature}/thresholds`, body);
    const low = await put('x', { psi_warning: 0.3, psi_critical: 0.2, reason: 'try' });
    expect(low?.status).toBe(400);
    expect(low?.body.error.details).toMatchObject({ problems: [{ path: 'psi_critical' }] });
    // Only psi_warning raised above the configured critical (0.25): the merged pair is refused too.
    const merged = await put('x', { psi_warning: 0.4, reason: 'try' });
    expect(merged?.status).toBe(400);
    const unknown = await put('nope', { psi_warning: 0.2, reason: 'try' });
    expect(unknown?.status).toBe(404);
    expect(unknown?.body.error.message).toMatch(/no feature nope/);
    const unknownModel = await m.admin.request<ErrorBody>('PUT', '/v1/models/ghost/features/x/thresholds', {
      psi_warning: 0.2,
      reason: 'try',
    });
    expect(unknownModel.status).toBe(404);
    const good = await put('x', { psi_warning: 0.2, psi_critical: 0.5, reason: 'noisy feature' });
    expect(good?.status).toBe(200);
    expect(good?.body).toMatchObject({ psi_warning: 0.2, psi_critical: 0.5, source: 'override' });
  });
});

describe('drift queries on unknown names', () => {
  it('answer 404 for a model or feature that does not exist, and 200 with nothing for no data yet', async () => {
    m = await setupM();
    const run = await m.reviewer.post<ErrorBody>('/v1/models/ghost/drift/run', '');
    expect(run.status).toBe(404);
    expect((await m.reviewer.get<ErrorBody>('/v1/models/ghost/drift')).status).toBe(404);
    expect((await m.reviewer.get<ErrorBody>('/v1/models/ghost/drift/latest')).status).toBe(404);
    const feature = await m.reviewer.get<ErrorBody>('/v1/models/m/drift?feature=nope');
    expect(feature.status).toBe(404);
    expect(feature.body.error.message).toMatch(/feature nope/);
    // Model m has a baseline but no results yet: an empty series, not an error.
    const empty = await m.reviewer.get<{ results: unknown[] }>('/v1/models/m/drift?feature=x');
    expect(empty.status).toBe(200);
    expect(empty.body.results).toEqual([]);
  });
});

describe('accept_shift while another activation of the model runs', () => {
  it('answers 409 and leaves the alert and the active baseline as they were', async () => {
    m = await setupM();
    await m.window('hot', hour(8), 0.6);
    await m.tick(hour(9) + 5 * MIN);
    const alert = (await m.reviewer.alerts()).find(
      (a) => a.feature === 'x' && a.kind === 'drift',
    ) as AlertView;
    const other = await m.admin.baseline('m', JSON.stringify(syntheticTraining()), 'application/json', {
      activate: 'false',
    });
    await startActivation(m.t.deps, 'm', other.id, 'root');
    const res = await m.reviewer.act<ErrorBody>(
      alert.id,
      'decision',
      { decision: 'accept_shift', note: 'new normal', confirm: true },
      alert.version,
    );
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('conflict');
    const after = await m.reviewer.alert(alert.id);
    expect(after).toMatchObject({ status: 'open', version: alert.version, decision: null });
    const baselines = (
      await m.admin.get<{ baselines: { id: number; active: boolean }[] }>('/v1/models/m/baselines')
    ).body.baselines;
    // The baseline built from the window exists but was not activated; the one being activated is.
    expect(baselines.filter((b) => b.active).map((b) => b.id)).toEqual([other.id]);
  });
});
