import type { Hono } from 'hono';
import { activateBaseline, listBaselines } from '../../baselines/service.js';
import { ApiError } from '../../errors.js';
import {
  activateVersion,
  listVersions,
  rollbackModel,
  rollbackTarget,
  setShadow,
} from '../../serving/versions.js';
import { num, uiPath, utc } from '../components.js';
import { explain, idParam, isAdmin, needs, page, type UiContext, type UiEnv } from '../kit.js';
import type { Flash } from '../layout.js';
import { Csrf } from '../layout.js';
import { confirmed, confirmPage } from './confirm.js';

// A model's served versions and its baselines, with the admin actions of the API (activate, roll back,
// shadow; activate a baseline), each stated before it is confirmed.

const versionsPath = (model: string) => `${uiPath.model(model)}/versions`;
const baselinesPath = (model: string) => `${uiPath.model(model)}/baselines`;

const crumbs = (model: string, label: string) => [
  { href: '/ui', label: 'Overview' },
  { href: uiPath.model(model), label: model },
  { label },
];

/** The notice for ?done=… after a confirmed action redirected back to its list. */
function doneFlash(c: UiContext): Flash | null {
  const done = c.req.query('done');
  const what = c.req.query('what') ?? '';
  const texts: Record<string, string> = {
    activated: `Version ${what} is now the active version.`,
    rolledback: `Rolled back: version ${what} is now the active version.`,
    shadow: `Version ${what} now runs in shadow.`,
    unshadow: `Version ${what} no longer runs in shadow.`,
    baseline: `Baseline #${what} is now active.`,
    rebuilding: `Baseline #${what} is now active; its aggregates are still being rebuilt in the background.`,
  };
  const title = done ? texts[done] : undefined;
  return title ? { kind: 'ok', title } : null;
}

async function versionsPage(c: UiContext, flash: Flash | null, status: 200 | 409 | 400 | 404 = 200) {
  const deps = c.get('deps');
  const model = c.req.param('model') ?? '';
  const data = await listVersions(deps, model);
  const previous = await rollbackTarget(deps, model);
  const active = data.versions.find((v) => v.state === 'active');
  const admin = isAdmin(c);
  const ui = c.get('ui');
  return page(
    c,
    { title: `Versions of ${model}`, section: 'models', crumbs: crumbs(model, 'Versions'), flash, status },
    <>
      <p>
        Active: <strong>{active?.version ?? 'none'}</strong>.{' '}
        {previous ? (
          <>A rollback would activate {previous}.</>
        ) : (
          'There is no earlier version to roll back to.'
        )}
      </p>
      {admin && previous ? (
        <form method="post" action={`${uiPath.model(model)}/rollback`} class="inline-form">
          <Csrf ui={ui} />
          <button type="submit">Roll back to {previous}…</button>
        </form>
      ) : null}
      {!admin ? (
        <p class="muted">Activating, rolling back and shadowing versions needs the admin role.</p>
      ) : null}
      <h2 id="versions">Versions</h2>
      <div class="table-wrap">
        <table aria-labelledby="versions">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">State</th>
              <th scope="col">Created</th>
              <th scope="col">Activated</th>
              <th scope="col">Baseline</th>
              <th scope="col">Changelog</th>
              {admin ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {data.versions.map((v) => (
              <tr data-version={v.version}>
                <th scope="row">{v.version}</th>
                <td>
                  <span
                    class={`badge ${v.state === 'active' ? 'ok' : v.state === 'shadow' ? 'info' : 'neutral'}`}
                  >
                    {v.state}
                  </span>
                </td>
                <td>{utc(v.created_at)}</td>
                <td>{utc(v.activated_at)}</td>
                <td>{v.baseline_id === null ? '—' : `#${v.baseline_id}`}</td>
                <td>{v.changelog ?? ''}</td>
                {admin ? (
                  <td>
                    {v.state === 'active' || v.state === 'retired' ? null : (
                      <div class="actions">
                        <form
                          method="post"
                          action={`${versionsPath(model)}/${encodeURIComponent(v.version)}/activate`}
                        >
                          <Csrf ui={ui} />
                          <button type="submit">
                            {v.state === 'shadow' ? 'Promote' : 'Activate'}…
                            <span class="sr-only"> version {v.version}</span>
                          </button>
                        </form>
                        <form
                          method="post"
                          action={`${versionsPath(model)}/${encodeURIComponent(v.version)}/shadow`}
                        >
                          <Csrf ui={ui} />
                          <input
                            type="hidden"
                            name="enabled"
                            value={v.state === 'shadow' ? 'false' : 'true'}
                          />
                          <button type="submit">
                            {v.state === 'shadow' ? 'Stop shadow' : 'Run in shadow'}…
                            <span class="sr-only"> version {v.version}</span>
                          </button>
                        </form>
                      </div>
                    )}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2 id="events">History</h2>
      <div class="table-wrap">
        <table aria-labelledby="events">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Action</th>
              <th scope="col">From</th>
              <th scope="col">To</th>
              <th scope="col">By</th>
              <th scope="col">Note</th>
            </tr>
          </thead>
          <tbody>
            {data.events.map((e) => (
              <tr>
                <td>{utc(e.at)}</td>
                <td>{e.action}</td>
                <td>{e.from_version ?? '—'}</td>
                <td>{e.to_version ?? '—'}</td>
                <td>{e.actor}</td>
                <td>{e.note ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>,
  );
}

async function baselinesPage(c: UiContext, flash: Flash | null, status: 200 | 409 | 400 | 404 = 200) {
  const deps = c.get('deps');
  const model = c.req.param('model') ?? '';
  const baselines = await listBaselines(deps, model);
  if (baselines.length === 0) throw new ApiError('not_found', `model ${model} has no baseline`);
  const admin = isAdmin(c);
  const ui = c.get('ui');
  return page(
    c,
    { title: `Baselines of ${model}`, section: 'models', crumbs: crumbs(model, 'Baselines'), flash, status },
    <>
      {!admin ? <p class="muted">Activating a baseline needs the admin role.</p> : null}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Baseline</th>
              <th scope="col">For version</th>
              <th scope="col">State</th>
              <th scope="col" class="num">
                Rows
              </th>
              <th scope="col">Created</th>
              <th scope="col">Activated</th>
              <th scope="col">Notes</th>
              {admin ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {baselines.map((b) => (
              <tr data-baseline={b.id}>
                <th scope="row">#{b.id}</th>
                <td>{b.model_version ?? '(any version)'}</td>
                <td>
                  {b.active ? (
                    <span class="badge ok">active</span>
                  ) : (
                    <span class="badge neutral">inactive</span>
                  )}
                  {b.rebuild ? (
                    <div class="muted">
                      rebuilding: {num(b.rebuild.records_done, 0)} of {num(b.rebuild.records_total, 0)}{' '}
                      records
                    </div>
                  ) : null}
                </td>
                <td class="num">{num(b.row_count, 0)}</td>
                <td>
                  {utc(b.created_at)}
                  {b.created_by ? ` by ${b.created_by}` : ''}
                </td>
                <td>{utc(b.activated_at)}</td>
                <td>{b.notes ?? ''}</td>
                {admin ? (
                  <td>
                    {b.active ? null : (
                      <form method="post" action={`${baselinesPath(model)}/${b.id}/activate`}>
                        <Csrf ui={ui} />
                        <button type="submit">
                          Activate…<span class="sr-only"> baseline {b.id}</span>
                        </button>
                      </form>
                    )}
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>,
  );
}

/** Runs a confirmed action; an API refusal is shown on the list page, with the list as it is now. */
async function attempt(
  c: UiContext,
  list: (c: UiContext, flash: Flash | null, status: 200 | 409 | 400 | 404) => Promise<Response>,
  act: () => Promise<string>,
): Promise<Response> {
  try {
    return c.redirect(await act(), 303);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status >= 500) throw err;
    const status = err.status === 409 ? 409 : err.status === 404 ? 404 : 400;
    return list(c, explain(err), status);
  }
}

export function registerServingPages(ui: Hono<UiEnv>): void {
  ui.get('/models/:model/versions', needs('reviewer'), (c) => versionsPage(c, doneFlash(c)));
  ui.get('/models/:model/baselines', needs('reviewer'), (c) => baselinesPage(c, doneFlash(c)));

  ui.post('/models/:model/versions/:version/activate', needs('admin'), async (c) => {
    const deps = c.get('deps');
    const model = c.req.param('model');
    const version = c.req.param('version');
    const actor = c.get('ui').actor?.name ?? 'anonymous';
    if (!confirmed(c)) {
      const data = await listVersions(deps, model);
      const target = data.versions.find((v) => v.version === version);
      if (!target) throw new ApiError('not_found', `model ${model} has no served version ${version}`);
      const active = data.versions.find((v) => v.state === 'active');
      return confirmPage(c, {
        title: `Activate ${version}?`,
        crumbs: crumbs(model, 'Versions'),
        action: c.req.path,
        button: `Activate ${version}`,
        cancel: versionsPath(model),
        effect: (
          <ul>
            <li>
              make version <strong>{version}</strong> ({target.state}) the one that answers predict requests
              for {model}
              {active ? (
                <>
                  , instead of <strong>{active.version}</strong> (which becomes registered)
                </>
              ) : null}
              ;
            </li>
            {target.state === 'shadow' ? <li>end its shadow run (it is promoted);</li> : null}
            <li>
              take effect in every process of the fleet within seconds, recorded in the history under your
              name.
            </li>
          </ul>
        ),
      });
    }
    return attempt(c, versionsPage, async () => {
      await activateVersion(deps, model, version, actor, 'from the web UI');
      return `${versionsPath(model)}?done=activated&what=${encodeURIComponent(version)}`;
    });
  });

  ui.post('/models/:model/rollback', needs('admin'), async (c) => {
    const deps = c.get('deps');
    const model = c.req.param('model');
    const actor = c.get('ui').actor?.name ?? 'anonymous';
    if (!confirmed(c)) {
      const data = await listVersions(deps, model);
      const target = await rollbackTarget(deps, model);
      const active = data.versions.find((v) => v.state === 'active');
      if (!target)
        return versionsPage(
          c,
          explain(new ApiError('conflict', `model ${model} has no previous version to roll back to`)),
          409,
        );
      return confirmPage(c, {
        title: `Roll ${model} back?`,
        crumbs: crumbs(model, 'Versions'),
        action: c.req.path,
        button: `Roll back to ${target}`,
        danger: true,
        cancel: versionsPath(model),
        fields: { expect: target },
        effect: (
          <ul>
            <li>
              activate version <strong>{target}</strong>, the one active before{' '}
              <strong>{active?.version ?? '—'}</strong>
            </li>
            <li>{active?.version ?? 'the current version'} stays registered and can be activated again.</li>
          </ul>
        ),
      });
    }
    return attempt(c, versionsPage, async () => {
      // The confirmation named a target: if the history moved since, the rollback says so instead of
      // rolling elsewhere (the same operation as the API's).
      const expect = c.get('form').get('expect') || undefined;
      const r = await rollbackModel(deps, model, actor, 'from the web UI', { expect });
      return `${versionsPath(model)}?done=rolledback&what=${encodeURIComponent(r.version.version)}`;
    });
  });

  ui.post('/models/:model/versions/:version/shadow', needs('admin'), async (c) => {
    const deps = c.get('deps');
    const model = c.req.param('model');
    const version = c.req.param('version');
    const on = c.get('form').get('enabled') !== 'false';
    const actor = c.get('ui').actor ?? { name: 'anonymous', role: 'admin' as const };
    if (!confirmed(c)) {
      return confirmPage(c, {
        title: on ? `Run ${version} in shadow?` : `Stop the shadow run of ${version}?`,
        crumbs: crumbs(model, 'Versions'),
        action: c.req.path,
        button: on ? 'Run in shadow' : 'Stop shadow',
        cancel: versionsPath(model),
        fields: { enabled: String(on) },
        effect: on ? (
          <ul>
            <li>
              score every predict request of {model} with <strong>{version}</strong> too, logging its answers
              for comparison (callers still get the active version’s);
            </li>
            <li>add its latency to each request’s work.</li>
          </ul>
        ) : (
          <ul>
            <li>
              stop scoring requests with <strong>{version}</strong>; its comparison so far stays.
            </li>
          </ul>
        ),
      });
    }
    return attempt(c, versionsPage, async () => {
      await setShadow(deps, model, version, on, actor);
      return `${versionsPath(model)}?done=${on ? 'shadow' : 'unshadow'}&what=${encodeURIComponent(version)}`;
    });
  });

  ui.post('/models/:model/baselines/:id/activate', needs('admin'), async (c) => {
    const deps = c.get('deps');
    const model = c.req.param('model');
    const id = idParam(c);
    const actor = c.get('ui').actor?.name ?? null;
    if (!confirmed(c)) {
      const all = await listBaselines(deps, model);
      const target = all.find((b) => b.id === id);
      if (!target) throw new ApiError('not_found', `model ${model} has no baseline ${c.req.param('id')}`);
      const replaced = all.filter((b) => b.active && b.model_version === target.model_version);
      return confirmPage(c, {
        title: `Activate baseline #${id}?`,
        crumbs: crumbs(model, 'Baselines'),
        action: c.req.path,
        button: `Activate baseline #${id}`,
        cancel: baselinesPath(model),
        effect: (
          <ul>
            <li>
              make baseline <strong>#{id}</strong> the reference of{' '}
              {target.model_version
                ? `version ${target.model_version}`
                : 'records without a version of their own'}
              {replaced.length > 0 ? <>, replacing {replaced.map((b) => `#${b.id}`).join(', ')}</> : null}
            </li>
            <li>
              rebuild the aggregates of the records that resolve to it (new drift results are provisional
              until that ends, and raise no alert meanwhile);
            </li>
            <li>measure drift against it from then on.</li>
          </ul>
        ),
      });
    }
    return attempt(c, baselinesPage, async () => {
      const r = await activateBaseline(deps, model, id, actor);
      return `${baselinesPath(model)}?done=${r.baseline.rebuild ? 'rebuilding' : 'baseline'}&what=${id}`;
    });
  });
}
