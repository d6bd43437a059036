import type { Hono } from 'hono';
import { type Decision, type DecisionPreview, decideAlert, previewDecision } from '../../alerts/decisions.js';
import { TEXT_LIMITS } from '../../alerts/limits.js';
import {
  type AlertDetail,
  ackAlert,
  alertDetail,
  assignAlert,
  closeAlert,
  commentAlert,
  listAlerts,
} from '../../alerts/review.js';
import { histogramOverlay, lineChart } from '../../charts/index.js';
import { driftSettingsFor } from '../../config.js';
import { driftSeries } from '../../drift/service.js';
import { ApiError } from '../../errors.js';
import { binLabel, largestShift } from '../../reports/render.js';
import { ALERT_KINDS, ALERT_RULES, isDriftKind, isTrafficKind, ladderText } from '../../rules/alerts.js';
import type { AlertCount, AlertKind, AlertSeverity, AlertStatus } from '../../store/index.js';
import { type ThresholdSource, thresholdsFor, trafficThresholds } from '../../thresholds/service.js';
import type { AlertView } from '../../views.js';
import { Ago, Chart, num, pct, SeverityBadge, StatusBadge, span, uiPath, utc } from '../components.js';
import { explain, field, idParam, needs, page, type UiContext, type UiEnv } from '../kit.js';
import { Csrf, type Flash } from '../layout.js';

// The review queue (/ui/alerts) and one alert (/ui/alerts/:id): why it fired, its evidence and charts,
// its audit trail, and the forms that move it along. Every form carries the alert's version, so a form
// left open while someone else acted gets the API's 409 explained instead of overwriting their change.

const STATUSES: AlertStatus[] = ['open', 'acknowledged', 'snoozed', 'decided', 'closed'];
const ACTIVE: AlertStatus[] = ['open', 'acknowledged', 'snoozed', 'decided'];
/** Waiting for a decision: the queue's default and its headline counts (as on the overview). */
const UNDECIDED: AlertStatus[] = ['open', 'acknowledged'];
const KINDS: readonly AlertKind[] = ALERT_KINDS;
const QUEUE_LIMIT = 200;

const kindLabel = (kind: AlertKind) => ALERT_RULES[kind].title;

const DECISIONS: { value: Decision; label: string; hint: string }[] = [
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

const DONE: Record<string, string> = {
  assigned: 'Assignment saved.',
  acknowledged: 'Alert acknowledged.',
  commented: 'Comment added.',
  decided: 'Decision recorded.',
  closed: 'Alert closed.',
};

export function registerAlertPages(ui: Hono<UiEnv>): void {
  ui.get('/alerts', needs('reviewer'), queuePage);
  ui.get('/alerts/:id', needs('reviewer'), async (c) => {
    const done = DONE[c.req.query('done') ?? ''];
    // Back from a confirmation page: the decision and note as they were typed.
    const kept: Kept = { decision: c.req.query('decision') ?? '', note: c.req.query('note') ?? '' };
    return detailPage(c, idParam(c), done ? { kind: 'ok', title: done } : null, 200, kept);
  });

  // Each form: carry out the change, then Post/Redirect/Get back to the alert; an API refusal is shown on
  // the alert page with what was typed kept in the form.
  const act = (
    name: string,
    run: (c: UiContext, id: number, version: number | undefined, actor: string) => Promise<unknown>,
  ) =>
    ui.post(`/alerts/:id/${name}`, needs('reviewer'), async (c) => {
      const id = idParam(c);
      const version = versionField(c);
      try {
        await run(c, id, version, c.get('actor').name);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        return detailPage(c, id, explain(err), statusFor(err), keptInput(c));
      }
      return c.redirect(`${uiPath.alert(id)}?done=${doneKey(name)}`, 303);
    });

  act('assign', (c, id, version, actor) => {
    // "Assign to me" is a second submit button of the same form.
    const to =
      field(c, 'assign_me') === 'yes' ? '@me' : field(c, 'assignee') === '' ? null : field(c, 'assignee');
    return assignAlert(c.get('deps'), {
      id,
      version,
      actor,
      assignee: to === '@me' ? actor : to,
      note: field(c, 'note') || undefined,
    });
  });
  act('ack', (c, id, version, actor) =>
    ackAlert(c.get('deps'), { id, version, actor, note: field(c, 'note') || undefined }),
  );
  act('comment', (c, id, _version, actor) => {
    const text = field(c, 'text');
    if (text === '') throw new ApiError('bad_request', 'the comment is empty');
    return commentAlert(c.get('deps'), { id, actor, text });
  });
  act('close', (c, id, version, actor) =>
    closeAlert(c.get('deps'), { id, version, actor, note: field(c, 'note') || undefined }),
  );

  // A decision takes two steps: the first POST states its effect and asks to confirm, the second (with
  // confirm=yes) records it.
  ui.post('/alerts/:id/decide', needs('reviewer'), async (c) => {
    const id = idParam(c);
    const version = versionField(c);
    const actor = c.get('actor').name;
    const deps = c.get('deps');
    const decision = field(c, 'decision') as Decision;
    const note = field(c, 'note');
    const raiseThresholds = field(c, 'raise_thresholds') === 'yes';
    try {
      if (!DECISIONS.some((d) => d.value === decision)) {
        throw new ApiError(
          'bad_request',
          'choose a decision: retrain, accept shift, roll back, false positive or snooze',
        );
      }
      if (note === '') throw new ApiError('bad_request', 'a note is required: say why, for the audit trail');
      const snoozeUntil = decision === 'snooze' ? snoozeTime(field(c, 'snooze_until')) : undefined;
      const input = { id, version, decision, snoozeUntil, raiseThresholds, actor };
      if (field(c, 'confirm') !== 'yes') {
        const preview = await previewDecision(deps, input);
        return confirmPage(c, id, version, preview, note, field(c, 'snooze_until'), raiseThresholds);
      }
      await decideAlert(deps, { ...input, note, confirm: true });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return detailPage(c, id, explain(err), statusFor(err), keptInput(c));
    }
    return c.redirect(`${uiPath.alert(id)}?done=decided`, 303);
  });
}

const doneKey = (action: string) =>
  ({ assign: 'assigned', ack: 'acknowledged', comment: 'commented', close: 'closed' })[action] ?? action;

function statusFor(err: ApiError): 400 | 403 | 404 | 409 | 422 {
  const s = err.status;
  return s === 403 || s === 404 || s === 409 || s === 422 ? s : 400;
}

function versionField(c: UiContext): number | undefined {
  const v = field(c, 'version');
  return /^[0-9]{1,9}$/.test(v) ? Number(v) : undefined;
}

/** datetime-local values are the reviewer's wall time without a zone: the form says they are UTC. */
function snoozeTime(v: string): number {
  const t = Date.parse(/Z$|[+-]\d\d:\d\d$/.test(v) ? v : `${v}Z`);
  if (v === '' || !Number.isFinite(t)) {
    throw new ApiError('bad_request', 'snooze until: give a date and time (UTC)');
  }
  return t;
}

interface Kept {
  raise_thresholds?: boolean;
  note?: string;
  text?: string;
  decision?: string;
  snooze_until?: string;
  assignee?: string;
}

const keptInput = (c: UiContext): Kept => ({
  raise_thresholds: field(c, 'raise_thresholds') === 'yes',
  note: field(c, 'note'),
  text: field(c, 'text'),
  decision: field(c, 'decision'),
  snooze_until: field(c, 'snooze_until'),
  assignee: field(c, 'assignee'),
});

// ---------------------------------------------------------------------------------------------------
// The queue

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

async function queuePage(c: UiContext) {
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
    deps.store.read((tx) => tx.alerts.counts({ model: f.model, assignee, kind: f.kind })),
    deps.store.read((tx) => tx.models.list()),
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
  }
}

function qualityOf(m: Record<string, number | null | undefined>): number | null {
  const rates = [
    (m.missing_rate ?? 0) - (m.baseline_missing_rate ?? 0),
    m.type_mismatch_rate ?? 0,
    m.unseen_rate ?? 0,
    m.out_of_range_rate ?? 0,
    m.unknown_feature_rate ?? 0,
  ];
  return Math.max(...rates);
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

// ---------------------------------------------------------------------------------------------------
// One alert

interface Why {
  rows: { measure: string; value: string; rule: string; met: boolean | null }[];
  thresholds: string;
}

async function whyItFired(c: UiContext, a: AlertDetail): Promise<Why> {
  const deps = c.get('deps');
  const m = a.latest as Record<string, number | null | undefined>;
  const settings = driftSettingsFor(deps.config, a.model);
  if (isTrafficKind(a.kind)) {
    const t = trafficThresholds(deps.config, a.model);
    const isLatency = a.kind === 'latency';
    const format = isLatency ? (v: number) => `${v} ms` : (v: number) => pct(v);
    const limit = isLatency ? t.latency_p95_ms : t.error_rate;
    const value = isLatency ? (m.latency_p95_ms ?? null) : (m.error_rate ?? null);
    return {
      rows: [
        {
          measure: isLatency ? 'p95 latency' : 'error rate',
          value: isLatency ? `${num(value, 1)} ms` : pct(value),
          rule: limit === null ? 'no threshold configured now' : ladderText(a.kind, limit, format),
          met: limit === null || value === null ? null : value >= limit,
        },
        {
          measure: isLatency ? 'requests with a latency' : 'requests',
          value: String((isLatency ? m.latency_count : m.requests) ?? '—'),
          rule: `judged from ${t.min_samples} on`,
          met: null,
        },
      ],
      thresholds: `Thresholds come from the configuration (${isLatency ? 'latencyP95Ms' : 'errorRate'} of model ${a.model}, or the drift defaults).`,
    };
  }
  const feature = a.kind === 'prediction_drift' ? 'prediction' : a.feature;
  const t: ThresholdSource = await deps.store.read(async (tx) =>
    (await thresholdsFor(tx, deps.config, a.model))(feature),
  );
  const source =
    t.source === 'override'
      ? `an override set by ${t.setBy ?? 'someone'}${t.reason ? ` (“${t.reason}”)` : ''}`
      : t.source === 'config'
        ? `the configuration (models.${a.model}.features.${feature})`
        : `the model’s defaults (drift settings${settings.calibrated ? ', calibrated to the window size' : ''})`;
  if (a.kind === 'data_quality') {
    const rate = qualityOf(m);
    return {
      rows: [
        {
          measure: 'missing beyond training',
          value: pct((m.missing_rate ?? 0) - (m.baseline_missing_rate ?? 0)),
          rule: `training had ${pct(m.baseline_missing_rate ?? 0)} missing`,
          met: null,
        },
        { measure: 'wrong type', value: pct(m.type_mismatch_rate ?? null), rule: '', met: null },
        { measure: 'categories never seen', value: pct(m.unseen_rate ?? null), rule: '', met: null },
        {
          measure: 'outside the training range',
          value: pct(m.out_of_range_rate ?? null),
          rule: '',
          met: null,
        },
        ...(m.unknown_feature_rate !== undefined
          ? [
              {
                measure: 'records with this feature not in the baseline',
                value: pct(m.unknown_feature_rate ?? null),
                rule: '',
                met: null,
              },
            ]
          : []),
        {
          measure: 'worst of these',
          value: pct(rate),
          rule: ladderText('data_quality', settings.qualityRate, (v) => pct(v)),
          met: rate === null ? null : rate >= settings.qualityRate,
        },
      ],
      thresholds: `The rate comes from the configuration (qualityRate of model ${a.model}).`,
    };
  }
  const psiWarning = m.psi_warning ?? t.psiWarning;
  const p = m.pvalue_adjusted ?? null;
  return {
    rows: [
      {
        measure: 'PSI',
        value: num(m.psi ?? null),
        rule: `drift at ≥ ${num(psiWarning)}${psiWarning !== t.psiWarning ? ` (calibrated; configured ${num(t.psiWarning)})` : ''}, critical at ≥ ${num(Math.max(t.psiCritical, psiWarning))}`,
        met: m.psi === null || m.psi === undefined ? null : m.psi >= psiWarning,
      },
      {
        measure:
          m.ks_pvalue !== null && m.ks_pvalue !== undefined
            ? 'KS p-value (adjusted)'
            : 'χ² p-value (adjusted)',
        value: p === null ? '—' : p.toExponential(2),
        rule: `significant below α = ${t.alpha} (Benjamini–Hochberg across the window’s features)`,
        met: p === null ? null : p < t.alpha,
      },
      ...(m.ks_statistic !== null && m.ks_statistic !== undefined
        ? [{ measure: 'KS distance D', value: num(m.ks_statistic), rule: '', met: null }]
        : []),
      ...(m.chi2_statistic !== null && m.chi2_statistic !== undefined
        ? [{ measure: 'χ² statistic', value: num(m.chi2_statistic, 1), rule: '', met: null }]
        : []),
      ...(m.js !== null && m.js !== undefined
        ? [{ measure: 'Jensen–Shannon distance', value: num(m.js), rule: '', met: null }]
        : []),
      ...(m.wasserstein_normed !== null && m.wasserstein_normed !== undefined
        ? [{ measure: 'Wasserstein (÷ baseline std)', value: num(m.wasserstein_normed), rule: '', met: null }]
        : []),
      {
        measure: 'values in the window',
        value: String(m.n ?? '—'),
        rule: `judged from ${settings.minSamples} on`,
        met: null,
      },
    ],
    thresholds: `An alert fires when PSI reaches the threshold and the change is significant. These thresholds come from ${source}.`,
  };
}

function WhyTable(props: { why: Why }) {
  return (
    <div class="table-wrap">
      <table>
        <caption class="sr-only">Measures of the latest window against their thresholds</caption>
        <thead>
          <tr>
            <th scope="col">Measure</th>
            <th scope="col" class="num">
              Latest window
            </th>
            <th scope="col">Rule</th>
            <th scope="col">Met</th>
          </tr>
        </thead>
        <tbody>
          {props.why.rows.map((r) => (
            <tr>
              <th scope="row">{r.measure}</th>
              <td class="num">{r.value}</td>
              <td>{r.rule}</td>
              <td>{r.met === null ? '' : r.met ? '✔ yes' : '✘ no'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function charts(
  a: AlertDetail,
  settings: { psiWarning: number; psiCritical: number },
  trend: { x: number; y: number }[],
  trendKind: string,
) {
  const out: { svg: string; caption: string; id: string }[] = [];
  if (a.histogram && a.histogram.bins.length > 0) {
    out.push({
      id: 'chart-histogram',
      svg: histogramOverlay({
        width: 640,
        height: 260,
        title: `${a.histogram.feature}: baseline ${a.histogram.baseline_id} against the latest alert window`,
        // edges rounded as the critical-alert email writes them ("[1, 2.65)", not 2.6500000000000083)
        bins: a.histogram.bins.map((b) => ({ label: binLabel(b), baseline: b.baseline, current: b.window })),
        names: { baseline: `Baseline ${a.histogram.baseline_id}`, current: 'Alert window' },
      }),
      caption: `Share of values per bin: the baseline against ${utc(a.histogram.window.from)} – ${utc(a.histogram.window.to)} (${a.histogram.n} values).`,
    });
  }
  if (trend.length >= 2) {
    const isDrift = isDriftKind(a.kind);
    const label = ALERT_RULES[a.kind].measure;
    out.push({
      id: 'chart-trend',
      svg: lineChart({
        width: 640,
        height: 220,
        yLabel: label,
        title: `${a.feature}: ${label} per window around this alert`,
        series: [{ name: label, points: trend }],
        thresholds: isDrift
          ? [
              { y: settings.psiWarning, label: 'warning' },
              { y: settings.psiCritical, label: 'critical' },
            ]
          : [],
      }),
      caption: isDrift
        ? `PSI of ${a.feature} in every evaluated ${trendKind} window from two days before the alert to two days after it was last seen, with the thresholds in force.`
        : 'The measure in each window that attached evidence to this alert.',
    });
  }
  return out;
}

const TREND_WINDOWS = 240;

/**
 * The alert's measure over time: for drift, the feature's PSI in every stored result of the evidence's
 * window kind from two days before the alert on (bounded); for the others, the evidence windows.
 */
async function trendOf(
  c: UiContext,
  a: AlertDetail,
): Promise<{ points: { x: number; y: number }[]; kind: string }> {
  const kind = a.evidence[0]?.window_kind ?? 'bucket';
  if (isDriftKind(a.kind)) {
    // Newest first within the limit: bounded to two days either side of the alert, so the windows shown
    // are the alert's own even when the feature has been evaluated for long since.
    const results = await driftSeries(c.get('deps'), a.model, {
      from: Date.parse(a.first_seen) - 2 * 86_400_000,
      to: Date.parse(a.last_seen) + 2 * 86_400_000,
      kind: kind === 'rolling' || kind === 'bucket' ? kind : undefined,
      modelVersion: a.model_version ?? undefined,
      limit: TREND_WINDOWS,
    }).catch((err) => {
      if (err instanceof ApiError) return [];
      throw err;
    });
    const points = results
      .map((r) => {
        const col =
          a.kind === 'prediction_drift' ? r.prediction : r.features.find((f) => f.feature === a.feature);
        return { x: Date.parse(r.window.to), y: col?.psi ?? null };
      })
      .filter((p): p is { x: number; y: number } => p.y !== null)
      .sort((p, q) => p.x - q.x);
    return { points, kind };
  }
  const key = a.kind === 'latency' ? 'latency_p95_ms' : a.kind === 'error_rate' ? 'error_rate' : null;
  const points = a.evidence
    .map((e) => {
      const m = e.measures as Record<string, number | null | undefined>;
      return { x: Date.parse(e.window.to), y: key ? (m[key] ?? null) : qualityOf(m) };
    })
    .filter((p): p is { x: number; y: number } => typeof p.y === 'number')
    .sort((p, q) => p.x - q.x);
  return { points, kind };
}

async function detailPage(
  c: UiContext,
  id: number,
  flash: Flash | null,
  status: 200 | 400 | 403 | 404 | 409 | 422 = 200,
  kept: Kept = {},
) {
  const deps = c.get('deps');
  const a = await alertDetail(deps, id);
  const now = deps.clock();
  const why = await whyItFired(c, a);
  const feature = a.kind === 'prediction_drift' ? 'prediction' : a.feature;
  const t = await deps.store.read(async (tx) => (await thresholdsFor(tx, deps.config, a.model))(feature));
  const { points, kind } = await trendOf(c, a);
  const figures = charts(a, t, points, kind);
  // In the critical-alert email's words: the bin whose share moved most.
  const shift = a.histogram ? largestShift(a.histogram) : null;
  const actor = c.get('actor').name;
  const closed = a.status === 'closed';
  const canDecide = a.status === 'open' || a.status === 'acknowledged' || a.status === 'snoozed';
  // As closeAlert allows: a decided alert, or any alert in review once its feature recovered.
  const canClose = a.status === 'decided' || (a.recovered && !closed);
  const title = `#${a.id} ${kindLabel(a.kind)} · ${a.feature}`;
  return page(
    c,
    {
      title,
      section: 'alerts',
      flash,
      status,
      crumbs: [
        { href: '/ui/alerts', label: 'Alerts' },
        { href: uiPath.model(a.model), label: a.model },
        { label: `#${a.id}` },
      ],
    },
    <>
      <p>
        <SeverityBadge severity={a.severity} /> <StatusBadge status={a.status} />{' '}
        {a.recovered ? (
          <span class="badge ok">
            <span aria-hidden="true">↘</span>recovered <Ago at={a.recovered_at} now={now} />
          </span>
        ) : (
          <span class="badge neutral">still firing</span>
        )}
      </p>
      <dl class="facts">
        <dt>Model</dt>
        <dd>
          <a href={uiPath.model(a.model)}>{a.model}</a> {a.model_version ?? '(unversioned)'}
        </dd>
        <dt>{isTrafficKind(a.kind) ? 'Signal' : 'Feature'}</dt>
        <dd>
          {a.kind === 'drift' ? <a href={uiPath.feature(a.model, a.feature)}>{a.feature}</a> : a.feature}
        </dd>
        <dt>Assignee</dt>
        <dd>{a.assignee ?? 'nobody'}</dd>
        <dt>Raised</dt>
        <dd>
          {utc(a.created_at)} (<Ago at={a.created_at} now={now} past />
          ), from the window starting {utc(a.first_seen)}
        </dd>
        <dt>Latest evidence</dt>
        <dd>window ending {utc(a.last_seen)}</dd>
        <dt>Evidence</dt>
        <dd>
          {a.evidence_count} window{a.evidence_count === 1 ? '' : 's'}
        </dd>
        {a.decision ? (
          <>
            <dt>Decision</dt>
            <dd>
              {a.decision}
              {a.decision_note ? ` — “${a.decision_note}”` : ''}
            </dd>
          </>
        ) : null}
        {a.snoozed_until ? (
          <>
            <dt>Snoozed until</dt>
            <dd>{utc(a.snoozed_until)}</dd>
          </>
        ) : null}
      </dl>

      <div class="grid2">
        <div>
          <h2 id="why">Why it fired</h2>
          <p>{why.thresholds}</p>
          <WhyTable why={why} />
          {shift ? (
            <p id="largest-shift">
              Largest shift in the latest window: <strong>{shift}</strong>.
            </p>
          ) : null}
          <h2 id="charts">Charts</h2>
          {figures.length === 0 ? (
            <p class="muted">
              No chart: this alert has no distribution to compare and fewer than two evidence windows.
            </p>
          ) : (
            figures.map((f) => <Chart svg={f.svg} caption={f.caption} id={f.id} />)
          )}
          <h2 id="evidence">Evidence windows</h2>
          <EvidenceTable a={a} />
        </div>
        <div>
          <h2 id="act">Act on it</h2>
          {closed ? (
            <p class="muted">This alert is closed.</p>
          ) : (
            <>
              <form method="post" action={`${uiPath.alert(a.id)}/assign`} class="panel">
                <h3>Assign</h3>
                <Csrf ui={c.get('ui')} />
                <input type="hidden" name="version" value={String(a.version)} />
                <div class="field">
                  <label for="assignee">Assignee</label>
                  <input
                    id="assignee"
                    name="assignee"
                    type="text"
                    value={kept.assignee ?? a.assignee ?? ''}
                    placeholder="a name, or empty"
                    maxlength={TEXT_LIMITS.assignee}
                  />
                </div>
                <button type="submit">Save assignee</button>{' '}
                {a.assignee !== actor ? (
                  <button type="submit" name="assign_me" value="yes" id="assign-me">
                    Assign to me
                  </button>
                ) : null}
              </form>
              {a.status === 'open' ? (
                <form method="post" action={`${uiPath.alert(a.id)}/ack`} class="panel">
                  <h3>Acknowledge</h3>
                  <Csrf ui={c.get('ui')} />
                  <input type="hidden" name="version" value={String(a.version)} />
                  <p class="hint">Says someone is looking at it; it stays in the queue until decided.</p>
                  <button type="submit">Acknowledge</button>
                </form>
              ) : null}
              {canDecide ? <DecisionForm a={a} c={c} kept={kept} /> : null}
              {canClose ? (
                <form method="post" action={`${uiPath.alert(a.id)}/close`} class="panel">
                  <h3>Close</h3>
                  <Csrf ui={c.get('ui')} />
                  <input type="hidden" name="version" value={String(a.version)} />
                  <p class="hint">Ends the review; a new alert opens if the feature drifts again.</p>
                  <button type="submit">Close alert</button>
                </form>
              ) : (
                <p class="hint">Closing comes after a decision, or once the feature has recovered.</p>
              )}
            </>
          )}
          <form method="post" action={`${uiPath.alert(a.id)}/comment`} class="panel">
            <h3>Comment</h3>
            <Csrf ui={c.get('ui')} />
            <div class="field">
              <label for="comment">Comment</label>
              <textarea id="comment" name="text" required maxlength={TEXT_LIMITS.text}>
                {kept.text ?? ''}
              </textarea>
            </div>
            <button type="submit">Add comment</button>
          </form>
          {a.retrain_requests.length > 0 ? (
            <>
              <h2>Retrain requests</h2>
              <ul>
                {a.retrain_requests.map((r) => (
                  <li>
                    <a href={`/ui/retrain#retrain-${r.id}`}>
                      #{r.id} {r.model} {r.model_version ?? ''}
                    </a>{' '}
                    — {r.status} (by {r.requested_by})
                  </li>
                ))}
              </ul>
            </>
          ) : null}
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
        </div>
      </div>
    </>,
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

function EvidenceTable(props: { a: AlertDetail }) {
  const { a } = props;
  const traffic = isTrafficKind(a.kind);
  return (
    <div class="table-wrap">
      <table>
        <caption class="sr-only">Windows that attached evidence to this alert, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Window</th>
            <th scope="col">Kind</th>
            <th scope="col">Severity</th>
            {traffic ? (
              <>
                <th scope="col" class="num">
                  p95 ms
                </th>
                <th scope="col" class="num">
                  Error rate
                </th>
                <th scope="col" class="num">
                  Requests
                </th>
              </>
            ) : (
              <>
                <th scope="col" class="num">
                  PSI
                </th>
                <th scope="col" class="num">
                  p-value
                </th>
                <th scope="col" class="num">
                  Values
                </th>
              </>
            )}
          </tr>
        </thead>
        <tbody>
          {a.evidence.slice(0, 50).map((e) => {
            const m = e.measures as Record<string, number | null | undefined>;
            return (
              <tr>
                <td>{span(e.window.from, e.window.to)}</td>
                <td>{e.window_kind}</td>
                <td>
                  <SeverityBadge severity={e.severity} />
                </td>
                {traffic ? (
                  <>
                    <td class="num">{num(m.latency_p95_ms ?? null, 1)}</td>
                    <td class="num">{pct(m.error_rate ?? null)}</td>
                    <td class="num">{String(m.requests ?? '—')}</td>
                  </>
                ) : (
                  <>
                    <td class="num">{num(m.psi ?? null)}</td>
                    <td class="num">
                      {typeof m.pvalue_adjusted === 'number' ? m.pvalue_adjusted.toExponential(2) : '—'}
                    </td>
                    <td class="num">{String(m.n ?? '—')}</td>
                  </>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      {a.evidence.length > 50 ? <p class="muted">The 50 newest of {a.evidence.length} windows.</p> : null}
    </div>
  );
}

function DecisionForm(props: { a: AlertDetail; c: UiContext; kept: Kept }) {
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

function confirmPage(
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
