import type { Readable } from 'node:stream';
import { invalidateBaselines, resolveBaseline } from '../aggregates/baseline-cache.js';
import { clearAggregates } from '../aggregates/queries.js';
import { aggregateRecords } from '../aggregates/service.js';
import type { AppDeps } from '../context.js';
import { ApiError } from '../errors.js';
import type { IngestRecord } from '../ingest/record.js';
import { type ColumnProfile, ProfileBuilder, ProfileError, type ProfileOptions } from './profile.js';
import {
  type BaselineRow,
  baselineColumnsOf,
  getBaseline,
  hasActiveBaseline,
  insertBaseline,
  markActive,
  maxRecordId,
  recordPage,
  versionsOf,
} from './queries.js';
import type { BodyLimit } from '../ingest/body.js';
import { hashing, type TrainingFormat, type TrainingLimits, trainingRows } from './sources.js';

export interface CreateBaselineInput {
  model: string;
  modelVersion: string;
  source: Readable;
  format: TrainingFormat;
  profile: ProfileOptions;
  codeCommit?: string | undefined;
  notes?: string | undefined;
  createdBy?: string | undefined;
  /** Undefined: activate when the version has no active baseline yet. */
  activate?: boolean | undefined;
  /** Bounds for uploaded data (from `baselines.*`); rows driftwatch builds from its own records need none. */
  limits?: { bytes: BodyLimit; rows: TrainingLimits } | undefined;
}

export interface BaselineView {
  id: number;
  model: string;
  model_version: string | null;
  sha256: string;
  row_count: number;
  code_commit: string | null;
  notes: string | null;
  created_at: string;
  created_by: string | null;
  active: boolean;
  activated_at: string | null;
}

export function baselineView(row: BaselineRow): BaselineView {
  return {
    id: row.id,
    model: row.model,
    model_version: row.modelVersion === '' ? null : row.modelVersion,
    sha256: row.sha256,
    row_count: row.rowCount,
    code_commit: row.codeCommit,
    notes: row.notes,
    created_at: new Date(row.createdAt).toISOString(),
    created_by: row.createdBy,
    active: row.active,
    activated_at: row.activatedAt === null ? null : new Date(row.activatedAt).toISOString(),
  };
}

/** Profiles streamed training data and stores it as a baseline; activates it when asked or when it is the version's first. */
export async function createBaseline(
  deps: AppDeps,
  input: CreateBaselineInput,
): Promise<{ baseline: BaselineView; reaggregated: number }> {
  const hashed = hashing(input.source, input.limits?.bytes);
  const builder = new ProfileBuilder(input.profile);
  try {
    for await (const row of trainingRows(hashed.stream, input.format, input.limits?.rows)) builder.addRow(row);
  } finally {
    // A refused upload stops being read here instead of being drained to its end.
    if (!input.source.readableEnded) input.source.destroy();
  }
  let built: ReturnType<ProfileBuilder['build']>;
  try {
    built = builder.build();
  } catch (err) {
    if (err instanceof ProfileError) {
      throw new ApiError('invalid_body', err.message, err.problems ? { problems: err.problems } : undefined);
    }
    throw err;
  }
  const columns: { role: 'feature' | 'prediction'; name: string; profile: ColumnProfile }[] = [];
  for (const [name, profile] of built.features) columns.push({ role: 'feature', name, profile });
  if (built.prediction) columns.push({ role: 'prediction', name: 'prediction', profile: built.prediction });

  const row = insertBaseline(
    deps.db,
    {
      model: input.model,
      modelVersion: input.modelVersion,
      sha256: hashed.digest(),
      rowCount: built.rows,
      codeCommit: input.codeCommit ?? null,
      notes: input.notes ?? null,
      options: JSON.stringify(input.profile),
      createdAt: deps.clock(),
      createdBy: input.createdBy ?? null,
      active: false,
    },
    columns,
  );
  const activate = input.activate ?? !hasActiveBaseline(deps.db, input.model, input.modelVersion);
  if (!activate) return { baseline: baselineView(row), reaggregated: 0 };
  return activateBaseline(deps, input.model, row.id);
}

const PAGE = 5_000;

/**
 * Activates a baseline and rebuilds, from the stored raw records, the aggregates of every model version
 * that now resolves to it. Records stored after the switch are aggregated by ingest itself.
 */
export async function activateBaseline(
  deps: AppDeps,
  model: string,
  id: number,
): Promise<{ baseline: BaselineView; reaggregated: number }> {
  // Re-aggregation yields between pages; a second activation of the same model meanwhile would clear and
  // rebuild aggregates under the first one and count records twice.
  let busy = activating.get(deps.db);
  if (!busy) {
    busy = new Set();
    activating.set(deps.db, busy);
  }
  if (busy.has(model)) {
    throw new ApiError('conflict', `a baseline of model ${model} is being activated; retry when it has finished`);
  }
  busy.add(model);
  try {
    return await activate(deps, model, id);
  } finally {
    busy.delete(model);
  }
}

const activating = new WeakMap<object, Set<string>>();

async function activate(deps: AppDeps, model: string, id: number): Promise<{ baseline: BaselineView; reaggregated: number }> {
  const row = getBaseline(deps.db, model, id);
  if (!row) throw new ApiError('not_found', `model ${model} has no baseline ${id}`);

  const { maxId, versions } = deps.db.sqlite.transaction(() => {
    markActive(deps.db, row, deps.clock());
    invalidateBaselines(deps.db, model);
    const affected = versionsOf(deps.db, model).filter((v) => resolveBaseline(deps.db, model, v)?.id === id);
    clearAggregates(deps.db, model, id);
    return { maxId: maxRecordId(deps.db), versions: affected };
  })();

  let reaggregated = 0;
  for (const version of versions) {
    let after = 0;
    for (;;) {
      const page = recordPage(deps.db, model, version, after, maxId, PAGE);
      if (page.length === 0) break;
      const list: IngestRecord[] = page.map((r) => ({
        model: r.model,
        modelVersion: r.model_version,
        requestId: r.request_id,
        ts: r.ts,
        features: JSON.parse(r.features) as IngestRecord['features'],
        prediction: r.prediction === null ? null : JSON.parse(r.prediction),
        label: r.label === null ? null : JSON.parse(r.label),
        latencyMs: null,
        status: null,
        error: null,
        tags: null,
      }));
      deps.db.sqlite.transaction(() => aggregateRecords(deps, list, deps.clock(), { bucketStats: false, markChanged: false }))();
      reaggregated += list.length;
      after = page[page.length - 1]?.id ?? after;
      // Let ingest requests in between pages: re-aggregating a long retention period can take a while.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const updated = getBaseline(deps.db, model, id);
  return { baseline: baselineView(updated ?? row), reaggregated };
}

export function baselineDetail(deps: AppDeps, model: string, id: number, includeGrid: boolean) {
  const row = getBaseline(deps.db, model, id);
  if (!row) throw new ApiError('not_found', `model ${model} has no baseline ${id}`);
  const columns = baselineColumnsOf(deps.db, id).map((c) => {
    const p = c.profile;
    if (p.type === 'numeric' && !includeGrid) {
      const { gridEdges: _e, gridCounts: _c, ...rest } = p;
      return { role: c.role, name: c.name, ...rest, grid_cells: p.gridCounts.length };
    }
    return { role: c.role, name: c.name, ...p };
  });
  return { ...baselineView(row), columns };
}
