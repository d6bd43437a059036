import { createHash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { activateBaseline, createBaseline } from '../baselines/service.js';
import type { Actor, AppDeps } from '../context.js';
import { ApiError } from '../errors.js';
import type { ServedState, ServedVersionRow, Tx } from '../store/index.js';
import { type Manifest, ManifestError, parseManifest } from './manifest.js';
import { assertSafeName } from './names.js';
import { freshPrivateDir } from './private-files.js';
import { ModelLoadError, ModelRunner } from './runner/index.js';

type Deps = Pick<AppDeps, 'store' | 'clock' | 'log' | 'config' | 'servingChanged'>;

/** A served version as the API shows it. */
export interface ServedVersionView {
  model: string;
  version: string;
  state: ServedState;
  created_at: string;
  registered_at: string;
  registered_by: string | null;
  activated_at: string | null;
  sha256: string;
  size_bytes: number;
  baseline_id: number | null;
  training_data: Manifest['training_data'];
  code_commit: string;
  metrics: Manifest['metrics'];
  changelog: string | null;
  inputs: Manifest['inputs'];
  output: Manifest['output'];
}

export interface ModelEventView {
  at: string;
  actor: string;
  action: string;
  from_version: string | null;
  to_version: string | null;
  note: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function versionView(row: ServedVersionRow): ServedVersionView {
  const m = JSON.parse(row.manifest) as Manifest;
  return {
    model: row.model,
    version: row.version,
    state: row.state,
    created_at: m.created_at,
    registered_at: new Date(row.registeredAt).toISOString(),
    registered_by: row.registeredBy,
    activated_at: iso(row.activatedAt),
    sha256: row.sha256,
    size_bytes: row.sizeBytes,
    baseline_id: row.baselineId,
    training_data: m.training_data,
    code_commit: m.code_commit,
    metrics: m.metrics,
    changelog: m.changelog ?? null,
    inputs: m.inputs,
    output: m.output,
  };
}

/** An uploaded file already written to a private temp directory (the multipart upload streams it there). */
export interface SpooledFile {
  path: string;
  sha256: string;
  size: number;
}

export interface RegisterInput {
  model: string;
  manifest: unknown;
  onnx: Buffer | SpooledFile;
  /** Training data (CSV) to profile as the version's baseline: the inputs, optionally `prediction`. */
  baselineCsv?: Buffer | SpooledFile | undefined;
  actor: string;
  /** Activate at once (default: only when the model has no active version yet). */
  activate?: boolean | undefined;
  note?: string | undefined;
}

/**
 * The checks of a version's manifest that need no artifact: valid, named for `model`, and a version the
 * model does not have yet. An upload runs them before it reads the model's bytes.
 */
export async function checkManifest(deps: Deps, model: string, raw: unknown): Promise<Manifest> {
  let manifest: Manifest;
  try {
    manifest = parseManifest(raw, 'manifest');
  } catch (err) {
    if (err instanceof ManifestError)
      throw new ApiError('invalid_input', err.message, { problems: err.problems });
    throw err;
  }
  if (manifest.name !== model) {
    throw new ApiError(
      'invalid_input',
      `manifest.name is ${manifest.name}, but the version is uploaded to model ${model}`,
    );
  }
  if (await deps.store.read((tx) => tx.serving.get(model, manifest.version))) throw versionExists(manifest);
  return manifest;
}

const versionExists = (m: { name: string; version: string }) =>
  new ApiError(
    'conflict',
    `model ${m.name} already has a version ${m.version}; versions are immutable, use a new one`,
  );

/** Validates a version (manifest, artifact) and stores it with its audit event; optionally its baseline. */
export async function registerVersion(deps: Deps, input: RegisterInput): Promise<ServedVersionView> {
  const manifest = await checkManifest(deps, input.model, input.manifest);
  const size = Buffer.isBuffer(input.onnx) ? input.onnx.byteLength : input.onnx.size;
  if (size === 0) throw new ApiError('invalid_input', 'model: the ONNX file is empty');
  // Everything is checked before anything is stored: the graph loads and has the tensors the manifest
  // names, and the training data profiles. A refused upload leaves nothing behind to block a corrected one.
  await checkGraph(manifest, input.onnx);
  const baselineId = input.baselineCsv
    ? await profileBaseline(deps, manifest, input.baselineCsv, input.actor)
    : null;
  const now = deps.clock();
  // The store keeps the artifact itself: read back whole only now, after every check passed.
  const onnx = Buffer.isBuffer(input.onnx) ? input.onnx : readFileSync(input.onnx.path);
  const sha256 = Buffer.isBuffer(input.onnx)
    ? createHash('sha256').update(onnx).digest('hex')
    : input.onnx.sha256;
  const row: ServedVersionRow & { onnx: Buffer } = {
    model: manifest.name,
    version: manifest.version,
    state: 'registered',
    manifest: JSON.stringify(manifest),
    onnx,
    sha256,
    sizeBytes: onnx.byteLength,
    registeredAt: now,
    registeredBy: input.actor,
    activatedAt: null,
    baselineId,
  };
  const inserted = await deps.store.tx(async (tx) => {
    if (!(await tx.serving.register(row))) return false;
    await tx.serving.addEvent({
      model: row.model,
      at: now,
      actor: input.actor,
      action: 'register',
      fromVersion: null,
      toVersion: row.version,
      note: input.note ?? manifest.changelog ?? null,
    });
    if (baselineId !== null) {
      await tx.serving.addEvent({
        model: row.model,
        at: now,
        actor: input.actor,
        action: 'baseline',
        fromVersion: null,
        toVersion: row.version,
        note: `baseline ${baselineId} attached`,
      });
    }
    return true;
  });
  if (!inserted) {
    // The baseline profiled for it stays inactive, visible in the model's baseline list.
    throw versionExists(manifest);
  }
  if (baselineId !== null) await activateBaseline(deps, row.model, baselineId, input.actor);
  const hasActive = (await deps.store.read((tx) => tx.serving.list(row.model))).some(
    (v) => v.state === 'active',
  );
  if (input.activate === true || (input.activate === undefined && !hasActive)) {
    await activateVersion(deps, row.model, row.version, input.actor, 'first version');
  }
  const stored = await deps.store.read((tx) => tx.serving.get(row.model, row.version));
  if (!stored) throw new Error('registered version vanished');
  return versionView(stored);
}

/** Profiles the version's training data as its (not yet active) baseline: drift of the version is measured against it. */
async function profileBaseline(
  deps: Deps,
  manifest: Manifest,
  csv: Buffer | SpooledFile,
  actor: string,
): Promise<number> {
  const header =
    firstBytes(csv, 64 * 1024)
      .toString('utf8')
      .split(/\r?\n/, 1)[0] ?? '';
  const columns = header.split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
  const inputs = new Set(manifest.inputs.map((i) => i.name));
  const missing = manifest.inputs.filter((i) => !columns.includes(i.name)).map((i) => i.name);
  if (missing.length > 0) {
    throw new ApiError(
      'invalid_input',
      `baseline_csv: the training data lacks the inputs ${missing.join(', ')}`,
      {
        problems: [{ path: 'baseline_csv', message: `missing columns ${missing.join(', ')}` }],
      },
    );
  }
  const prediction = columns.includes('prediction') ? 'prediction' : undefined;
  const exclude = columns.filter((c) => !inputs.has(c) && c !== prediction);
  const result = await createBaseline(deps, {
    model: manifest.name,
    modelVersion: manifest.version,
    source: Buffer.isBuffer(csv) ? Readable.from([csv]) : createReadStream(csv.path),
    format: 'csv',
    profile: {
      ...(prediction ? { prediction } : {}),
      exclude,
      categorical: manifest.inputs
        .filter((i) => i.type === 'string' || i.type === 'boolean')
        .map((i) => i.name),
      numeric: manifest.inputs.filter((i) => i.type === 'number' || i.type === 'integer').map((i) => i.name),
    },
    codeCommit: manifest.code_commit,
    notes: `training data of served version ${manifest.version} (${manifest.training_data.source})`,
    createdBy: actor,
    activate: false,
  });
  return result.baseline.id;
}

function firstBytes(data: Buffer | SpooledFile, n: number): Buffer {
  if (Buffer.isBuffer(data)) return data.subarray(0, Math.min(data.byteLength, n));
  const fd = openSync(data.path, 'r');
  try {
    const buf = Buffer.alloc(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/** Loads the graph once in a model process of its own and checks it has the tensors the manifest names. */
async function checkGraph(manifest: Manifest, onnx: Buffer | SpooledFile): Promise<void> {
  // A spooled upload is in a private directory already; bytes are written to one of their own.
  const dir = Buffer.isBuffer(onnx) ? freshPrivateDir('driftwatch-upload-') : null;
  const path = dir === null ? (onnx as SpooledFile).path : join(dir, 'model.onnx');
  let runner: ModelRunner | undefined;
  try {
    if (dir !== null) writeFileSync(path, onnx as Buffer, { flag: 'wx', mode: 0o600 });
    runner = await ModelRunner.start({ modelPath: path, name: manifest.name, version: manifest.version });
    const inputs = runner.inputs.map((i) => i.name);
    const outputs = runner.outputs.map((o) => o.name);
    const problems: { path: string; message: string }[] = [];
    if (!inputs.includes(manifest.onnx.input)) {
      problems.push({ path: 'manifest.onnx.input', message: `the graph's inputs are ${inputs.join(', ')}` });
    }
    const wanted =
      manifest.output.kind === 'regression' ? manifest.output.value : manifest.output.probabilities;
    if (!outputs.includes(wanted)) {
      problems.push({
        path:
          manifest.output.kind === 'regression' ? 'manifest.output.value' : 'manifest.output.probabilities',
        message: `the graph's outputs are ${outputs.join(', ')}`,
      });
    }
    if (problems.length > 0) {
      throw new ApiError('invalid_input', problems.map((p) => `${p.path}: ${p.message}`).join('; '), {
        problems,
      });
    }
  } catch (err) {
    if (err instanceof ModelLoadError) {
      throw new ApiError('invalid_input', `model: ${err.message}`, {
        problems: [{ path: 'model_base64', message: 'not a loadable ONNX graph' }],
      });
    }
    throw err;
  } finally {
    await runner?.close();
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  }
}

async function requireVersion(tx: Tx, model: string, version: string): Promise<ServedVersionRow> {
  const row = await tx.serving.get(model, version);
  if (!row) throw new ApiError('not_found', `model ${model} has no served version ${version}`);
  return row;
}

/** A change of what answers predict, as every caller (the API, the UI, an alert decision) makes it. */
export interface ServingChange {
  actor: string;
  note?: string | undefined;
  now: number;
}

/**
 * Makes a version the one that answers predict, in the caller's transaction; audited. The one place an
 * activation happens: the API, the UI and the rollback of an alert decision all come here.
 */
export async function activateIn(
  tx: Tx,
  model: string,
  version: string,
  change: ServingChange,
  action: 'activate' | 'rollback' = 'activate',
): Promise<{ version: ServedVersionView; previous: string | null }> {
  const row = await requireVersion(tx, model, version);
  if (row.state === 'retired') throw new ApiError('conflict', `version ${version} of ${model} is retired`);
  if (row.state === 'active') return { version: versionView(row), previous: null };
  const previous = await tx.serving.activate(model, version, change.now);
  await tx.serving.addEvent({
    model,
    at: change.now,
    actor: change.actor,
    action,
    fromVersion: previous,
    toVersion: version,
    note: change.note ?? null,
  });
  return { version: versionView(await requireVersion(tx, model, version)), previous };
}

/**
 * Activates the previously active version, in the caller's transaction. `expect` is the version the caller
 * showed as the target (a confirmation page, an alert decision's preview): when the history moved since,
 * nothing changes and the caller hears so, rather than rolling back somewhere else.
 */
export async function rollbackIn(
  tx: Tx,
  model: string,
  change: ServingChange & { expect?: string | undefined },
): Promise<{ version: ServedVersionView; previous: string | null }> {
  const target = await previousVersion(tx, model);
  if (!target) {
    if ((await tx.serving.list(model)).length === 0)
      throw new ApiError('not_found', `driftwatch does not serve a model named ${model}`);
    throw new ApiError('conflict', `model ${model} has no previous version to roll back to`);
  }
  if (change.expect !== undefined && change.expect !== target)
    throw new ApiError(
      'conflict',
      `the version to roll back to is now ${target}, not ${change.expect}; nothing was changed`,
    );
  return activateIn(tx, model, target, change, 'rollback');
}

/** Runs a serving change in its own transaction, then brings this process's serving runtime up to date. */
async function servingTx<T>(deps: Deps, work: (tx: Tx, now: number) => Promise<T>): Promise<T> {
  const now = deps.clock();
  const result = await deps.store.tx((tx) => work(tx, now));
  await deps.servingChanged?.();
  return result;
}

/** activateIn in a transaction of its own; any other process of a fleet picks it up within seconds. */
export async function activateVersion(
  deps: Deps,
  model: string,
  version: string,
  actor: string,
  note?: string,
): Promise<{ version: ServedVersionView; previous: string | null }> {
  return servingTx(deps, (tx, now) => activateIn(tx, model, version, { actor, note, now }));
}

/** The version that was active before the current one, by the audit trail; null when there is none. */
export async function previousVersion(tx: Tx, model: string): Promise<string | null> {
  const versions = await tx.serving.list(model);
  const active = versions.find((v) => v.state === 'active')?.version;
  if (!active) return null;
  const usable = new Set(versions.filter((v) => v.state !== 'retired').map((v) => v.version));
  for (const e of await tx.serving.events(model, 1000)) {
    if ((e.action === 'activate' || e.action === 'rollback') && e.toVersion === active && e.fromVersion) {
      if (usable.has(e.fromVersion)) return e.fromVersion;
      break;
    }
  }
  // No usable predecessor in the trail (the first activation, or it was deleted since): the newest version
  // created before the active one.
  const createdAt = (v: ServedVersionRow) => (JSON.parse(v.manifest) as Manifest).created_at;
  const current = versions.find((v) => v.version === active);
  const earlier = versions
    .filter(
      (v) => v.version !== active && v.state !== 'retired' && current && createdAt(v) < createdAt(current),
    )
    .sort((a, b) => (createdAt(a) < createdAt(b) ? 1 : -1));
  return earlier[0]?.version ?? null;
}

/** The version a rollback would activate now (previousVersion in a read of its own); null when none. */
export async function rollbackTarget(deps: Pick<AppDeps, 'store'>, model: string): Promise<string | null> {
  return deps.store.read((tx) => previousVersion(tx, model));
}

/** The versions driftwatch serves of a model; empty (not 404) for a model it does not serve. */
export async function servedVersions(
  deps: Pick<AppDeps, 'store'>,
  model: string,
): Promise<ServedVersionView[]> {
  return (await deps.store.read((tx) => tx.serving.list(model))).map(versionView);
}

/** rollbackIn in a transaction of its own (POST …/rollback, the UI's rollback form). */
export async function rollbackModel(
  deps: Deps,
  model: string,
  actor: string,
  note?: string,
  options: { expect?: string | undefined } = {},
) {
  return servingTx(deps, (tx, now) => rollbackIn(tx, model, { actor, note, now, expect: options.expect }));
}

/** True when driftwatch serves the model itself (so a rollback decision can act, not only record). */
export async function isServed(tx: Tx, model: string): Promise<boolean> {
  return (await tx.serving.list(model)).length > 0;
}

export async function setShadow(deps: Deps, model: string, version: string, on: boolean, actor: Actor) {
  return servingTx(deps, async (tx, now) => {
    const row = await requireVersion(tx, model, version);
    if (row.state === 'active')
      throw new ApiError('conflict', `version ${version} is the active one; it cannot shadow itself`);
    if (row.state === 'retired') throw new ApiError('conflict', `version ${version} of ${model} is retired`);
    const state = on ? 'shadow' : 'registered';
    if (row.state !== state && (await tx.serving.setState(model, version, state))) {
      await tx.serving.addEvent({
        model,
        at: now,
        actor: actor.name,
        action: on ? 'shadow' : 'unshadow',
        fromVersion: null,
        toVersion: version,
        note: null,
      });
    }
    return versionView(await requireVersion(tx, model, version));
  });
}

export async function deleteVersion(deps: Deps, model: string, version: string, actor: Actor): Promise<void> {
  await servingTx(deps, async (tx, now) => {
    const row = await requireVersion(tx, model, version);
    if (row.state === 'active') {
      throw new ApiError(
        'conflict',
        `version ${version} is active; activate another version (or roll back) before deleting it`,
      );
    }
    await tx.serving.delete(model, version);
    await tx.serving.addEvent({
      model,
      at: now,
      actor: actor.name,
      action: 'delete',
      fromVersion: version,
      toVersion: null,
      note: null,
    });
  });
}

export async function listVersions(deps: Deps, model: string) {
  return deps.store.read(async (tx) => {
    const versions = await tx.serving.list(model);
    if (versions.length === 0)
      throw new ApiError('not_found', `driftwatch does not serve a model named ${model}`);
    const events = await tx.serving.events(model, 100);
    return {
      model,
      versions: versions.map(versionView),
      events: events.map(
        (e): ModelEventView => ({
          at: new Date(e.at).toISOString(),
          actor: e.actor,
          action: e.action,
          from_version: e.fromVersion,
          to_version: e.toVersion,
          note: e.note,
        }),
      ),
    };
  });
}

/** A version in `serving.modelsDir` that could not be registered, and why (version null: the model's directory). */
export interface ScanProblem {
  model: string;
  version: string | null;
  reason: string;
}

// The last scan's problems per store, for the serving runtime's readiness: a version the operator put in
// the model directory and that failed to register is one the process cannot serve.
const lastScan = new WeakMap<object, ScanProblem[]>();

/** The problems of the last scanModelsDir on this store (none before a scan). */
export function modelsDirProblems(store: object): readonly ScanProblem[] {
  return lastScan.get(store) ?? [];
}

/**
 * Registers what `serving.modelsDir` holds and the store does not: `<name>/<version>/model.onnx` with its
 * `manifest.json` (and `baseline.csv`). Each model without an active version gets its newest one activated.
 * Problems are logged per version; one bad directory does not stop the others.
 */
export async function scanModelsDir(deps: Deps): Promise<{ registered: string[]; problems: string[] }> {
  const dir = deps.config.serving.modelsDir;
  const registered: string[] = [];
  const problems: string[] = [];
  const failed: ScanProblem[] = [];
  lastScan.set(deps.store, failed);
  if (!existsSync(dir)) return { registered, problems };
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    if (!name.isDirectory() || name.name.startsWith('.')) continue;
    const model = name.name;
    try {
      assertSafeName('model', model);
    } catch (err) {
      problems.push(`${join(dir, model)}: ${(err as Error).message}`);
      failed.push({ model, version: null, reason: (err as Error).message });
      continue;
    }
    const known = new Set((await deps.store.read((tx) => tx.serving.list(model))).map((v) => v.version));
    const found: { version: string; createdAt: string }[] = [];
    for (const v of readdirSync(join(dir, model), { withFileTypes: true })) {
      if (!v.isDirectory()) continue;
      const where = join(dir, model, v.name);
      try {
        assertSafeName('version', v.name);
        const manifestJson = JSON.parse(readFileSync(join(where, 'manifest.json'), 'utf8')) as unknown;
        const manifest = parseManifest(manifestJson, join(where, 'manifest.json'));
        if (manifest.version !== v.name)
          throw new Error(`manifest.version is ${manifest.version}, the directory is ${v.name}`);
        found.push({ version: v.name, createdAt: manifest.created_at });
        if (known.has(v.name)) continue;
        const baseline = join(where, 'baseline.csv');
        await registerVersion(deps, {
          model,
          manifest: manifestJson,
          onnx: readFileSync(join(where, 'model.onnx')),
          baselineCsv: existsSync(baseline) ? readFileSync(baseline) : undefined,
          actor: 'system',
          activate: false,
          note: `found in ${where}`,
        });
        registered.push(`${model}/${v.name}`);
      } catch (err) {
        // Another process of a fleet, starting at the same moment, registered it first: nothing to do.
        if (err instanceof ApiError && err.code === 'conflict' && /already has a version/.test(err.message))
          continue;
        const message =
          err instanceof ApiError || err instanceof ManifestError ? err.message : (err as Error).message;
        problems.push(`${where}: ${message}`);
        failed.push({ model, version: v.name, reason: message });
      }
    }
    const versions = await deps.store.read((tx) => tx.serving.list(model));
    if (versions.length > 0 && !versions.some((v) => v.state === 'active')) {
      const newest = found
        .filter((f) => versions.some((v) => v.version === f.version))
        .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))[0];
      if (newest)
        await activateVersion(deps, model, newest.version, 'system', 'newest version in the model directory');
    }
  }
  return { registered, problems };
}
