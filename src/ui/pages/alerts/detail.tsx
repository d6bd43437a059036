import { type AlertDetail, alertDetail } from '../../../alerts/review.js';
import { largestShift } from '../../../reports/render.js';
import { isTrafficKind } from '../../../rules/alerts.js';
import { featureThresholds } from '../../../thresholds/service.js';
import { Ago, Chart, num, pct, SeverityBadge, StatusBadge, span, uiPath, utc } from '../../components.js';
import { page, type UiContext } from '../../kit.js';
import type { Flash } from '../../layout.js';
import { alertCharts, trendOf } from './charts.js';
import { ActOnIt } from './forms.js';
import type { Kept } from './input.js';
import { CusumPath, cusumOf } from './joint.js';
import { kindLabel } from './measures.js';
import { AuditTrail } from './trail.js';
import { WhyTable, whyItFired } from './why.js';

// One alert (/ui/alerts/:id): the page that puts its parts together, with its facts, evidence windows
// and retrain requests. Each part lives in its own module beside this one.

/** One alert: its facts, why it fired, charts, evidence, the forms that act on it and its trail. */
export async function detailPage(
  c: UiContext,
  id: number,
  flash: Flash | null,
  status: 200 | 400 | 403 | 404 | 409 | 422 = 200,
  kept: Kept = {},
) {
  const deps = c.get('deps');
  const a = await alertDetail(deps, id);
  const now = deps.clock();
  const feature = a.kind === 'prediction_drift' ? 'prediction' : a.feature;
  const t = await featureThresholds(deps, a.model, feature);
  const why = whyItFired(deps, a, t);
  const { points, kind } = await trendOf(deps, a);
  const figures = alertCharts(a, t, points, kind);
  // In the critical-alert email's words: the bin whose share moved most.
  const shift = a.histogram ? largestShift(a.histogram) : null;
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
          {cusumOf(a) ? <CusumPath c={cusumOf(a) as NonNullable<ReturnType<typeof cusumOf>>} /> : null}
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
          <ActOnIt a={a} c={c} kept={kept} />
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
          <AuditTrail a={a} />
        </div>
      </div>
    </>,
  );
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
