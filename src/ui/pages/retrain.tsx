import type { Hono } from 'hono';
import { listRetrainRequests, updateRetrainStatus } from '../../alerts/retrain.js';
import { ApiError } from '../../errors.js';
import type { RetrainStatus } from '../../store/index.js';
import { Ago, uiPath } from '../components.js';
import { explain, field, idParam, needs, page, type UiContext, type UiEnv } from '../kit.js';
import { Csrf, type Flash } from '../layout.js';

// Retrain requests: the list (filtered by status or model), each with a form that moves it along, as
// POST /v1/retrain-requests/:id/status does (reviewers may).

const STATUSES: RetrainStatus[] = ['requested', 'accepted', 'in_progress', 'done', 'rejected'];
/** Where a request can go next (the service enforces the same flow). */
const NEXT: Record<RetrainStatus, RetrainStatus[]> = {
  requested: ['accepted', 'rejected'],
  accepted: ['in_progress', 'rejected'],
  in_progress: ['done', 'rejected'],
  done: [],
  rejected: [],
};
const LABEL: Record<RetrainStatus, string> = {
  requested: 'requested',
  accepted: 'accepted',
  in_progress: 'in progress',
  done: 'done',
  rejected: 'rejected',
};
const BADGE: Record<RetrainStatus, string> = {
  requested: 'info',
  accepted: 'warning',
  in_progress: 'warning',
  done: 'ok',
  rejected: 'neutral',
};

async function retrainPage(c: UiContext, flash: Flash | null, status: 200 | 400 | 404 | 409 | 422 = 200) {
  const deps = c.get('deps');
  const now = deps.clock();
  const askedStatus = c.req.query('status');
  const statusFilter = STATUSES.includes(askedStatus as RetrainStatus)
    ? (askedStatus as RetrainStatus)
    : undefined;
  const model = c.req.query('model')?.trim() || undefined;
  const requests = await listRetrainRequests(deps, { status: statusFilter, model, limit: 200 });
  const ui = c.get('ui');
  const back = new URL(c.req.url).search;
  return page(
    c,
    { title: 'Retrain requests', section: 'retrain', flash, status },
    <>
      <form method="get" action="/ui/retrain" class="filters">
        <div>
          <label for="f-status">Status</label>
          <select id="f-status" name="status" data-filter>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option value={s} selected={s === statusFilter}>
                {LABEL[s]}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="f-model">Model</label>
          <input id="f-model" name="model" type="text" value={model ?? ''} size={18} />
        </div>
        <button type="submit">Apply</button>
      </form>
      {requests.length === 0 ? (
        <p class="muted">No retrain request{statusFilter || model ? ' matches these filters' : ' yet'}.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Request</th>
                <th scope="col">Model</th>
                <th scope="col">Status</th>
                <th scope="col">Alerts</th>
                <th scope="col">Requested</th>
                <th scope="col">Reason</th>
                <th scope="col">Produced version</th>
                <th scope="col">Move to</th>
              </tr>
            </thead>
            <tbody>
              {requests.map((r) => (
                <tr data-retrain={r.id} id={`retrain-${r.id}`}>
                  <th scope="row">#{r.id}</th>
                  <td>
                    <a href={uiPath.model(r.model)}>{r.model}</a>
                    {r.model_version ? <span class="muted"> {r.model_version}</span> : null}
                  </td>
                  <td>
                    <span class={`badge ${BADGE[r.status]}`}>{LABEL[r.status]}</span>
                  </td>
                  <td>
                    {r.alert_ids.length === 0
                      ? '—'
                      : r.alert_ids.map((id, i) => (
                          <>
                            {i > 0 ? ', ' : ''}
                            <a href={uiPath.alert(id)}>#{id}</a>
                          </>
                        ))}
                  </td>
                  <td>
                    <Ago at={r.created_at} now={now} /> by {r.requested_by}
                  </td>
                  <td>{r.reason}</td>
                  <td>{r.produced_version ?? '—'}</td>
                  <td>
                    {NEXT[r.status].length === 0 ? (
                      <span class="muted">final</span>
                    ) : (
                      <form method="post" action={`/ui/retrain/${r.id}/status${back}`}>
                        <Csrf ui={ui} />
                        <input type="hidden" name="version" value={String(r.version)} />
                        <div class="field">
                          <label for={`s-${r.id}`}>New status</label>
                          <select id={`s-${r.id}`} name="status">
                            {NEXT[r.status].map((s) => (
                              <option value={s}>{LABEL[s]}</option>
                            ))}
                          </select>
                        </div>
                        {NEXT[r.status].includes('done') ? (
                          <div class="field">
                            <label for={`p-${r.id}`}>Produced version</label>
                            <input id={`p-${r.id}`} name="produced_version" type="text" size={14} />
                            <p class="hint">Required for done.</p>
                          </div>
                        ) : null}
                        <div class="field">
                          <label for={`n-${r.id}`}>Note</label>
                          <input id={`n-${r.id}`} name="note" type="text" size={24} maxlength={10000} />
                        </div>
                        <button type="submit">Update #{r.id}</button>
                      </form>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>,
  );
}

export function registerRetrainPages(ui: Hono<UiEnv>): void {
  ui.get('/retrain', needs('reviewer'), (c) => {
    const updated = c.req.query('updated');
    const to = c.req.query('to');
    return retrainPage(
      c,
      updated && to && STATUSES.includes(to as RetrainStatus)
        ? { kind: 'ok', title: `Retrain request #${updated} is now ${LABEL[to as RetrainStatus]}.` }
        : null,
    );
  });

  ui.post('/retrain/:id/status', needs('reviewer'), async (c) => {
    const id = idParam(c);
    const status = field(c, 'status') as RetrainStatus;
    const version = Number(field(c, 'version'));
    try {
      if (!STATUSES.includes(status))
        throw new ApiError('bad_request', `status: must be one of ${STATUSES.join(', ')}`);
      await updateRetrainStatus(c.get('deps'), {
        id,
        actor: c.get('ui').actor?.name ?? 'anonymous',
        status,
        producedVersion: field(c, 'produced_version') || undefined,
        note: field(c, 'note') || undefined,
        version: Number.isSafeInteger(version) && version > 0 ? version : undefined,
      });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status >= 500) throw err;
      const flash =
        err.code === 'stale_version'
          ? {
              kind: 'warn' as const,
              title: `Someone else changed retrain request #${id} while you had it open.`,
              body: (
                <p>
                  Nothing was changed. The list below shows it as it is now; send the form again if it still
                  applies.
                </p>
              ),
            }
          : explain(err);
      return retrainPage(
        c,
        flash,
        err.status === 409 ? 409 : err.status === 404 ? 404 : err.status === 422 ? 422 : 400,
      );
    }
    const params = new URLSearchParams(new URL(c.req.url).search);
    params.set('updated', String(id));
    params.set('to', status);
    return c.redirect(`/ui/retrain?${params.toString()}`, 303);
  });
}
