import type { ColumnProfile } from '../baselines/profile.js';
import type { Database } from '../db/client.js';
import { activeBaselineColumns, activeBaselineStamp } from './queries.js';
import { type ColumnBinner, createBinner } from './binner.js';

/** An active baseline ready for binning: its profiles and a binner per column. */
export interface LoadedBaseline {
  id: number;
  model: string;
  modelVersion: string;
  features: Map<string, ColumnBinner>;
  prediction: ColumnBinner | null;
}

interface ModelEntry {
  /** Changes whenever a baseline of the model is activated, by this process or another. */
  stamp: string;
  byVersion: Map<string, LoadedBaseline>;
  /** The most recently activated baseline, used for versions that have none of their own. */
  latest: LoadedBaseline | null;
}

// Resolved baselines per model, so ingest does not read profiles from SQLite for every batch. Each batch
// checks a cheap stamp (one indexed query per model), so an activation by another process is seen too.
const caches = new WeakMap<Database, Map<string, ModelEntry>>();

function load(db: Database, model: string, stamp: string): ModelEntry {
  const rows = activeBaselineColumns(db, model);
  const byId = new Map<number, LoadedBaseline>();
  const order: LoadedBaseline[] = [];
  for (const r of rows) {
    let b = byId.get(r.id);
    if (!b) {
      b = { id: r.id, model, modelVersion: r.model_version, features: new Map(), prediction: null };
      byId.set(r.id, b);
      order.push(b);
    }
    const binner = createBinner(JSON.parse(r.profile) as ColumnProfile);
    if (r.role === 'prediction') b.prediction = binner;
    else b.features.set(r.name, binner);
  }
  const byVersion = new Map<string, LoadedBaseline>();
  for (const b of order) if (!byVersion.has(b.modelVersion)) byVersion.set(b.modelVersion, b);
  return { stamp, byVersion, latest: order[0] ?? null };
}

/** The baseline a record of (model, version) is compared with, or null when the model has none. */
export function resolveBaseline(db: Database, model: string, modelVersion: string): LoadedBaseline | null {
  let perDb = caches.get(db);
  if (!perDb) {
    perDb = new Map();
    caches.set(db, perDb);
  }
  let entry = perDb.get(model);
  if (!entry) {
    entry = load(db, model, activeBaselineStamp(db, model));
    perDb.set(model, entry);
  }
  return entry.byVersion.get(modelVersion) ?? entry.latest;
}

/** Reloads a model's baselines if any was activated since they were cached. */
export function refreshBaselines(db: Database, model: string): void {
  const entry = caches.get(db)?.get(model);
  if (entry && entry.stamp !== activeBaselineStamp(db, model)) invalidateBaselines(db, model);
}

export function invalidateBaselines(db: Database, model: string): void {
  caches.get(db)?.delete(model);
}
