import { Readable } from 'node:stream';
import { baselineCache, type LoadedBaseline } from '../aggregates/baseline-cache.js';
import { beginActivationIn, createBaseline, finishActivation } from '../baselines/service.js';
import type { AppDeps } from '../context.js';
import { ApiError } from '../errors.js';
import { predictionValue } from '../profiles/binner.js';
import type { ProfileOptions } from '../profiles/profile.js';
import { isServed, previousVersion as previousServedVersion, rollbackIn } from '../serving/versions.js';
import type { ActivationRow, AlertDecision, AlertRow, Tx } from '../store/index.js';
import { setThresholds, thresholdsFor } from '../thresholds/service.js';
import type { AlertView, RetrainRequestView } from '../views.js';
import { checkLength } from './limits.js';
import { TRANSITIONS } from './policy.js';
import { notify } from './raise.js';
import { type ChangeInput, changeAlert, loadForChange, requireStatus } from './review.js';
import { alertView, retrainView } from './views.js';

// Decisions: what a reviewer concludes about an alert, and its effect. Reviewers (not only admins) may
// carry out the effects scoped to the alert under review — a baseline built from that alert's own window
// (accept_shift) and raised thresholds on that one feature (false_positive) — because the decision is
// recorded with their note in the alert's audit trail. Free-form baseline uploads and threshold edits
// through the direct routes stay admin-only.

type Deps = Pick<AppDeps, 'store' | 'config' | 'clock' | 'servingChanged'>;
export type Decision = AlertDecision;

export interface DecisionInput extends ChangeInput {
  decision: Decision;
  note: string;
  snoozeUntil?: number | undefined;
  confirm?: boolean | undefined;
  raiseThresholds?: boolean | undefined;
}

export interface DecisionOutcome {
  alert: AlertView;
  retrain_request?: RetrainRequestView;
  baseline?: { id: number; reaggregated_records: number };
  thresholds?: { psi_warning: number; psi_critical: number };
  /** `activated` when driftwatch serves the model (the previous served version now answers predict). */
  rollback?: { status: 'recorded' | 'activated'; from_version: string | null; to_version: string };
}

async function windowOfLatestEvidence(tx: Tx, alert: AlertRow): Promise<{ from: number; to: number }> {
  const [latest] = await tx.alerts.evidence(alert.id, 1);
  return latest
    ? { from: latest.windowFrom, to: latest.windowTo }
    : { from: alert.firstSeen, to: alert.lastSeen };
}

const PAGE = 2_000;

/** The window's raw records as training rows, streamed as NDJSON for the baseline builder, a page at a time. */
function windowRows(
  deps: Deps,
  alert: AlertRow,
  w: { from: number; to: number },
  withPrediction: boolean,
): Readable {
  return Readable.from(
    (async function* () {
      let after = 0;
      for (;;) {
        const page = await deps.store.read((tx) =>
          tx.records.windowPage(alert.model, alert.modelVersion, w.from, w.to, after, PAGE),
        );
        if (page.length === 0) return;
        let chunk = '';
        for (const r of page) {
          const row = JSON.parse(r.features) as Record<string, unknown>;
          if (withPrediction)
            row.prediction = predictionValue(r.prediction === null ? null : JSON.parse(r.prediction));
          chunk += `${JSON.stringify(row)}\n`;
        }
        yield chunk;
        after = page[page.length - 1]?.id ?? after;
      }
    })(),
  );
}

/**
 * Profile options for a baseline built from production records: the active baseline's own options
 * (excluded columns, forced types, top-K, grid size), with each column's current type kept and the
 * prediction under the name the window rows give it.
 */
async function shiftProfileOptions(
  tx: Tx,
  model: string,
  active: LoadedBaseline | null,
): Promise<ProfileOptions> {
  if (!active) return {};
  const stored = await tx.baselines.get(model, active.id);
  const own = stored ? (JSON.parse(stored.options) as ProfileOptions) : {};
  const typed = (type: 'numeric' | 'categorical') =>
    [...active.features].filter(([, b]) => b.profile.type === type).map(([k]) => k);
  return {
    ...(own.exclude ? { exclude: own.exclude } : {}),
    ...(own.topK === undefined ? {} : { topK: own.topK }),
    ...(own.gridCells === undefined ? {} : { gridCells: own.gridCells }),
    categorical: typed('categorical'),
    numeric: typed('numeric'),
    ...(active.prediction ? { prediction: 'prediction' } : {}),
    allowAbsentColumns: true,
  };
}

/** Checks a decision against the alert as the reviewer saw it; the effects' previews come from here. */
async function checkDecision(tx: Tx, input: DecisionInput, now: number) {
  const current = await loadForChange(tx, input.id, input.version);
  if (input.decision === 'snooze') {
    requireStatus(current, TRANSITIONS.snooze ?? [], 'snooze');
    if (input.snoozeUntil === undefined || input.snoozeUntil <= now) {
      throw new ApiError('bad_request', 'snooze_until must be a time in the future', {
        problems: [{ path: 'snooze_until', message: 'must be in the future' }],
      });
    }
  } else requireStatus(current, TRANSITIONS.decide ?? [], `record a ${input.decision} decision on`);
  if (input.raiseThresholds && (input.decision !== 'false_positive' || current.kind === 'data_quality')) {
    throw new ApiError(
      'bad_request',
      input.decision !== 'false_positive'
        ? 'raise_thresholds goes with a false_positive decision'
        : 'raise_thresholds applies to drift and prediction_drift alerts; data-quality alerts follow qualityRate in the config',
      { problems: [{ path: 'raise_thresholds', message: 'not applicable here' }] },
    );
  }
  let rollbackTo: string | null = null;
  let served = false;
  if (input.decision === 'rollback') {
    // A model driftwatch serves itself is rolled back for real: the version active before the current one.
    served = await isServed(tx, current.model);
    if (served) {
      // Rolling back is about the version the alert saw: once another version answers, "previous" would
      // mean going forward again.
      const active = (await tx.serving.list(current.model)).find((v) => v.state === 'active')?.version;
      if (active !== undefined && active !== current.modelVersion) {
        throw new ApiError(
          'conflict',
          `the alert is about version ${current.modelVersion || '(unversioned)'} of ${current.model}, but version ${active} is active now; close the alert, or record retrain or accept_shift`,
          { model_version: current.modelVersion || null, active_version: active },
        );
      }
    }
    rollbackTo = served
      ? await previousServedVersion(tx, current.model)
      : await tx.models.previousVersion(current.model, current.modelVersion);
    if (rollbackTo === null) {
      throw new ApiError(
        'conflict',
        `model ${current.model} has no version before ${current.modelVersion || '(unversioned)'} to roll back to; record retrain or accept_shift instead`,
        { model_version: current.modelVersion || null },
      );
    }
  }
  return { current, rollbackTo, served };
}

/** The PSI thresholds a false_positive decision with raise_thresholds sets on the alert's feature. */
async function raisedThresholds(tx: Tx, deps: Deps, alert: AlertRow) {
  const t = (await thresholdsFor(tx, deps.config, alert.model))(alert.feature);
  const psiWarning = Math.max(t.psiWarning, Math.round((alert.peakPsi ?? t.psiWarning) * 1.2 * 1e4) / 1e4);
  return { psiWarning, psiCritical: Math.max(t.psiCritical, psiWarning * 2.5), from: t };
}

export interface DecisionPreview {
  decision: Decision;
  /** What recording the decision will do, in one sentence for the reviewer to confirm. */
  effect: string;
  /** accept_shift: the window the new baseline is built from and the baseline it replaces. */
  baseline?: { records: number; from: string; to: string; replaces_baseline_id: number | null };
  /** rollback: the version that will answer (served) or is recorded as the target. */
  rollback?: { from_version: string | null; to_version: string; served: boolean };
  thresholds?: {
    psi_warning: number;
    psi_critical: number;
    from: { psi_warning: number; psi_critical: number };
  };
}

/**
 * What a decision would do, without doing it: the same checks as deciding (a stale version or a decision
 * not possible now is the same error), then its effect stated — which baseline accept_shift builds, which
 * version rollback activates, which thresholds false_positive raises.
 */
export async function previewDecision(
  deps: Deps,
  input: Pick<DecisionInput, 'id' | 'version' | 'decision' | 'snoozeUntil' | 'raiseThresholds'> & {
    actor?: string;
  },
): Promise<DecisionPreview> {
  const now = deps.clock();
  return deps.store.read(async (tx) => {
    const check = { ...input, actor: input.actor ?? '', note: '' };
    const { current, rollbackTo, served } = await checkDecision(tx, check, now);
    const name = `${current.model} ${current.modelVersion || '(unversioned)'}`;
    switch (input.decision) {
      case 'accept_shift': {
        const w = await windowOfLatestEvidence(tx, current);
        const n = await tx.records.countWindow(current.model, current.modelVersion, w.from, w.to);
        const active = await baselineCache(deps.store).resolve(tx, current.model, current.modelVersion);
        const from = new Date(w.from).toISOString();
        const to = new Date(w.to).toISOString();
        const minute = (iso: string) => iso.slice(0, 16).replace('T', ' ');
        return {
          decision: input.decision,
          effect:
            n === 0
              ? `accept_shift cannot build a baseline: the records of ${minute(from)} – ${minute(to)} UTC are no longer stored (retention); upload a baseline instead.`
              : `Builds a new baseline for ${name} from the ${n} records of ${minute(from)} – ${minute(to)} UTC and activates it in place of ${active ? `baseline ${active.id}` : 'no baseline'}; later windows are judged against it.`,
          baseline: { records: n, from, to, replaces_baseline_id: active?.id ?? null },
        };
      }
      case 'rollback': {
        const to = rollbackTo as string;
        const from = current.modelVersion || null;
        return {
          decision: input.decision,
          effect: served
            ? `Activates version ${to} of ${current.model} in place of ${from ?? '(unversioned)'}: predict answers from ${to} at once, on every process.`
            : `Records a rollback of ${current.model} from ${from ?? '(unversioned)'} to ${to} and notifies the channels; driftwatch does not serve this model, so your deployment carries it out.`,
          rollback: { from_version: from, to_version: to, served },
        };
      }
      case 'retrain':
        return {
          decision: input.decision,
          effect: `Creates a retrain request for ${name} (status requested) linked to this alert, and notifies the channels.`,
        };
      case 'false_positive': {
        if (!input.raiseThresholds) {
          return {
            decision: input.decision,
            effect: 'Records the alert as a false positive; thresholds stay as they are.',
          };
        }
        const t = await raisedThresholds(tx, deps, current);
        return {
          decision: input.decision,
          effect: `Records a false positive and raises ${current.feature}'s PSI thresholds from ${t.from.psiWarning} / ${t.from.psiCritical} to ${t.psiWarning} / ${Math.round(t.psiCritical * 1e4) / 1e4} (warning / critical).`,
          thresholds: {
            psi_warning: t.psiWarning,
            psi_critical: t.psiCritical,
            from: { psi_warning: t.from.psiWarning, psi_critical: t.from.psiCritical },
          },
        };
      }
      case 'snooze':
        return {
          decision: input.decision,
          effect: `Snoozes the alert until ${new Date(input.snoozeUntil as number).toISOString()}; it is back in the queue then, and notifies again only if the feature still drifts.`,
        };
    }
  });
}

/** Records a reviewer's decision and carries out its effect. */
export async function decideAlert(deps: Deps, input: DecisionInput): Promise<DecisionOutcome> {
  checkLength('note', input.note);
  const now = deps.clock();
  const outcome: Omit<DecisionOutcome, 'alert'> = {};
  let newBaselineId: number | undefined;
  if (input.decision === 'accept_shift') {
    const prep = await deps.store.read(async (tx) => {
      const { current } = await checkDecision(tx, input, now);
      const w = await windowOfLatestEvidence(tx, current);
      const n = await tx.records.countWindow(current.model, current.modelVersion, w.from, w.to);
      const active = await baselineCache(deps.store).resolve(tx, current.model, current.modelVersion);
      return { current, w, n, active, profile: await shiftProfileOptions(tx, current.model, active) };
    });
    const { current, w, n, active } = prep;
    // Replacing the baseline changes every later verdict: show what would happen until the reviewer confirms.
    if (!input.confirm) {
      throw new ApiError(
        'confirmation_required',
        `accept_shift builds a new baseline for ${current.model} ${current.modelVersion || '(unversioned)'} from ${n} stored records of ${new Date(w.from).toISOString()} – ${new Date(w.to).toISOString()} and activates it in place of baseline ${active?.id ?? 'none'}; resend with "confirm": true`,
        {
          records: n,
          window: { from: new Date(w.from).toISOString(), to: new Date(w.to).toISOString() },
          replaces_baseline_id: active?.id ?? null,
        },
      );
    }
    if (n === 0)
      throw new ApiError(
        'conflict',
        'the raw records of the alert window are no longer stored (retention); upload a baseline instead',
      );
    const created = await createBaseline(deps, {
      model: current.model,
      modelVersion: current.modelVersion,
      source: windowRows(deps, current, w, active !== null && active.prediction !== null),
      format: 'ndjson',
      profile: prep.profile,
      notes: `accept_shift of alert ${current.id}: ${input.note}`,
      createdBy: input.actor,
      activate: false,
    });
    newBaselineId = created.baseline.id;
  }
  let activation: ActivationRow | undefined;
  let servingChanged = false;

  const alert = await deps.store.tx(async (tx) => {
    // Checked again inside the transaction that records it: the accept_shift work above awaited.
    const { current: fresh, rollbackTo, served } = await checkDecision(tx, input, now);
    // The switch to the new baseline commits with the decision or not at all: a stale version (409) or
    // another activation in progress (409) leaves the built baseline inactive and the alert as it was.
    if (newBaselineId !== undefined)
      activation = await beginActivationIn(tx, deps, fresh.model, newBaselineId, input.actor);
    const snooze = input.decision === 'snooze';
    const updated = await changeAlert(
      tx,
      fresh,
      {
        status: snooze ? 'snoozed' : 'decided',
        decision: input.decision,
        decisionNote: input.note,
        snoozedUntil: snooze ? (input.snoozeUntil ?? null) : null,
      },
      now,
    );
    const data: Record<string, unknown> = { decision: input.decision };
    if (input.decision === 'retrain') {
      const request = await tx.alerts.insertRetrain({
        model: fresh.model,
        modelVersion: fresh.modelVersion,
        alertIds: JSON.stringify([fresh.id]),
        requestedBy: input.actor,
        reason: input.note,
        status: 'requested',
        createdAt: now,
        updatedAt: now,
      });
      outcome.retrain_request = retrainView(request);
      data.retrain_request_id = request.id;
      await notify(tx, deps, {
        type: 'retrain.requested',
        at: now,
        actor: input.actor,
        alert: updated,
        retrain: request,
      });
    }
    if (input.decision === 'rollback' && rollbackTo !== null) {
      let from = fresh.modelVersion || null;
      if (served) {
        // The same rollback as the API's and the UI's, in this decision's transaction: the target checked
        // above must still be the one, and a retired version is refused.
        const rolled = await rollbackIn(tx, fresh.model, {
          actor: input.actor,
          note: `review decision on alert ${fresh.id}: ${input.note}`,
          now,
          expect: rollbackTo,
        });
        from = rolled.previous;
        servingChanged = true;
      }
      outcome.rollback = {
        status: served ? 'activated' : 'recorded',
        from_version: from,
        to_version: rollbackTo,
      };
      data.rollback = outcome.rollback;
      await notify(tx, deps, {
        type: 'rollback.requested',
        at: now,
        actor: input.actor,
        alert: updated,
        note: `roll ${fresh.model} back from ${fresh.modelVersion || '(unversioned)'} to ${rollbackTo}`,
      });
    }
    if (input.decision === 'false_positive' && input.raiseThresholds) {
      const { psiWarning, psiCritical } = await raisedThresholds(tx, deps, fresh);
      await setThresholds(
        tx,
        deps.config,
        {
          model: fresh.model,
          feature: fresh.feature,
          psiWarning,
          psiCritical,
          alpha: null,
          actor: input.actor,
          reason: `false positive on alert ${fresh.id}: ${input.note}`,
        },
        now,
      );
      outcome.thresholds = { psi_warning: psiWarning, psi_critical: psiCritical };
      data.thresholds = outcome.thresholds;
    }
    if (activation) data.baseline = { id: activation.baselineId, records_to_rebuild: activation.total };
    await tx.alerts.addEvent({
      alertId: fresh.id,
      at: now,
      actor: input.actor,
      action: `decision:${input.decision}`,
      fromStatus: fresh.status,
      toStatus: updated.status,
      note: input.note,
      data: JSON.stringify(data),
    });
    return updated;
  });
  if (servingChanged) await deps.servingChanged?.();
  if (activation) {
    const activated = await finishActivation(deps, activation);
    outcome.baseline = { id: activated.baseline.id, reaggregated_records: activated.reaggregated };
  }
  return { alert: alertView(alert), ...outcome };
}
