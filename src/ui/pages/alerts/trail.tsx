import type { AlertDetail } from '../../../alerts/review.js';
import { utc } from '../../components.js';

// An alert's audit trail: every change, who made it and their note, oldest first.

export function AuditTrail(props: { a: AlertDetail }) {
  const { a } = props;
  return (
    <>
      <h2 id="trail">Audit trail</h2>
      <ol class="trail">
        {a.events.map((e) => (
          <li>
            <div class="when">
              {utc(e.at)} · {e.actor}
            </div>
            <div>
              <strong>{e.action.replace('decision:', 'decision: ')}</strong>
              {e.action === 'assigned' ? ` to ${assignedTo(e.data)}` : ''}
              {e.action === 'decision:rollback' ? rollbackText(e.data) : ''}
              {e.from && e.to && e.from !== e.to ? ` (${e.from} → ${e.to})` : ''}
              {e.note ? ` — “${e.note}”` : ''}
            </div>
          </li>
        ))}
      </ol>
    </>
  );
}

/** What a rollback decision did, from its data ({rollback: {status, from_version, to_version}}). */
function rollbackText(data: unknown): string {
  const r = (data as { rollback?: { status?: unknown; from_version?: unknown; to_version?: unknown } } | null)
    ?.rollback;
  if (!r || typeof r.to_version !== 'string') return '';
  const from = typeof r.from_version === 'string' ? ` from ${r.from_version}` : '';
  return r.status === 'activated'
    ? `: activated version ${r.to_version}${from}`
    : `: rollback${from} to ${r.to_version} recorded (not served here)`;
}

/** Whom an "assigned" event names, from its data ({from, to}). */
function assignedTo(data: unknown): string {
  const to = (data as { to?: unknown } | null)?.to;
  return typeof to === 'string' && to !== '' ? to : 'nobody';
}
