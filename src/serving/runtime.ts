import { createHash } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { maxBatchRequestsFor } from '../config/index.js';
import type { AppDeps } from '../context.js';
import { IngestBatcher } from '../ingest/in-process.js';
import type { ServedVersionRow, ShadowStatsDelta } from '../store/index.js';
import type { Manifest } from './manifest.js';
import { privateDir, writePrivateFile } from './private-files.js';
import { ModelRunner } from './runner/index.js';
import { modelsDirProblems } from './versions.js';

type Deps = Pick<AppDeps, 'store' | 'clock' | 'log' | 'config' | 'metrics'>;

/** A served version loaded in this process: its manifest and the model process that runs it. */
export interface LoadedVersion {
  model: string;
  version: string;
  state: 'active' | 'shadow';
  manifest: Manifest;
  sha256: string;
  runner: ModelRunner;
}

/** A live version (active or shadow in the store) this process could not load, and why. */
export interface UnavailableVersion {
  /** `model@version` */
  version: string;
  reason: string;
}

type LoadResult = { loaded: LoadedVersion } | { reason: string };

const SYNC_MS = 2_000;

/** Resolves once the runner has nothing running or queued, or after `maxMs`. */
async function drained(runner: ModelRunner, maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    const s = runner.status();
    if (s.inFlight === 0 && s.queued === 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}
const SHADOW_FLUSH_MS = 1_000;

/**
 * The versions this process serves. Which version is active (or in shadow) lives in the store, so every
 * process of a fleet converges on it: a check of the store's serving stamp every 2 s reloads what changed.
 * Artifacts come from the store (written once to a cache file named by their sha256), so a version
 * uploaded through one process is served by all.
 */
export class ServingRuntime {
  private readonly loaded = new Map<string, LoadedVersion>();
  private readonly loading = new Map<string, Promise<LoadResult>>();
  private stamp: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private shadowTimer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> = Promise.resolve();
  private closed = false;
  /** Live versions (active or shadow in the store) this process could not load, with the reason. */
  unavailable: UnavailableVersion[] = [];
  private readonly shadowStats = new Map<string, ShadowStatsDelta>();
  readonly batcher: IngestBatcher;
  // Per user, private (see privateDir): no other local user may swap a model file onnxruntime executes.
  private readonly cacheName = `driftwatch-models-${process.getuid?.() ?? 'user'}`;

  constructor(private readonly deps: Deps) {
    this.batcher = new IngestBatcher(deps, { maxDelayMs: 50, maxRecords: 1000 });
  }

  async start(): Promise<void> {
    await this.sync(true);
    this.timer = setInterval(() => void this.sync(false), SYNC_MS);
    this.timer.unref();
    this.shadowTimer = setInterval(() => void this.flushShadowStats(), SHADOW_FLUSH_MS);
    this.shadowTimer.unref();
  }

  /** Loads what became live and closes what no longer is; `force` skips the stamp check. */
  sync(force = false): Promise<void> {
    this.syncing = this.syncing.then(async () => {
      if (this.closed) return;
      try {
        const stamp = await this.deps.store.read((tx) => tx.serving.stamp());
        if (!force && stamp === this.stamp) return;
        const live = await this.deps.store.read((tx) => tx.serving.live());
        const wanted = new Map(live.map((r) => [`${r.model}\u0000${r.version}`, r]));
        const failedModels = new Set<string>();
        const unavailable: UnavailableVersion[] = [];
        const toLoad: ServedVersionRow[] = [];
        for (const [key, row] of wanted) {
          const have = this.loaded.get(key);
          if (have && have.sha256 === row.sha256) have.state = row.state as 'active' | 'shadow';
          else toLoad.push(row);
        }
        // Model processes start side by side: one slow start does not hold back the others.
        const results = await Promise.all(toLoad.map((row) => this.load(row)));
        results.forEach((result, i) => {
          const row = toLoad[i] as ServedVersionRow;
          if ('reason' in result) {
            unavailable.push({ version: `${row.model}@${row.version}`, reason: result.reason });
            if (row.state === 'active') failedModels.add(row.model);
          }
        });
        // A failed load is retried at the next check rather than remembered as done.
        const retry = unavailable.length > 0;
        // Versions put in the model directory that failed to register (scanModelsDir) are not served
        // either, unless another process of a fleet registered them since.
        for (const p of modelsDirProblems(this.deps.store)) {
          const version = p.version;
          if (version !== null && (await this.deps.store.read((tx) => tx.serving.get(p.model, version))))
            continue;
          unavailable.push({
            version: version === null ? p.model : `${p.model}@${version}`,
            reason: `not registered from serving.modelsDir: ${p.reason}`,
          });
        }
        this.unavailable = unavailable;
        for (const [key, v] of this.loaded) {
          if (wanted.has(key)) continue;
          // A model whose new active version failed to load keeps answering with the one it had.
          if (v.state === 'active' && failedModels.has(v.model)) continue;
          this.loaded.delete(key);
          // New requests already go to the new version; the ones queued here finish first (within their
          // deadlines) instead of failing with 503.
          await drained(v.runner, 2 * this.deps.config.serving.deadlineMs);
          await v.runner.close();
          this.deps.log.info({ model: v.model, model_version: v.version }, 'model version unloaded');
        }
        if (!retry) this.stamp = stamp;
      } catch (err) {
        this.deps.log.error({ err }, 'serving: could not sync the served versions');
      }
    });
    return this.syncing;
  }

  private async load(row: ServedVersionRow): Promise<LoadResult> {
    const key = `${row.model}\u0000${row.version}`;
    const running = this.loading.get(key);
    if (running) return running;
    const work = (async (): Promise<LoadResult> => {
      try {
        const bytes = await this.deps.store.read((tx) => tx.serving.artifact(row.model, row.version));
        if (!bytes) return { reason: 'its artifact is not in the store' };
        const path = this.cacheFile(row.sha256, bytes);
        this.deps.log.info(
          { model: row.model, model_version: row.version, state: row.state },
          'model version loading: starting its model process',
        );
        const runner = await ModelRunner.start({
          modelPath: path,
          name: row.model,
          version: row.version,
          threads: this.deps.config.serving.threads,
          batch: maxBatchRequestsFor(this.deps.config, row.model),
          log: this.deps.log,
        });
        const previous = this.loaded.get(key);
        const loaded: LoadedVersion = {
          model: row.model,
          version: row.version,
          state: row.state as 'active' | 'shadow',
          manifest: JSON.parse(row.manifest) as Manifest,
          sha256: row.sha256,
          runner,
        };
        this.loaded.set(key, loaded);
        if (previous) await previous.runner.close();
        this.deps.log.info(
          { model: row.model, model_version: row.version, state: row.state },
          'model version loaded',
        );
        return { loaded };
      } catch (err) {
        this.deps.log.error(
          { err, model: row.model, model_version: row.version },
          'model version failed to load',
        );
        return { reason: (err as Error).message };
      }
    })().finally(() => this.loading.delete(key));
    this.loading.set(key, work);
    return work;
  }

  /**
   * The artifact's file in this user's private cache, named by content and (re)written unless a regular
   * file with that content is there already; a model process (of this or another driftwatch process) never
   * reads a half-written file.
   */
  private cacheFile(sha256: string, bytes: Uint8Array): string {
    const path = join(privateDir(this.cacheName), `${sha256}.onnx`);
    let have = false;
    try {
      have =
        lstatSync(path).isFile() && createHash('sha256').update(readFileSync(path)).digest('hex') === sha256;
    } catch {
      // Not there yet.
    }
    if (!have) writePrivateFile(path, bytes);
    return path;
  }

  /**
   * Whether this process can serve what it is configured to: every live version loaded (and not failing
   * to reload), every version of the model directory registered. What is not, is named with the reason.
   */
  readiness(): { ready: boolean; unavailable: UnavailableVersion[] } {
    const unavailable = [...this.unavailable];
    // A model process being restarted (after a deadline) is not a reason; one whose reload failed is.
    for (const v of this.loaded.values()) {
      const reason = v.runner.status().unavailable;
      if (reason !== null) unavailable.push({ version: `${v.model}@${v.version}`, reason });
    }
    return { ready: unavailable.length === 0, unavailable };
  }

  /** Why versions of `model` cannot be served (`version` given: that one only); empty when nothing failed. */
  unavailableOf(model: string, version?: string): UnavailableVersion[] {
    return this.unavailable.filter((u) =>
      version === undefined
        ? u.version === model || u.version.startsWith(`${model}@`)
        : u.version === `${model}@${version}`,
    );
  }

  /** The version answering predict for `model` (or the named version if it is loaded). */
  version(model: string, version?: string): LoadedVersion | undefined {
    for (const v of this.loaded.values()) {
      if (v.model !== model) continue;
      if (version === undefined ? v.state === 'active' : v.version === version) return v;
    }
    return undefined;
  }

  shadows(model: string): LoadedVersion[] {
    return [...this.loaded.values()].filter((v) => v.model === model && v.state === 'shadow');
  }

  /** Every loaded version (for status and health). */
  list(): LoadedVersion[] {
    return [...this.loaded.values()];
  }

  addShadow(delta: ShadowStatsDelta): void {
    const key = [
      delta.model,
      delta.activeVersion,
      delta.shadowVersion,
      delta.bucketStart,
      delta.bucketMs,
    ].join('\u0000');
    const seen = this.shadowStats.get(key);
    if (!seen) {
      this.shadowStats.set(key, { ...delta });
      return;
    }
    seen.n += delta.n;
    seen.agree += delta.agree;
    seen.absDiffSum += delta.absDiffSum;
    seen.activeLatencySum += delta.activeLatencySum;
    seen.shadowLatencySum += delta.shadowLatencySum;
    seen.errors += delta.errors;
  }

  /** Writes the shadow comparisons gathered since the last flush (additive: every process adds its own). */
  async flushShadowStats(): Promise<void> {
    if (this.shadowStats.size === 0) return;
    const list = [...this.shadowStats.values()];
    this.shadowStats.clear();
    try {
      await this.deps.store.tx((tx) => tx.serving.addShadowStats(list, this.deps.clock()));
    } catch (err) {
      // Kept for the next flush, added to whatever came meanwhile.
      for (const d of list) this.addShadow(d);
      this.deps.log.error({ err }, 'serving: shadow statistics not written; retried at the next flush');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.shadowTimer) clearInterval(this.shadowTimer);
    await this.syncing;
    await Promise.all([...this.loading.values()]);
    await Promise.all([...this.loaded.values()].map((v) => v.runner.close()));
    this.loaded.clear();
    await this.batcher.close();
    await this.flushShadowStats();
  }
}
