import type { Hono } from 'hono';
import { sparkline } from '../../charts/index.js';
import type { JobStatusView } from '../../context.js';
import { Ago, Chart, num, pct, SeverityBadge, uiPath } from '../components.js';
import { type ModelOverview, overview } from '../data/browse.js';
import { needs, page, type UiEnv } from '../kit.js';
import { registerFeaturePage } from './feature.js';
import { registerModelPage } from './model.js';
import { registerRetrainPages } from './retrain.js';
import { registerServingPages } from './serving.js';

/** Overview, model, feature, retrain, baseline and version pages. */
export function registerBrowsePages(ui: Hono<UiEnv>): void {
  ui.get('/', needs('reviewer'), async (c) => {
    const deps = c.get('deps');
    const now = deps.clock();
    const data = await overview(deps);
    return page(
      c,
      { title: 'Overview', section: 'overview' },
      <>
        <h2 id="models">Models</h2>
        {data.models.length === 0 ? (
          <p class="muted">No model has sent records yet.</p>
        ) : (
          <div class="table-wrap">
            <table aria-labelledby="models">
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Status</th>
                  <th scope="col">Awaiting decision</th>
                  <th scope="col">Served version</th>
                  <th scope="col">Active baseline</th>
                  <th scope="col" class="num">
                    Requests (24 h)
                  </th>
                  <th scope="col" class="num">
                    Latency p50 / p95
                  </th>
                  <th scope="col" class="num">
                    Error rate
                  </th>
                  <th scope="col">Trend (24 h)</th>
                  <th scope="col">Last drift run</th>
                </tr>
              </thead>
              <tbody>
                {data.models.map((m) => (
                  <ModelRow m={m} now={now} />
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Jobs jobs={data.jobs} leader={data.leader} now={now} />
      </>,
    );
  });

  registerModelPage(ui);
  registerFeaturePage(ui);
  registerRetrainPages(ui);
  registerServingPages(ui);
}

function ModelRow(props: { m: ModelOverview; now: number }) {
  const { m, now } = props;
  const t = m.traffic?.total;
  const alerts = `/ui/alerts?model=${encodeURIComponent(m.model)}`;
  const requests = (m.traffic?.buckets ?? []).map((b) => b.requests);
  return (
    <tr data-model={m.model}>
      <th scope="row">
        <a href={uiPath.model(m.model)}>{m.model}</a>
      </th>
      <td>
        <SeverityBadge severity={m.worst ?? 'none'} />
      </td>
      <td>
        {m.inReview.critical + m.inReview.warning === 0 ? (
          <a href={alerts}>none</a>
        ) : (
          <a href={alerts}>
            {m.inReview.critical} critical, {m.inReview.warning} warning
          </a>
        )}
      </td>
      <td>
        {m.activeVersion ?? <span class="muted">not served here</span>}
        {m.shadowVersions.length > 0 ? <div class="muted">shadow: {m.shadowVersions.join(', ')}</div> : null}
      </td>
      <td>
        {m.activeBaselines.length === 0 ? (
          <span class="muted">none</span>
        ) : (
          m.activeBaselines.map((b, i) => (
            <>
              {i > 0 ? ', ' : ''}
              <a href={`${uiPath.model(m.model)}/baselines`}>#{b.id}</a>
              {b.modelVersion ? <span class="muted"> ({b.modelVersion})</span> : null}
            </>
          ))
        )}
      </td>
      <td class="num">{t ? t.requests.toLocaleString('en-US') : '—'}</td>
      <td class="num">{t ? `${num(t.latency.p50, 1)} / ${num(t.latency.p95, 1)} ms` : '—'}</td>
      <td class="num">{pct(t?.error_rate)}</td>
      <td class="spark">
        {requests.length > 1 ? (
          <Chart svg={sparkline({ width: 140, height: 28, values: requests, label: 'requests per hour' })} />
        ) : (
          <span class="muted">—</span>
        )}
      </td>
      <td>
        <Ago at={m.lastRun?.evaluatedAt ?? null} now={now} past />
      </td>
    </tr>
  );
}

function Jobs(props: { jobs: JobStatusView[] | null; leader: boolean | null; now: number }) {
  const { jobs, leader, now } = props;
  return (
    <>
      <h2 id="jobs">Jobs</h2>
      {jobs === null ? (
        <p class="muted">
          No jobs run in this process (they run in the process started with the job scheduler).
        </p>
      ) : (
        <>
          <p>
            This process{' '}
            {leader ? (
              <strong>is the job leader</strong>
            ) : (
              <>
                is <strong>not</strong> the job leader
              </>
            )}
            {leader
              ? '.'
              : ': another process of the fleet runs the jobs; their times below are this process’s own.'}
          </p>
          <div class="table-wrap">
            <table aria-labelledby="jobs">
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Schedule</th>
                  <th scope="col">Health</th>
                  <th scope="col">Last success</th>
                  <th scope="col">Last error</th>
                  <th scope="col">Next run</th>
                </tr>
              </thead>
              <tbody>
                {jobs.map((j) => {
                  const failing =
                    j.last_error_at !== null && (j.last_success === null || j.last_error_at > j.last_success);
                  return (
                    <tr data-job={j.name}>
                      <th scope="row">{j.name}</th>
                      <td>
                        <code>{j.schedule}</code>
                        {j.timezone ? <span class="muted"> {j.timezone}</span> : null}
                      </td>
                      <td>
                        {j.running ? (
                          <span class="badge info">running</span>
                        ) : failing ? (
                          <span class="badge critical">
                            <span aria-hidden="true">▲</span>failing
                          </span>
                        ) : j.last_success ? (
                          <span class="badge ok">
                            <span aria-hidden="true">✓</span>ok
                          </span>
                        ) : (
                          <span class="badge neutral">not run yet</span>
                        )}
                      </td>
                      <td>
                        <Ago at={j.last_success} now={now} />
                      </td>
                      <td>
                        {j.last_error ? (
                          <>
                            <Ago at={j.last_error_at} now={now} />: <span>{j.last_error}</span>
                          </>
                        ) : (
                          <span class="muted">none</span>
                        )}
                      </td>
                      <td>
                        <Ago at={j.next_run} now={now} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}
