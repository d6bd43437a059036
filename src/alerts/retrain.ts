import type { AppDeps } from '../context.js';
import { ApiError } from '../errors.js';
import { isServed } from '../serving/versions.js';
import type { RetrainRow, RetrainStatus } from '../store/index.js';
import type { RetrainRequestView } from '../views.js';
import { checkLength } from './limits.js';
import { notify } from './raise.js';
import { retrainView } from './views.js';

// Retrain requests: raised by a retrain decision or directly, then moved along by whoever retrains.

type Deps = Pick<AppDeps, 'store' | 'config' | 'clock'>;

const RETRAIN_FLOW: Record<RetrainStatus, RetrainStatus[]> = {
  requested: ['accepted', 'rejected'],
  accepted: ['in_progress', 'rejected'],
  in_progress: ['done', 'rejected'],
  done: [],
  rejected: [],
};

export async function createRetrainRequest(
  deps: Deps,
  input: { model: string; modelVersion: string; alertIds: number[]; actor: string; reason: string },
): Promise<RetrainRequestView> {
  checkLength('note', input.reason);
  const now = deps.clock();
  return deps.store.tx(async (tx) => {
    const alerts = [];
    for (const id of input.alertIds) {
      const a = await tx.alerts.get(id);
      if (!a)
        throw new ApiError('bad_request', `alert ${id} does not exist`, {
          problems: [{ path: 'alert_ids', message: `alert ${id} does not exist` }],
        });
      if (a.model !== input.model)
        throw new ApiError('bad_request', `alert ${id} belongs to model ${a.model}, not ${input.model}`);
      alerts.push(a);
    }
    const row = await tx.alerts.insertRetrain({
      model: input.model,
      modelVersion: input.modelVersion,
      alertIds: JSON.stringify(input.alertIds),
      requestedBy: input.actor,
      reason: input.reason,
      status: 'requested',
      createdAt: now,
      updatedAt: now,
    });
    for (const a of alerts) {
      await tx.alerts.addEvent({
        alertId: a.id,
        at: now,
        actor: input.actor,
        action: 'retrain_requested',
        fromStatus: a.status,
        toStatus: a.status,
        note: input.reason,
        data: JSON.stringify({ retrain_request_id: row.id }),
      });
    }
    await notify(tx, deps, { type: 'retrain.requested', at: now, actor: input.actor, retrain: row });
    return retrainView(row);
  });
}

export async function updateRetrainStatus(
  deps: Deps,
  input: {
    id: number;
    actor: string;
    status: RetrainStatus;
    producedVersion?: string | undefined;
    note?: string | undefined;
    version?: number | undefined;
  },
): Promise<RetrainRequestView> {
  checkLength('produced_version', input.producedVersion);
  checkLength('note', input.note);
  const now = deps.clock();
  return deps.store.tx(async (tx) => {
    const current = await tx.alerts.getRetrain(input.id);
    if (!current) throw new ApiError('not_found', `retrain request ${input.id} does not exist`);
    const stale = (at: RetrainRow) =>
      new ApiError(
        'stale_version',
        `retrain request ${input.id} is at version ${at.version}, not ${input.version ?? current.version}`,
        { current_version: at.version },
      );
    if (input.version !== undefined && input.version !== current.version) throw stale(current);
    const allowed = RETRAIN_FLOW[current.status];
    if (!allowed.includes(input.status)) {
      throw new ApiError(
        'invalid_transition',
        `retrain request ${input.id} is ${current.status}; it can move to ${allowed.join(', ') || 'nothing (final)'}`,
        {
          current_status: current.status,
        },
      );
    }
    if (input.status === 'done' && !input.producedVersion && !current.producedVersion) {
      throw new ApiError('bad_request', 'produced_version is required when a retrain is done', {
        problems: [{ path: 'produced_version', message: 'required when status is done' }],
      });
    }
    // For a model driftwatch serves, the produced version must be one it has registered: the request then
    // links to an artifact with its manifest, metrics and changelog (GET /v1/models/:name/versions).
    if (input.producedVersion && (await isServed(tx, current.model))) {
      if (!(await tx.serving.get(current.model, input.producedVersion))) {
        throw new ApiError(
          'invalid_input',
          `model ${current.model} has no served version ${input.producedVersion}; upload it first (POST /v1/models/${current.model}/versions)`,
          { problems: [{ path: 'produced_version', message: 'not a registered version of this model' }] },
        );
      }
    }
    const row = await tx.alerts.updateRetrain(
      current.id,
      current.version,
      { status: input.status, ...(input.producedVersion ? { producedVersion: input.producedVersion } : {}) },
      now,
    );
    if (!row) throw stale((await tx.alerts.getRetrain(current.id)) ?? current);
    for (const id of JSON.parse(current.alertIds) as number[]) {
      await tx.alerts.addEvent({
        alertId: id,
        at: now,
        actor: input.actor,
        action: `retrain_${input.status}`,
        fromStatus: null,
        toStatus: null,
        note: input.note ?? null,
        data: JSON.stringify({ retrain_request_id: row.id, produced_version: row.producedVersion }),
      });
    }
    await notify(tx, deps, {
      type: 'retrain.updated',
      at: now,
      actor: input.actor,
      retrain: row,
      ...(input.note ? { note: input.note } : {}),
    });
    return retrainView(row);
  });
}

export async function listRetrainRequests(
  deps: Pick<AppDeps, 'store'>,
  f: { model?: string | undefined; status?: RetrainStatus | undefined; limit: number },
) {
  return (await deps.store.read((tx) => tx.alerts.listRetrain(f))).map(retrainView);
}
