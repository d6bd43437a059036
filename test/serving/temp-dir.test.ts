import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { PrivateDirError, privateDir, writePrivateFile } from '../../src/serving/private-files.js';
import { ServingRuntime } from '../../src/serving/runtime.js';
import { registerVersion, scanModelsDir } from '../../src/serving/versions.js';
import { REPO_ROOT } from '../server/process.js';
import { makeTestApp, type TestApp, tempDir } from '../support.js';

// What the serving runtime does with the temp directory (TMPDIR) it writes model files into: a directory
// it cannot write makes the process unready, naming each version it could not load and why; and nothing
// another local user planted there (a symlink, a directory open to all) is followed or trusted.

const MODELS = join(REPO_ROOT, 'models');
const UNWRITABLE = '/proc/self';

const open: { t: TestApp; runtime?: ServingRuntime; cleanup?: () => void }[] = [];
const savedTmp = process.env.TMPDIR;
afterEach(async () => {
  process.env.TMPDIR = savedTmp;
  if (savedTmp === undefined) delete process.env.TMPDIR;
  for (const o of open.splice(0)) {
    await o.runtime?.close();
    await o.t.close();
    o.cleanup?.();
  }
});

/** Runs `fn` with TMPDIR set to `dir` (os.tmpdir() reads it at every call). */
async function withTmpdir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  process.env.TMPDIR = dir;
  try {
    return await fn();
  } finally {
    process.env.TMPDIR = savedTmp;
    if (savedTmp === undefined) delete process.env.TMPDIR;
  }
}

async function register(t: TestApp, version: string) {
  await registerVersion(t.deps, {
    model: 'weather',
    manifest: JSON.parse(readFileSync(join(MODELS, 'weather', version, 'manifest.json'), 'utf8')),
    onnx: readFileSync(join(MODELS, 'weather', version, 'model.onnx')),
    actor: 'test',
  });
}

async function get(app: ReturnType<typeof createApp>, path: string, body?: unknown) {
  const res = await app.request(
    path,
    body === undefined
      ? {}
      : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
  );
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('readiness with a temp directory that cannot be written', () => {
  it('is 503 naming the versions of the model directory that could not be registered, and why', async () => {
    const t = makeTestApp({ serving: { modelsDir: MODELS } });
    const runtime = new ServingRuntime(t.deps);
    open.push({ t, runtime });
    // As `TMPDIR=/proc/self driftwatch serve` starts: the model directory is scanned, then the runtime starts.
    const scan = await withTmpdir(UNWRITABLE, async () => {
      const result = await scanModelsDir(t.deps);
      await runtime.start();
      return result;
    });
    expect(scan.registered).toEqual([]);
    const app = createApp(t.deps, { serving: runtime });

    const ready = await get(app, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.status).toBe('not_ready');
    const notLoaded = (
      ready.body.checks as { serving: { not_loaded: { version: string; reason: string }[] } }
    ).serving.not_loaded;
    expect(notLoaded.map((u) => u.version).sort()).toEqual(['weather@1', 'weather@2']);
    for (const u of notLoaded)
      expect(u.reason).toMatch(/not registered from serving\.modelsDir: .*\/proc\/self/);

    const oip = await get(app, '/v2/health/ready');
    expect(oip.status).toBe(503);
    expect((oip.body.unavailable as { version: string }[]).map((u) => u.version).sort()).toEqual([
      'weather@1',
      'weather@2',
    ]);
    const model = await get(app, '/v2/models/weather/ready');
    expect(model.status).toBe(503);
    expect(model.body).toMatchObject({ name: 'weather', ready: false });
    // Predict says why it cannot answer instead of claiming the model is unknown.
    const predict = await get(app, '/v1/models/weather/predict', { features: { precipitation: 0 } });
    expect(predict.status).toBe(503);
    expect((predict.body.error as { message: string }).message).toMatch(/weather@1 failed to load/);
  });

  it('is 503 while a live version cannot be written to the model cache, and ready once it can', async () => {
    const t = makeTestApp();
    const runtime = new ServingRuntime(t.deps);
    open.push({ t, runtime });
    await register(t, '1');
    await withTmpdir(UNWRITABLE, () => runtime.start());
    const app = createApp(t.deps, { serving: runtime });

    const ready = await get(app, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toMatchObject({
      serving: { not_loaded: [{ version: 'weather@1', reason: expect.stringContaining('/proc/self') }] },
    });
    expect((await get(app, '/v2/health/ready')).status).toBe(503);
    expect((await get(app, '/v2/models/weather/ready')).status).toBe(503);

    // The failed load is retried at the next check; with a writable temp directory it loads.
    await runtime.sync(false);
    const after = await get(app, '/readyz');
    expect(after.status, JSON.stringify(after.body)).toBe(200);
    expect(after.body.checks).toMatchObject({ serving: '1 model version loaded' });
    expect((await get(app, '/v2/models/weather/ready')).status).toBe(200);
  });
});

describe('the model cache in the temp directory', () => {
  it('refuses a cache directory planted as a symlink, and writes nothing through it', async () => {
    const { dir, cleanup } = tempDir();
    const t = makeTestApp();
    const runtime = new ServingRuntime(t.deps);
    open.push({ t, runtime, cleanup });
    await register(t, '1');
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(dir, `driftwatch-models-${process.getuid?.()}`));
    await withTmpdir(dir, () => runtime.start());
    expect(runtime.unavailable).toEqual([
      { version: 'weather@1', reason: expect.stringContaining('symlink') },
    ]);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('refuses a cache directory other users can enter', async () => {
    const { dir, cleanup } = tempDir();
    open.push({ t: makeTestApp(), cleanup });
    const shared = join(dir, 'driftwatch-models-x');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    process.env.TMPDIR = dir;
    expect(() => privateDir('driftwatch-models-x')).toThrow(PrivateDirError);
    expect(() => privateDir('driftwatch-models-x')).toThrow(/mode 777/);
    chmodSync(shared, 0o700);
    expect(privateDir('driftwatch-models-x')).toBe(shared);
    // A new one is made closed to others.
    expect(lstatSync(privateDir('driftwatch-models-y')).mode & 0o777).toBe(0o700);
  });

  it('replaces a symlink planted at a model file instead of writing through it', () => {
    const { dir, cleanup } = tempDir();
    open.push({ t: makeTestApp(), cleanup });
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious');
    const path = join(dir, 'model.onnx');
    symlinkSync(victim, path);
    writePrivateFile(path, Buffer.from('model bytes'));
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(lstatSync(path).isSymbolicLink()).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('model bytes');
    expect(readdirSync(dir).sort()).toEqual(['model.onnx', 'victim']);
  });
});
