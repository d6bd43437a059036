import { Hono } from 'hono';
import { ApiError } from '../errors.js';
import { ASSETS, type AssetName } from './assets.js';
import { idParam, needs, page, safeNext, type UiContext, type UiEnv, uiMiddleware } from './kit.js';
import { Csrf } from './layout.js';
import { registerAlertPages } from './pages/alerts/routes.js';
import { registerBrowsePages } from './pages/browse.js';
import { signIn, signOut } from './session.js';

/**
 * The reviewers' web UI, mounted at /ui: server-rendered pages over the same services the API calls,
 * with the API's roles. Signing in exchanges a token for a session cookie (see session.ts).
 */
export function uiRoutes(): Hono<UiEnv> {
  const ui = new Hono<UiEnv>();

  // Assets need no session: the sign-in page uses them too.
  ui.get('/assets/:name', (c) => {
    const name = c.req.param('name') as AssetName;
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!asset) throw new ApiError('not_found', `no asset ${c.req.param('name')}`);
    return c.body(asset.body, 200, {
      'content-type': asset.type,
      'cache-control':
        c.req.query('v') === asset.version ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
    });
  });

  ui.use('*', uiMiddleware());

  ui.get('/login', (c) => {
    const state = c.get('ui');
    const next = safeNext(c.req.query('next'));
    if (state.actor) return c.redirect(next, 303);
    return loginPage(c, next, null, 200);
  });

  ui.post('/login', async (c) => {
    const form = c.get('form');
    const next = safeNext(form.get('next'));
    if (c.get('ui').open) return c.redirect(next, 303);
    const result = await signIn(c, c.get('deps'), form.get('token') ?? '');
    if (!result.ok) return loginPage(c, next, result.reason, 401);
    c.get('log').info({ actor: result.actor.name, role: result.actor.role }, 'ui sign-in');
    return c.redirect(next, 303);
  });

  ui.post('/logout', async (c) => {
    await signOut(c, c.get('deps'), c.get('ui'));
    return c.redirect('/ui/login', 303);
  });

  // Notifications and report mail link a retrain request here (see notifications/payloads.ts).
  ui.get('/retrain-requests/:id', needs('reviewer'), (c) =>
    c.redirect(`/ui/retrain#retrain-${idParam(c)}`, 303),
  );

  registerBrowsePages(ui);
  registerAlertPages(ui);

  ui.get('*', needs('reviewer'), (c) =>
    page(
      c,
      { title: 'Not found', section: 'none', status: 404 },
      <p>
        There is no page at <code>{c.req.path}</code>. <a href="/ui">Go to the overview</a>.
      </p>,
    ),
  );

  ui.onError((err, c) => {
    if (err instanceof ApiError) {
      const status = ([403, 404, 409, 413, 422, 503] as const).find((s) => s === err.status) ?? 400;
      return page(
        c,
        { title: status === 404 ? 'Not found' : 'Request refused', section: 'none', status },
        <p>
          {err.message}. <a href="/ui">Go to the overview</a>.
        </p>,
      );
    }
    (c.get('log') ?? c.get('deps').log).error({ err }, 'unhandled error in the web UI');
    return page(
      c,
      { title: 'Something went wrong', section: 'none', status: 500 },
      <p>
        driftwatch could not render this page. The server log has the details under request id{' '}
        <code>{c.get('requestId')}</code>.
      </p>,
    );
  });

  return ui;
}

function loginPage(c: UiContext, next: string, error: string | null, status: 200 | 401) {
  return page(
    c,
    {
      title: 'Sign in',
      section: 'none',
      status,
      flash: error ? { kind: 'error', title: 'Sign-in failed.', body: <p>{error}</p> } : null,
    },
    <form method="post" action="/ui/login" class="panel narrow">
      <Csrf ui={c.get('ui')} />
      <input type="hidden" name="next" value={next} />
      <div class="field">
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required size={48} />
        <p class="hint">
          A reviewer or admin token from <code>auth.tokens</code>. It is exchanged for a session cookie and is
          not stored in the browser.
        </p>
      </div>
      <button type="submit" class="primary">
        Sign in
      </button>
    </form>,
  );
}
