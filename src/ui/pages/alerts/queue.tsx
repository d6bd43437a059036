import { alertCounts, listAlerts } from '../../../alerts/review.js';
import { listModels } from '../../../models/service.js';
import { ALERT_KINDS } from '../../../rules/alerts.js';
import type { AlertCount, AlertKind, AlertSeverity, AlertStatus } from '../../../store/index.js';
import type { AlertView } from '../../../views.js';
import { Ago, num, pct, SeverityBadge, StatusBadge, uiPath } from '../../components.js';
import { page, type UiContext } from '../../kit.js';
import { kindLabel, qualityOf } from './measures.js';

// The review queue: headline counts, the filters (status, severity, model, kind, assignee) and the
// matching alerts, critical first, then the longest waiting.

const STATUSES: AlertStatus[] = ['open', 'acknowledged', 'snoozed', 'decided', 'closed'];
const ACTIVE: AlertStatus[] = ['open', 'acknowledged', 'snoozed', 'decided'];
/** Waiting for a decision: the queue's default and its headline counts (as on the overview). */
const UNDECIDED: AlertStatus[] = ['open', 'acknowledged'];
const KINDS: readonly AlertKind[] = ALERT_KINDS;
const QUEUE_LIMIT = 200;

interface QueueFilter {
  status: AlertStatus[];
  statusParam: string;
  severity?: AlertSeverity;
  model?: string;
  assignee?: string;
  kind?: AlertKind;
}

function queueFilter(c: UiContext): QueueFilter {
  const q = c.req.query();
  const statusParam = q.status && q.status !== '' ? q.status : 'undecided';
  const status =
    statusParam === 'undecided'
      ? UNDECIDED
      : statusParam === 'active'
        ? ACTIVE
        : statusParam === 'all'
          ? STATUSES
          : STATUSES.includes(statusParam as AlertStatus)
            ? [statusParam as AlertStatus]
            : UNDECIDED;
  const severity = q.severity === 'critical' || q.severity === 'warning' ? q.severity : undefined;
  const kind = KINDS.includes(q.kind as AlertKind) ? (q.kind as AlertKind) : undefined;
  const model = q.model?.trim() || undefined;
  const assignee = q.assignee?.trim() || undefined;
  return { status, statusParam, severity, model, assignee, kind };
}

/** The review queue (/ui/alerts): counts, filters and the alerts in triage order. */
export async function queuePage(c: UiContext) {
  const deps = c.get('deps');
  const f = queueFilter(c);
  const actor = c.get('actor').name;
  const assignee = f.assignee === '@me' ? actor : f.assignee;
  const [alerts, counts, models] = await Promise.all([
    listAlerts(deps, {
      status: f.status,
      severity: f.severity,
      model: f.model,
      assignee,
      kind: f.kind,
      limit: QUEUE_LIMIT,
      order: 'triage',
    }),
    alertCounts(deps, { model: f.model, assignee, kind: f.kind }),
    listModels(deps),
  ]);
  const now = deps.clock();
  const matching = countOf(counts, f.status, f.severity);
  const modelNames = [...new Set(models.map((m) => m.model))].sort();
  return page(
    c,
    { title: 'Alerts', section: 'alerts' },
    <>
      <QueueCounts counts={counts} filter={f} />
      <form method="get" action="/ui/alerts" class="filters" aria-label="Filter alerts">
        <div>
          <label for="f-status">Status</label>
          <select id="f-status" name="status" data-filter>
            {[
              ['undecided', 'awaiting a decision'],
              ['active', 'not closed'],
              ...STATUSES.map((s) => [s, s]),
              ['all', 'all'],
            ].map(([v, l]) => (
              <option value={v} selected={f.statusParam === v}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="f-severity">Severity</label>
          <select id="f-severity" name="severity">
            <option value="">any</option>
            {['critical', 'warning'].map((s) => (
              <option value={s} selected={f.severity === s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="f-model">Model</label>
          <select id="f-model" name="model">
            <option value="">any</option>
            {modelNames.map((m) => (
              <option value={m} selected={f.model === m}>
                {m}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="f-kind">Kind</label>
          <select id="f-kind" name="kind">
            <option value="">any</option>
            {KINDS.map((k) => (
              <option value={k} selected={f.kind === k}>
                {kindLabel(k)}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="f-assignee">Assignee</label>
          <input
            id="f-assignee"
            name="assignee"
            type="text"
            value={f.assignee ?? ''}
            placeholder="name, or @me"
            size={14}
          />
        </div>
        <button type="submit">Apply</button>
        <a href="/ui/alerts?assignee=%40me" class="button">
          Assigned to me
        </a>
      </form>
      <p class="muted" id="queue-summary">
        {alerts.length === 0
          ? 'No alerts match.'
          : `${matching} alert${matching === 1 ? '' : 's'} match${alerts.length < matching ? `; the first ${alerts.length} are shown` : ''}, critical first, then the longest waiting.`}{' '}
        Keys: <kbd>j</kbd>/<kbd>k</kbd> move, <kbd>o</kbd> opens, <kbd>/</kbd> filters.{' '}
        <button type="button" class="small" data-shortcuts-toggle hidden>
          Keyboard shortcuts
        </button>
      </p>
      {alerts.length > 0 ? <QueueTable alerts={alerts} now={now} /> : null}
    </>,
  );
}

function countOf(counts: AlertCount[], status: AlertStatus[], severity?: AlertSeverity): number {
  return counts
    .filter((r) => status.includes(r.status) && (severity === undefined || r.severity === severity))
    .reduce((a, r) => a + r.n, 0);
}

function QueueCounts(props: { counts: AlertCount[]; filter: QueueFilter }) {
  const { counts } = props;
  const link = (status: string, severity?: string) => {
    const q = new URLSearchParams({ status });
    if (severity) q.set('severity', severity);
    if (props.filter.model) q.set('model', props.filter.model);
    if (props.filter.kind) q.set('kind', props.filter.kind);
    if (props.filter.assignee) q.set('assignee', props.filter.assignee);
    return `/ui/alerts?${q}`;
  };
  const cards: { label: string; n: number; href: string }[] = [
    {
      label: 'critical, awaiting decision',
      n: countOf(counts, UNDECIDED, 'critical'),
      href: link('undecided', 'critical'),
    },
    {
      label: 'warning, awaiting decision',
      n: countOf(counts, UNDECIDED, 'warning'),
      href: link('undecided', 'warning'),
    },
    { label: 'open', n: countOf(counts, ['open']), href: link('open') },
    { label: 'acknowledged', n: countOf(counts, ['acknowledged']), href: link('acknowledged') },
    { label: 'snoozed', n: countOf(counts, ['snoozed']), href: link('snoozed') },
    { label: 'decided', n: countOf(counts, ['decided']), href: link('decided') },
  ];
  return (
    <section class="cards" aria-label="Alert counts">
      {cards.map((k) => (
        <a class="card" href={k.href}>
          <div class="label">{k.label}</div>
          <div class="value">{k.n}</div>
        </a>
      ))}
    </section>
  );
}

/** The measure that made the alert: PSI for drift, the rate or latency for the others. */
function headline(a: AlertView): string {
  const m = a.latest as Record<string, number | null | undefined>;
  switch (a.kind) {
    case 'drift':
    case 'prediction_drift':
      return `PSI ${num(m.psi ?? null)}`;
    case 'data_quality':
      return `worst rate ${pct(qualityOf(m))}`;
    case 'latency':
      return `p95 ${num(m.latency_p95_ms ?? null, 1)} ms`;
    case 'error_rate':
      return `errors ${pct(m.error_rate ?? null)}`;
    case 'performance_drop':
      return `accuracy ${pct(m.accuracy ?? null)} (drop ${pct(m.drop ?? null)})`;
    case 'multivariate_drift':
      return typeof m.reconstruction_error === 'number'
        ? `error ${num(m.reconstruction_error)} (threshold ${num(m.reconstruction_threshold ?? null)})`
        : `ρ ${num(m.correlation_baseline ?? null, 2)} → ${num(m.correlation_window ?? null, 2)}`;
  }
}

function QueueTable(props: { alerts: AlertView[]; now: number }) {
  return (
    <div class="table-wrap">
      <table aria-describedby="queue-summary">
        <caption class="sr-only">Alerts in triage order</caption>
        <thead>
          <tr>
            <th scope="col">Severity</th>
            <th scope="col">Alert</th>
            <th scope="col">Model</th>
            <th scope="col">Measure</th>
            <th scope="col">Status</th>
            <th scope="col">Assignee</th>
            <th scope="col">Waiting</th>
            <th scope="col">Last seen</th>
          </tr>
        </thead>
        <tbody>
          {props.alerts.map((a) => (
            <tr data-row>
              <td>
                <SeverityBadge severity={a.severity} />
              </td>
              <td>
                <a href={uiPath.alert(a.id)} data-open>
                  #{a.id} {kindLabel(a.kind)} · {a.feature}
                </a>
                {a.recovered ? <span class="muted"> (recovered)</span> : null}
              </td>
              <td>
                <a href={uiPath.model(a.model)}>{a.model}</a>
                {a.model_version ? <span class="muted"> {a.model_version}</span> : null}
              </td>
              <td class="num">{headline(a)}</td>
              <td>
                <StatusBadge status={a.status} />
              </td>
              <td>{a.assignee ?? <span class="muted">nobody</span>}</td>
              <td>
                <Ago at={a.created_at} now={props.now} past bare />
              </td>
              <td>
                <Ago at={a.last_seen} now={props.now} past />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
