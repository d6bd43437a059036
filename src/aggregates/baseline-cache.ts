import { loadBaselineCoMoments } from '../multivariate/baseline-store.js';
import type { JointBaseline } from '../multivariate/joint.js';
import type { ColumnBinner } from '../profiles/binner.js';
import { createBinner } from '../profiles/binner.js';
import type { BaselinePerformance } from '../profiles/calibration.js';
import type { ColumnProfile, ProfileOptions } from '../profiles/profile.js';
import type { Store, Tx } from '../store/index.js';

/** An active baseline ready for binning: its profiles and a binner per column. */
export interface LoadedBaseline {
  id: number;
  model: string;
  modelVersion: string;
  features: Map<string, ColumnBinner>;
  prediction: ColumnBinner | null;
  /** Columns left out of the profile on purpose (excluded, the label): not a schema signal when sent. */
  ignored: Set<string>;
  /** Accuracy and calibration from the baseline's labelled rows (label=), for performance estimation. */
  performance: BaselinePerformance | null;
  /** The baseline's co-moments when its numeric features are watched jointly (src/multivariate). */
  joint: JointBaseline | null;
}

/** A model's active baselines: one per version, and the most recently activated for versions without one. */
export interface ModelBaselines {
  stamp: string;
  byVersion: Map<string, LoadedBaseline>;
  latest: LoadedBaseline | null;
}

/** The baseline a record of this version is compared with, or null when the model has none. */
export function baselineFor(entry: ModelBaselines, modelVersion: string): LoadedBaseline | null {
  return entry.byVersion.get(modelVersion) ?? entry.latest;
}

/**
 * Resolved baselines per model, so ingest does not parse profiles for every batch. Each use checks a
 * cheap stamp (one indexed query per model) inside the caller's transaction, so an activation made by
 * another process — or rolled back — is never served stale.
 */
export class BaselineCache {
  private readonly models = new Map<string, ModelBaselines>();

  async get(tx: Tx, model: string): Promise<ModelBaselines> {
    const stamp = await tx.baselines.activeStamp(model);
    const cached = this.models.get(model);
    if (cached && cached.stamp === stamp) return cached;
    const rows = await tx.baselines.activeColumns(model);
    const byId = new Map<number, LoadedBaseline>();
    const order: LoadedBaseline[] = [];
    for (const r of rows) {
      let b = byId.get(r.baselineId);
      if (!b) {
        b = {
          id: r.baselineId,
          model,
          modelVersion: r.modelVersion,
          features: new Map(),
          prediction: null,
          ignored: new Set(),
          performance: null,
          joint: null,
        };
        byId.set(r.baselineId, b);
        order.push(b);
      }
      const binner = createBinner(JSON.parse(r.profile) as ColumnProfile);
      if (r.role === 'prediction') b.prediction = binner;
      else b.features.set(r.name, binner);
    }
    for (const b of order) {
      const row = await tx.baselines.get(model, b.id);
      const options = row ? (JSON.parse(row.options) as ProfileOptions) : {};
      b.performance = row?.performance ? (JSON.parse(row.performance) as BaselinePerformance) : null;
      for (const name of [...(options.exclude ?? []), options.label, options.prediction])
        if (name) b.ignored.add(name);
      const joint = await loadBaselineCoMoments(tx, b.id);
      b.joint = joint && { ...joint, pca: null };
    }
    const byVersion = new Map<string, LoadedBaseline>();
    for (const b of order) if (!byVersion.has(b.modelVersion)) byVersion.set(b.modelVersion, b);
    const entry = { stamp, byVersion, latest: order[0] ?? null };
    this.models.set(model, entry);
    return entry;
  }

  /** Shorthand: the baseline for one (model, version). */
  async resolve(tx: Tx, model: string, modelVersion: string): Promise<LoadedBaseline | null> {
    return baselineFor(await this.get(tx, model), modelVersion);
  }
}

const caches = new WeakMap<Store, BaselineCache>();

/** The cache belonging to a store (one per open store, so tests with their own stores stay apart). */
export function baselineCache(store: Store): BaselineCache {
  let cache = caches.get(store);
  if (!cache) {
    cache = new BaselineCache();
    caches.set(store, cache);
  }
  return cache;
}

/** Profiles of a loaded baseline by column. */
export function profilesOf(b: LoadedBaseline): {
  features: Map<string, ColumnProfile>;
  prediction: ColumnProfile | null;
} {
  const features = new Map<string, ColumnProfile>();
  for (const [name, binner] of b.features) features.set(name, binner.profile);
  return { features, prediction: b.prediction?.profile ?? null };
}
