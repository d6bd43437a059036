import type { Decision, DecisionPreview } from '../../../alerts/decisions.js';
import { TEXT_LIMITS } from '../../../alerts/limits.js';
import type { AlertDetail } from '../../../alerts/review.js';
import { ApiError } from '../../../errors.js';
import { isDriftKind } from '../../../rules/alerts.js';
import { uiPath } from '../../components.js';
import { page, type UiContext } from '../../kit.js';
import { Csrf } from '../../layout.js';
import type { Kept } from './input.js';

// Deciding an alert takes two steps: the form (what each decision does), then a confirmation page stating
// this decision's effect (previewDecision), whose button records it (decideAlert).

export const DECISIONS: { value: Decision; label: string; hint: string }[] = [
  {
    value: 'retrain',
    label: 'Retrain',
    hint: 'The shift is real and the model should learn it: opens a retrain request.',
  },
  {
    value: 'accept_shift',
    label: 'Accept the shift',
    hint: 'The new data is the new normal: builds a baseline from the alert window and activates it.',
  },
  {
    value: 'rollback',
    label: 'Roll back',
    hint: 'The current version is at fault: the previous version answers again (when driftwatch serves it).',
  },
  {
    value: 'false_positive',
    label: 'False positive',
    hint: 'Nothing is wrong; optionally raise this feature’s PSI thresholds.',
  },
  { value: 'snooze', label: 'Snooze', hint: 'Look again later: the alert leaves the queue until then.' },
];

/** datetime-local values are the reviewer's wall time without a zone: the form says they are UTC. */
export function snoozeTime(v: string): number {
  const t = Date.parse(/Z$|[+-]\d\d:\d\d$/.test(v) ? v : `${v}Z`);
  if (v === '' || !Number.isFinite(t)) {
    throw new ApiError('bad_request', 'snooze until: give a date and time (UTC)');
  }
  return t;
}

export function DecisionForm(props: { a: AlertDetail; c: UiContext; kept: Kept }) {
  const { a, c, kept } = props;
  const chosen = kept.decision ?? '';
  return (
    <form method="post" action={`${uiPath.alert(a.id)}/decide`} class="panel">
      <h3>Decide</h3>
      <Csrf ui={c.get('ui')} />
      <input type="hidden" name="version" value={String(a.version)} />
      <fieldset id="decision" tabindex={-1}>
        <legend>Decision</legend>
        {DECISIONS.map((d) => (
          <div class="choice">
            <input
              type="radio"
              name="decision"
              id={`decision-${d.value}`}
              value={d.value}
              checked={chosen === d.value}
              required
              aria-describedby={`decision-${d.value}-hint`}
            />
            <label for={`decision-${d.value}`}>
              <strong>{d.label}</strong>{' '}
              <span class="hint" id={`decision-${d.value}-hint`}>
                {d.hint}
              </span>
            </label>
          </div>
        ))}
      </fieldset>
      <div class="field">
        <label for="decision-note">Note (required: why, for the audit trail)</label>
        <textarea id="decision-note" name="note" required maxlength={TEXT_LIMITS.note}>
          {kept.note ?? ''}
        </textarea>
      </div>
      <div class="field">
        <label for="snooze-until">Snooze until (UTC; only for Snooze)</label>
        <input id="snooze-until" name="snooze_until" type="datetime-local" value={kept.snooze_until ?? ''} />
      </div>
      {isDriftKind(a.kind) ? (
        <div class="choice">
          <input
            type="checkbox"
            id="raise-thresholds"
            name="raise_thresholds"
            value="yes"
            checked={kept.raise_thresholds === true}
          />
          <label for="raise-thresholds">
            With False positive: raise this feature’s PSI thresholds above the peak
          </label>
        </div>
      ) : null}
      <p class="hint">You will see what the decision does before it is recorded.</p>
      <button type="submit" class="primary">
        Review decision…
      </button>
    </form>
  );
}

/** The decision's effect stated in full, with a button that records it (or why it cannot be). */
export function confirmPage(
  c: UiContext,
  id: number,
  version: number | undefined,
  preview: DecisionPreview,
  note: string,
  snoozeUntil: string,
  raiseThresholds: boolean,
) {
  const label = DECISIONS.find((d) => d.value === preview.decision)?.label ?? preview.decision;
  const blocked = preview.decision === 'accept_shift' && preview.baseline?.records === 0;
  return page(
    c,
    {
      title: `Confirm: ${label}`,
      section: 'alerts',
      crumbs: [
        { href: '/ui/alerts', label: 'Alerts' },
        { href: uiPath.alert(id), label: `#${id}` },
        { label: 'confirm' },
      ],
    },
    <>
      <div class={`notice ${blocked ? 'error' : 'warn'}`} role="status">
        <p>
          <strong>{blocked ? 'This decision cannot be carried out.' : 'This is what will happen:'}</strong>
        </p>
        <p id="decision-effect">{preview.effect}</p>
      </div>
      <p>Your note: “{note}”</p>
      {blocked ? null : (
        <form method="post" action={`${uiPath.alert(id)}/decide`}>
          <Csrf ui={c.get('ui')} />
          {version !== undefined ? <input type="hidden" name="version" value={String(version)} /> : null}
          <input type="hidden" name="decision" value={preview.decision} />
          <input type="hidden" name="note" value={note} />
          <input type="hidden" name="snooze_until" value={snoozeUntil} />
          {raiseThresholds ? <input type="hidden" name="raise_thresholds" value="yes" /> : null}
          <input type="hidden" name="confirm" value="yes" />
          <button type="submit" class="primary" id="confirm-decision">
            Confirm: {label}
          </button>{' '}
          <a href={`${uiPath.alert(id)}?${new URLSearchParams({ decision: preview.decision, note })}#act`}>
            Back to the form
          </a>
        </form>
      )}
      {blocked ? <a href={uiPath.alert(id)}>Back to the alert</a> : null}
    </>,
  );
}
