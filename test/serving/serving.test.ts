import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/app.js';
import type { ConfigInput } from '../../src/config/index.js';
import { ServingRuntime } from '../../src/serving/runtime.js';
import { rollbackModel } from '../../src/serving/versions.js';
import { jensenShannon, psi } from '../../src/stats/index.js';
import { AUTH_CONFIG, bearer, TOKENS } from '../alerts/helpers.js';
import { slowRegressionModel } from '../fixtures/onnx/models.js';
import { insertAlertRow } from '../notifications/helpers.js';
import { REPO_ROOT } from '../server/process.js';
import { makeTestApp, type TestApp, tempDir } from '../support.js';

// The bundled inference endpoint through its HTTP API, on either store: versions uploaded, activated and
// rolled back (also by a review decision), strict schemas, deadlines, self-logging, shadows, OIP v2.

const MODELS = join(REPO_ROOT, 'models', 'weather');
const artifact = (v: string) => ({
  manifest: JSON.parse(readFileSync(join(MODELS, v, 'manifest.json'), 'utf8')) as Record<string, unknown>,
  model_base64: readFileSync(join(MODELS, v, 'model.onnx')).toString('base64'),
  baseline_csv: readFileSync(join(MODELS, v, 'baseline.csv'), 'utf8'),
});
const golden = (v: string) =>
  (
    JSON.parse(readFileSync(join(MODELS, v, 'golden.json'), 'utf8')) as {
      cases: { features: Record<string, number>; label: string; probabilities: Record<string, number> }[];
    }
  ).cases;

interface Serving {
  t: TestApp;
  runtime: ServingRuntime;
  /** The app with the serving routes (t.app has none). */
  app: ReturnType<typeof createApp>;
  call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: T; headers: Headers }>;
}

const open: Serving[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) {
    await s.runtime.close();
    await s.t.close();
  }
});

async function serving(config: ConfigInput = {}): Promise<Serving> {
  const { dir, cleanup } = tempDir();
  const t = makeTestApp({ ...config, serving: { modelsDir: dir, ...config.serving } });
  const runtime = new ServingRuntime(t.deps);
  await runtime.start();
  const app = createApp(t.deps, { serving: runtime });
  const s: Serving = {
    t,
    runtime,
    app,
    async call(method, path, body, headers = {}) {
      const res = await app.request(path, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : null) as never, headers: res.headers };
    },
  };
  open.push(s);
  setTimeout(cleanup, 0).unref();
  return s;
}

const DAY = { precipitation: 0, temp_max: 24, temp_min: 13, wind: 2.5 };

/** A regression model `slow` whose every run takes far longer than any deadline here (see the fixture). */
const slowVersion = () => ({
  manifest: {
    name: 'slow',
    version: '1',
    created_at: '2026-11-01T00:00:00Z',
    training_data: { sha256: 'a'.repeat(64), rows: 1, source: 'none' },
    code_commit: 'test',
    inputs: [{ name: 'x', type: 'number', required: true }],
    output: { kind: 'regression', value: 'value' },
  },
  model_base64: slowRegressionModel(2048, 40).toString('base64'),
});

describe('versions', () => {
  it('uploads, activates and rolls back; every answer names the version that produced it', async () => {
    const s = await serving();
    const up1 = await s.call('POST', '/v1/models/weather/versions', artifact('1'));
    expect(up1.status, JSON.stringify(up1.body)).toBe(201);
    // The first version of a model becomes active, with its training data as the version's baseline.
    expect(up1.body).toMatchObject({ version: '1', state: 'active', baseline_id: expect.any(Number) });
    const up2 = await s.call('POST', '/v1/models/weather/versions', artifact('2'));
    expect(up2.body).toMatchObject({ version: '2', state: 'registered' });
    expect((await s.call('POST', '/v1/models/weather/versions', artifact('2'))).status).toBe(409);

    const first = await s.call<{ model_version: string }>('POST', '/v1/models/weather/predict', {
      features: DAY,
    });
    expect(first.status).toBe(200);
    expect(first.body.model_version).toBe('1');
    expect(first.headers.get('x-model-version')).toBe('1');

    expect(
      (await s.call('POST', '/v1/models/weather/versions/2/activate', { note: 'retrained' })).status,
    ).toBe(200);
    const second = await s.call<{ model_version: string }>('POST', '/v1/models/weather/predict', {
      features: DAY,
    });
    expect(second.body.model_version).toBe('2');

    const back = await s.call<{ version: { version: string }; previous: string }>(
      'POST',
      '/v1/models/weather/rollback',
      {
        note: 'fog days got worse',
      },
    );
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect(back.body).toMatchObject({ version: { version: '1' }, previous: '2' });
    expect(
      (await s.call<{ model_version: string }>('POST', '/v1/models/weather/predict', { features: DAY })).body
        .model_version,
    ).toBe('1');

    // The active version cannot be deleted; the other one can. Every change is in the audit trail.
    expect((await s.call('DELETE', '/v1/models/weather/versions/1')).status).toBe(409);
    const list = await s.call<{
      versions: { version: string; state: string }[];
      events: { action: string; actor: string }[];
    }>('GET', '/v1/models/weather/versions');
    expect(list.body.versions.map((v) => [v.version, v.state])).toEqual([
      ['1', 'active'],
      ['2', 'registered'],
    ]);
    expect(list.body.events.map((e) => e.action).slice(0, 4)).toEqual([
      'rollback',
      'activate',
      'baseline',
      'register',
    ]);
    expect(list.body.events[0]).toMatchObject({ action: 'rollback', actor: 'anonymous' });
    expect((await s.call('DELETE', '/v1/models/weather/versions/2')).status).toBe(204);
  });

  it('refuses a bad manifest, naming every problem, and unsafe names', async () => {
    const s = await serving();
    const bad = artifact('1');
    bad.manifest = { ...bad.manifest, inputs: [{ name: 'x', type: 'text' }], training_data: { rows: -1 } };
    const res = await s.call<{ error: { code: string; message: string } }>(
      'POST',
      '/v1/models/weather/versions',
      bad,
    );
    expect(res.status).toBe(422);
    expect(res.body.error.message).toMatch(/inputs\[0\]\.type/);
    expect(res.body.error.message).toMatch(/training_data/);
    expect((await s.call('POST', '/v1/models/..%2Fetc/versions', artifact('1'))).status).toBe(400);
    expect((await s.call('POST', '/v1/models/other/versions', artifact('1'))).status).toBe(422);
  });

  it('refuses an upload whose graph does not load, or whose training data lacks inputs, leaving nothing behind', async () => {
    const s = await serving();
    expect((await s.call('POST', '/v1/models/weather/versions', artifact('1'))).status).toBe(201);
    const garbage = { ...artifact('2'), model_base64: Buffer.from('not onnx').toString('base64') };
    const bad = await s.call<{ error: { code: string; message: string } }>(
      'POST',
      '/v1/models/weather/versions?activate=true',
      garbage,
    );
    expect(bad.status).toBe(422);
    expect(bad.body.error.message).toMatch(/^model: /);
    // Still served by version 1; version 2 can be uploaded properly afterwards.
    expect(
      (await s.call<{ model_version: string }>('POST', '/v1/models/weather/predict', { features: DAY })).body
        .model_version,
    ).toBe('1');
    const wrongOutput = artifact('2');
    wrongOutput.manifest = {
      ...wrongOutput.manifest,
      output: { ...(wrongOutput.manifest.output as object), probabilities: 'probs' },
    };
    const named = await s.call<{ error: { details: { problems: { path: string }[] } } }>(
      'POST',
      '/v1/models/weather/versions',
      wrongOutput,
    );
    expect(named.status).toBe(422);
    expect(named.body.error.details.problems.map((p) => p.path)).toEqual(['manifest.output.probabilities']);
    const noInputs = { ...artifact('2'), baseline_csv: 'a,b\n1,2\n' };
    const csv = await s.call<{ error: { message: string } }>('POST', '/v1/models/weather/versions', noInputs);
    expect(csv.status).toBe(422);
    expect(csv.body.error.message).toMatch(/baseline_csv: the training data lacks the inputs precipitation/);
    expect((await s.call('POST', '/v1/models/weather/versions', artifact('2'))).status).toBe(201);
  });

  it('is for admins: a reviewer may read versions but not activate or roll back', async () => {
    const s = await serving(AUTH_CONFIG);
    expect(
      (await s.call('POST', '/v1/models/weather/versions', artifact('1'), bearer(TOKENS.admin))).status,
    ).toBe(201);
    expect(
      (await s.call('POST', '/v1/models/weather/versions', artifact('2'), bearer(TOKENS.reviewer))).status,
    ).toBe(403);
    expect(
      (await s.call('GET', '/v1/models/weather/versions', undefined, bearer(TOKENS.reviewer))).status,
    ).toBe(200);
    expect((await s.call('POST', '/v1/models/weather/rollback', {}, bearer(TOKENS.reviewer))).status).toBe(
      403,
    );
    // Predict is for the ingest role, like logging.
    expect(
      (await s.call('POST', '/v1/models/weather/predict', { features: DAY }, bearer(TOKENS.ingest))).status,
    ).toBe(200);
    expect((await s.call('POST', '/v1/models/weather/predict', { features: DAY })).status).toBe(401);
  });
});

describe('predict', () => {
  it('reproduces the demo model golden outputs, single and batched', async () => {
    const s = await serving();
    await s.call('POST', '/v1/models/weather/versions', artifact('1'));
    const cases = golden('1');
    const res = await s.call<{ predictions: { label: string; probabilities: Record<string, number> }[] }>(
      'POST',
      '/v1/models/weather/predict',
      { instances: cases.map((c) => c.features) },
    );
    expect(res.status).toBe(200);
    res.body.predictions.forEach((p, i) => {
      expect(p.label).toBe(cases[i]?.label);
      for (const [label, prob] of Object.entries(cases[i]?.probabilities ?? {})) {
        expect(p.probabilities[label]).toBeCloseTo(prob, 5);
      }
    });
  });

  it('answers 422 naming each bad field, and 404 for a model it does not serve', async () => {
    const s = await serving();
    await s.call('POST', '/v1/models/weather/versions', artifact('1'));
    const res = await s.call<{
      error: { code: string; details: { problems: { path: string; message: string }[] } };
    }>('POST', '/v1/models/weather/predict', {
      instances: [
        { ...DAY, wind: '3' },
        { precipitation: 1, temp_max: 99, temp_min: 2, wind: 1, snow: true },
      ],
    });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('invalid_input');
    const paths = res.body.error.details.problems.map((p) => p.path).sort();
    expect(paths).toEqual(['instances[0].wind', 'instances[1].snow', 'instances[1].temp_max']);
    expect((await s.call('POST', '/v1/models/nope/predict', { features: DAY })).status).toBe(404);
    // A refused request scores nothing and logs nothing.
    await s.runtime.batcher.flush();
    expect(await s.t.sql('SELECT count(*) AS n FROM records')).toEqual([{ n: 0 }]);
  });

  it('logs every prediction into its own monitoring: records, versions and drift aggregates', async () => {
    const s = await serving();
    await s.call('POST', '/v1/models/weather/versions', artifact('1'));
    const rows = Array.from({ length: 30 }, (_, i) => ({ ...DAY, temp_max: 10 + i }));
    const res = await s.call<{
      request_id: string;
      predictions: { label: string; probabilities: Record<string, number> }[];
    }>(
      'POST',
      '/v1/models/weather/predict',
      { instances: rows },
      {
        'x-request-id': 'batch-7',
      },
    );
    expect(res.body.request_id).toBe('batch-7');
    await s.runtime.batcher.flush();
    const stored = await s.t.sql<{
      request_id: string;
      model_version: string;
      prediction: string;
      status: string;
    }>(
      "SELECT request_id, model_version, prediction, status FROM records WHERE model = 'weather' ORDER BY id",
    );
    expect(stored).toHaveLength(30);
    expect(stored[0]).toMatchObject({ request_id: 'batch-7#0', model_version: '1', status: 'ok' });
    // The class probabilities the answer gave, so performance can be estimated without labels.
    expect(stored.map((r) => JSON.parse(r.prediction))).toEqual(
      res.body.predictions.map((p) => p.probabilities),
    );
    // Aggregated against the version's own training baseline, like any logged record.
    const [agg] = await s.t.sql<{ n: number }>(
      "SELECT sum(n) AS n FROM aggregates WHERE model = 'weather' AND model_version = '1' AND role = 'feature' AND name = 'temp_max'",
    );
    expect(Number(agg?.n)).toBe(30);
    // The prediction column (labels in baseline.csv) bins the top class: every record binned, none unseen.
    const [pred] = await s.t.sql<{ n: number; unseen: number; mismatch: number }>(
      "SELECT sum(n) AS n, sum(unseen) AS unseen, sum(type_mismatch) AS mismatch FROM aggregates WHERE model = 'weather' AND role = 'prediction'",
    );
    expect(pred).toEqual({ n: 30, unseen: 0, mismatch: 0 });
    const perf = await s.call<{ results: { n: number; kind: string; estimated: { accuracy: number } }[] }>(
      'GET',
      '/v1/models/weather/performance?kind=bucket',
    );
    const maxP = res.body.predictions.map((p) => Math.max(...Object.values(p.probabilities)));
    expect(perf.body.results).toHaveLength(1);
    expect(perf.body.results[0]).toMatchObject({ n: 30, kind: 'multiclass' });
    // No labelled baseline, so no calibration: the expected accuracy is the mean top probability.
    expect(perf.body.results[0]?.estimated.accuracy).toBeCloseTo(maxP.reduce((a, b) => a + b, 0) / 30, 6);
  });

  it('can be told not to log a model', async () => {
    const s = await serving({ serving: { models: { weather: { logPredictions: false } } } });
    await s.call('POST', '/v1/models/weather/versions', artifact('1'));
    expect((await s.call('POST', '/v1/models/weather/predict', { features: DAY })).status).toBe(200);
    await s.runtime.batcher.flush();
    expect(await s.t.sql('SELECT count(*) AS n FROM records')).toEqual([{ n: 0 }]);
  });

  it('runs each queued request on its own when the model is told not to batch (maxBatchRequests: 1)', async () => {
    // Off for weather only; the global setting batches (the model takes any number of rows).
    const s = await serving({
      serving: { maxBatchRequests: 8, models: { weather: { maxBatchRequests: 1 } } },
    });
    expect((await s.call('POST', '/v1/models/weather/versions', artifact('1'))).status).toBe(201);
    const runner = s.runtime.version('weather')?.runner;
    expect(runner?.status()).toMatchObject({ ready: true, batching: false });
    const before = runner?.status().runs ?? 0;
    const burst = await Promise.all(
      Array.from({ length: 20 }, (_, k) =>
        s.call<{ predictions: unknown[] }>('POST', '/v1/models/weather/predict', {
          features: { ...DAY, temp_max: 10 + k },
        }),
      ),
    );
    for (const res of burst) expect(res.body.predictions).toHaveLength(1);
    expect((runner?.status().runs ?? 0) - before).toBe(20);
  });

  it('answers 504 past the deadline, keeps serving meanwhile, and recovers the stuck model', {
    timeout: 60_000,
  }, async () => {
    const s = await serving({ serving: { deadlineMs: 300 } });
    await s.call('POST', '/v1/models/weather/versions', artifact('1'));
    const slow = slowVersion();
    expect((await s.call('POST', '/v1/models/slow/versions', slow)).status).toBe(201);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = Date.now();
    const stuck = s.call<{ error: { code: string } }>('POST', '/v1/models/slow/predict', {
      features: { x: 1 },
    });
    // Another model and the API answer while the slow one is stuck.
    const other = await s.call('POST', '/v1/models/weather/predict', { features: DAY });
    expect(other.status).toBe(200);
    const res = await stuck;
    clearInterval(timer);
    expect(res.status).toBe(504);
    expect(res.body.error.code).toBe('deadline_exceeded');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(ticks).toBeGreaterThan(5);
    // The stuck process is replaced: the model comes back (its next answer is slow again, but it answers 504
    // within the deadline instead of hanging).
    await vi.waitFor(() => expect(s.runtime.version('slow')?.runner.status().restarts).toBeGreaterThan(0), {
      timeout: 10_000,
    });
    await s.runtime.batcher.flush();
    const errors = await s.t.sql<{ status: string }>("SELECT status FROM records WHERE model = 'slow'");
    expect(errors).toEqual([{ status: 'error' }]);
  });
});

describe('the predict bound', () => {
  it('has its own in-flight bound: a predict burst is refused with 503 without taking the API slots', {
    timeout: 60_000,
  }, async () => {
    const s = await serving({ serving: { deadlineMs: 500, maxInFlight: 1 }, server: { maxInFlight: 1 } });
    const slow = slowVersion();
    expect((await s.call('POST', '/v1/models/slow/versions', slow)).status).toBe(201);
    const first = s.call('POST', '/v1/models/slow/predict', { features: { x: 1 } });
    // Once the first prediction is in the model process, the predict slot is taken.
    await vi.waitFor(() => expect(s.runtime.version('slow')?.runner.status().inFlight).toBe(1), {
      timeout: 10_000,
      interval: 5,
    });
    const second = await s.call<{ error: { message: string } }>('POST', '/v1/models/slow/predict', {
      features: { x: 1 },
    });
    expect(second.status).toBe(503);
    expect(second.body.error.message).toMatch(/serving\.maxInFlight/);
    // The API's single slot is free while the prediction runs.
    expect((await s.call('GET', '/v1/models/slow/versions')).status).toBe(200);
    expect((await first).status).toBe(504);
  });
});

describe('shadow', () => {
  it('scores a shadow on the same requests off the response path and reports agreement and latency', async () => {
    const s = await serving({ models: { weather: { minSamples: 10 } } });
    await s.call('POST', '/v1/models/weather/versions', artifact('1'));
    await s.call('POST', '/v1/models/weather/versions', artifact('2'));
    const shadow = await s.call('POST', '/v1/models/weather/versions/2/shadow', { enabled: true });
    expect(shadow.status, JSON.stringify(shadow.body)).toBe(200);
    const instances = golden('1').map((c) => c.features);
    const res = await s.call<{ model_version: string; predictions: unknown[] }>(
      'POST',
      '/v1/models/weather/predict',
      {
        instances,
      },
    );
    // Only the active version answers.
    expect(res.body.model_version).toBe('1');
    expect(res.body.predictions).toHaveLength(instances.length);
    const compare = await vi.waitFor(
      async () => {
        const c = await s.call<{ requests: number; agreement: number; latency_ms: { shadow_mean: number } }>(
          'GET',
          '/v1/models/weather/versions/2/compare',
        );
        expect(c.body.requests).toBe(instances.length);
        return c.body;
      },
      { timeout: 5_000 },
    );
    expect(compare.latency_ms.shadow_mean).toBeGreaterThan(0);
    // The two versions' label distributions over the same requests, from what monitoring logged.
    await s.runtime.batcher.flush();
    const drift = (
      await s.call<{
        prediction_drift: { n_active: number; n_shadow: number; psi: number; js_distance: number };
      }>('GET', '/v1/models/weather/versions/2/compare')
    ).body.prediction_drift;
    expect(drift).toMatchObject({ status: 'ok', n_paired: instances.length });
    // Expected from the two versions' golden labels on these inputs (they disagree on one case).
    const labelsOf = (v: string) => golden(v).map((c) => c.label);
    const all = [...new Set([...labelsOf('1'), ...labelsOf('2')])].sort();
    const counts = (v: string) => all.map((l) => labelsOf(v).filter((x) => x === l).length);
    expect(drift.psi).toBeCloseTo(psi(counts('1'), counts('2')), 12);
    expect(drift.js_distance).toBeCloseTo(jensenShannon(counts('1'), counts('2')), 12);
    expect(drift.psi).toBeGreaterThan(0);
    expect(compare.agreement).toBeCloseTo(
      labelsOf('1').filter((l, i) => l === labelsOf('2')[i]).length / instances.length,
      12,
    );
    await s.runtime.batcher.flush();
    const logged = await s.t.sql<{ model_version: string; n: number }>(
      "SELECT model_version, count(*) AS n FROM records WHERE model = 'weather' GROUP BY model_version ORDER BY model_version",
    );
    expect(logged).toEqual([
      { model_version: '1', n: instances.length },
      { model_version: '2', n: instances.length },
    ]);
  });

  it('compares the prediction distributions over the requests both versions scored, and says when there are too few', async () => {
    const s = await serving({ models: { weather: { minSamples: 4 } } });
    await s.call('POST', '/v1/models/weather/versions', artifact('1'));
    await s.call('POST', '/v1/models/weather/versions', artifact('2'));
    // A week of the active version alone: every golden case three times, before the shadow is enabled.
    const all = golden('1').map((c) => c.features);
    for (let k = 0; k < 3; k++) await s.call('POST', '/v1/models/weather/predict', { instances: all });
    expect((await s.call('POST', '/v1/models/weather/versions/2/shadow', { enabled: true })).status).toBe(
      200,
    );
    // Then the shadow on the cases where both versions give the same label.
    const labelsOf = (v: string) => golden(v).map((c) => c.label);
    const agreed = all.filter((_, i) => labelsOf('1')[i] === labelsOf('2')[i]);
    const compare = async (n: number) => {
      await vi.waitFor(
        async () =>
          expect(
            (await s.call<{ requests: number }>('GET', '/v1/models/weather/versions/2/compare')).body
              .requests,
          ).toBe(n),
        { timeout: 5_000 },
      );
      await s.runtime.batcher.flush();
      return (
        await s.call<{ agreement: number; prediction_drift: Record<string, unknown> }>(
          'GET',
          '/v1/models/weather/versions/2/compare',
        )
      ).body;
    };
    await s.call('POST', '/v1/models/weather/predict', { instances: agreed.slice(0, 2) });
    const few = await compare(2);
    expect(few.agreement).toBe(1);
    expect(few.prediction_drift).toEqual({
      status: 'too_few_pairs',
      n_paired: 2,
      min_samples: 4,
      message: 'too few paired requests (2 of 4) to compare the prediction distributions',
    });
    await s.call('POST', '/v1/models/weather/predict', { instances: agreed.slice(2) });
    const enough = await compare(agreed.length);
    expect(enough.agreement).toBe(1);
    // The active version's earlier requests (with another label mix) are not in the comparison.
    expect(enough.prediction_drift).toMatchObject({
      status: 'ok',
      n_paired: agreed.length,
      psi: 0,
      js_distance: 0,
    });
  });
});

describe('the review queue', () => {
  it('a rollback decision activates the previous served version, not only records it', async () => {
    const s = await serving();
    await s.call('POST', '/v1/models/weather/versions', artifact('1'));
    await s.call('POST', '/v1/models/weather/versions', artifact('2'), {});
    await s.call('POST', '/v1/models/weather/versions/2/activate', {});
    const id = await insertAlertRow(s.t, { model: 'weather', version: '2', feature: 'temp_max' });
    const alert = await s.call<{ version: number }>('GET', `/v1/alerts/${id}`);
    const decided = await s.call<{ rollback: { status: string; from_version: string; to_version: string } }>(
      'POST',
      `/v1/alerts/${id}/decision`,
      { decision: 'rollback', note: 'v2 mislabels fog' },
      { 'if-match': `"${alert.body.version}"` },
    );
    expect(decided.status, JSON.stringify(decided.body)).toBe(200);
    expect(decided.body.rollback).toEqual({ status: 'activated', from_version: '2', to_version: '1' });
    // The decision rolls back through the same operation as the API: this process serves 1 at once.
    expect(
      (await s.call<{ model_version: string }>('POST', '/v1/models/weather/predict', { features: DAY })).body
        .model_version,
    ).toBe('1');
  });
});

describe('one rollback for the API, the UI and decisions', () => {
  it('the operation the UI form calls serves the rolled-back version at once, and refuses a stale target', async () => {
    const s = await serving();
    await s.call('POST', '/v1/models/weather/versions', artifact('1'));
    await s.call('POST', '/v1/models/weather/versions', artifact('2'), {});
    await s.call('POST', '/v1/models/weather/versions/2/activate', {});
    const predicted = async () =>
      (await s.call<{ model_version: string }>('POST', '/v1/models/weather/predict', { features: DAY })).body
        .model_version;
    expect(await predicted()).toBe('2');
    // A confirmation that named another target changes nothing.
    await expect(
      rollbackModel(s.t.deps, 'weather', 'root', 'from the web UI', { expect: '3' }),
    ).rejects.toThrow('the version to roll back to is now 1, not 3; nothing was changed');
    expect(await predicted()).toBe('2');
    const r = await rollbackModel(s.t.deps, 'weather', 'root', 'from the web UI', { expect: '1' });
    expect(r).toMatchObject({ version: { version: '1', state: 'active' }, previous: '2' });
    expect(await predicted()).toBe('1');
  });
});

describe('retrain requests of a served model', () => {
  it('link the produced version to a registered one', async () => {
    const s = await serving();
    await s.call('POST', '/v1/models/weather/versions', artifact('1'));
    const created = await s.call<{ id: number; version: number }>('POST', '/v1/retrain-requests', {
      model: 'weather',
      model_version: '1',
      reason: 'summer drift',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    let version = created.body.version;
    for (const status of ['accepted', 'in_progress']) {
      const r = await s.call<{ version: number }>('POST', `/v1/retrain-requests/${created.body.id}/status`, {
        status,
        version,
      });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      version = r.body.version;
    }
    const unknown = await s.call<{ error: { details: { problems: { path: string }[] } } }>(
      'POST',
      `/v1/retrain-requests/${created.body.id}/status`,
      { status: 'done', produced_version: '2', version },
    );
    expect(unknown.status).toBe(422);
    expect(unknown.body.error.details.problems[0]?.path).toBe('produced_version');
    await s.call('POST', '/v1/models/weather/versions', artifact('2'));
    const done = await s.call<{ status: string; produced_version: string }>(
      'POST',
      `/v1/retrain-requests/${created.body.id}/status`,
      { status: 'done', produced_version: '2', version },
    );
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body).toMatchObject({ status: 'done', produced_version: '2' });
  });
});

describe('Open Inference Protocol v2', () => {
  it('infers from one tensor per input, and describes the model', async () => {
    const s = await serving();
    await s.call('POST', '/v1/models/weather/versions', artifact('1'));
    const cases = golden('1').slice(0, 3);
    const tensor = (name: string) => ({
      name,
      shape: [cases.length],
      datatype: 'FP32',
      data: cases.map((c) => c.features[name]),
    });
    const res = await s.call<{
      model_name: string;
      model_version: string;
      id: string;
      outputs: { name: string; shape: number[]; data: unknown[] }[];
    }>('POST', '/v2/models/weather/infer', {
      id: 'req-1',
      inputs: ['precipitation', 'temp_max', 'temp_min', 'wind'].map(tensor),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ model_name: 'weather', model_version: '1', id: 'req-1' });
    expect(res.body.outputs[0]).toMatchObject({ name: 'label', shape: [3], data: cases.map((c) => c.label) });
    expect(res.body.outputs[1]?.shape).toEqual([3, 5]);
    const meta = await s.call<{ platform: string; inputs: { name: string; datatype: string }[] }>(
      'GET',
      '/v2/models/weather',
    );
    expect(meta.body.platform).toBe('onnx_onnxv1');
    expect(meta.body.inputs.map((i) => i.name)).toEqual(['precipitation', 'temp_max', 'temp_min', 'wind']);
    expect((await s.call('GET', '/v2/models/weather/ready')).status).toBe(200);
    // A client reusing its inference id is answered with it, and still monitored every time.
    for (let k = 0; k < 2; k++) {
      const again = await s.call<{ id: string }>('POST', '/v2/models/weather/infer', {
        id: 'req-1',
        inputs: ['precipitation', 'temp_max', 'temp_min', 'wind'].map(tensor),
      });
      expect(again.body.id).toBe('req-1');
    }
    await s.runtime.batcher.flush();
    expect(await s.t.sql("SELECT count(*) AS n FROM records WHERE model = 'weather'")).toEqual([{ n: 9 }]);
    expect((await s.call('GET', '/v2/health/live')).status).toBe(200);
    const bad = await s.call<{ error: { details: { problems: { path: string }[] } } }>(
      'POST',
      '/v2/models/weather/infer',
      {
        inputs: [
          { ...tensor('wind'), shape: [2] },
          { ...tensor('temp_max'), datatype: 'BYTES' },
          { name: 'x', shape: [1], datatype: 'FP32', data: [1] },
        ],
      },
    );
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.problems.map((p) => p.path)).toEqual([
      'inputs[0].data',
      'inputs[1].datatype',
      'inputs[2].name',
    ]);
    // Values the manifest refuses are named at the tensor element the client sent, not as /v1 instances.
    const outOfRange = await s.call<{
      error: { message: string; details: { problems: { path: string }[] } };
    }>('POST', '/v2/models/weather/infer', {
      inputs: [
        { name: 'wind', shape: [2], datatype: 'FP32', data: [1, 2] },
        { name: 'temp_max', shape: [2], datatype: 'FP32', data: [20, 99] },
        { name: 'precipitation', shape: [2], datatype: 'FP32', data: [0, 0] },
      ],
    });
    expect(outOfRange.status).toBe(422);
    expect(outOfRange.body.error.details.problems).toEqual([
      { path: 'inputs[1].data[1]', message: expect.stringContaining('range') },
      { path: 'inputs', message: 'no tensor for the required input temp_min' },
    ]);
    expect(outOfRange.body.error.message).not.toContain('instances');
    // A model (or version) not served here is a 404 whatever the body: it is not even read.
    for (const path of ['/v2/models/nope/infer', '/v2/models/weather/versions/9/infer']) {
      const res = await s.app.request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{not json',
      });
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    }
  });
});
