import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie } from 'hono/cookie';
import type { Child } from 'hono/jsx';
import { readBody } from '../body-limit.js';
import type { Role } from '../config.js';
import type { Actor, AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { type Flash, Layout, type Section } from './layout.js';
import { csrfMatches, SESSION_COOKIE, type UiState, uiState } from './session.js';

// What every UI page and form handler uses: the browser's state, role checks that answer with a page
// (or a redirect to sign in), the parsed form of a POST, and rendering inside the layout.

export type UiEnv = AppEnv & { Variables: { ui: UiState; form: URLSearchParams } };
// biome-ignore lint/suspicious/noExplicitAny: any route path
export type UiContext = Context<UiEnv, any>;

/** Forms are small: a note is at most 10,000 characters. */
const FORM_LIMIT = { bytes: 256 * 1024, name: 'form size limit' };
/** Without a session only the sign-in form (a token, the CSRF token, a return path) can be sent. */
const SIGN_IN_FORM_LIMIT = { bytes: 8 * 1024, name: 'sign-in form size limit' };

const SECURITY_HEADERS: Record<string, string> = {
  // Pages hold review data: never cached by shared caches, never framed, scripts and styles only from here.
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
};

/** The origin the browser sees us at: the Host header (or the proxy's forwarded host). */
function requestOrigins(c: Context<UiEnv>): string[] {
  const proto = (c.req.header('x-forwarded-proto') ?? new URL(c.req.url).protocol.replace(':', ''))
    .split(',')[0]
    ?.trim();
  const hosts = [c.req.header('x-forwarded-host'), c.req.header('host'), new URL(c.req.url).host].filter(
    (h): h is string => typeof h === 'string' && h !== '',
  );
  const external = c.get('deps').config.notifications.externalUrl;
  return [
    ...hosts.map((h) => `${proto}://${h.split(',')[0]?.trim()}`),
    ...(external ? [new URL(external).origin] : []),
  ];
}

/**
 * Runs first on every /ui request: reads the session, sets the security headers and, for a POST, reads the
 * form and checks its CSRF token (and the Origin header, when the browser sends one).
 */
export function uiMiddleware(): MiddlewareHandler<UiEnv> {
  return async (c, next) => {
    const deps = c.get('deps');
    const ui = await uiState(c, deps);
    c.set('ui', ui);
    if (ui.actor) c.set('actor', ui.actor);
    if (c.req.method === 'POST') {
      const origin = c.req.header('origin');
      // An opaque origin ("null": a sandboxed frame, a data: page) is another origin too.
      if (origin !== undefined && !requestOrigins(c).includes(origin)) {
        return refuseForm(c, `the form was sent from ${origin}, not from this driftwatch`);
      }
      const text = await readBody(c.req.raw, ui.actor ? FORM_LIMIT : SIGN_IN_FORM_LIMIT);
      const form = new URLSearchParams(text);
      c.set('form', form);
      // A form from a page whose session has since ended carries that session's token: nothing can be done
      // without a session anyway, so say so (sign-out simply completes) instead of refusing it as forged.
      if (ui.ended && c.req.path !== '/ui/login') {
        if (c.req.path === '/ui/logout') {
          deleteCookie(c, SESSION_COOKIE, { path: '/' });
          return c.redirect('/ui/login', 303);
        }
        const res = await sessionEnded(c);
        for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.headers.set(k, v);
        return res;
      }
      if (!csrfMatches(ui.csrf, form.get('_csrf'))) {
        return refuseForm(c, 'the form carried no valid CSRF token (it may be from an earlier sign-in)');
      }
    }
    await next();
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(k, v);
  };
}

async function refuseForm(c: UiContext, why: string) {
  const res = await page(
    c,
    { title: 'Form refused', section: 'none', status: 403 },
    <>
      <p>driftwatch did not act on this form: {why}.</p>
      <p>
        Nothing was changed. Go back, reload the page and send the form again. <a href={backTo(c)}>Back</a>
      </p>
    </>,
  );
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.headers.set(k, v);
  return res;
}

/** The same-site page a form came from (its Referer), else the overview. */
function backTo(c: UiContext): string {
  try {
    const ref = new URL(c.req.header('referer') ?? '');
    return requestOrigins(c).includes(ref.origin) ? safeNext(ref.pathname + ref.search) : '/ui';
  } catch {
    return '/ui';
  }
}

/** Renders `body` inside the layout. */
export async function page(
  c: UiContext,
  opts: {
    title: string;
    section: Section;
    status?: 200 | 400 | 401 | 403 | 404 | 409 | 413 | 422 | 500 | 503;
    flash?: Flash | null;
    crumbs?: { href?: string; label: string }[];
  },
  body: Child,
): Promise<Response> {
  return await c.html(
    <Layout
      title={opts.title}
      ui={c.get('ui') ?? { actor: null, csrf: '', open: false, session: null }}
      section={opts.section}
      flash={opts.flash ?? null}
      crumbs={opts.crumbs}
    >
      {body}
    </Layout>,
    opts.status ?? 200,
  );
}

/** A same-site path to return to after signing in; anything else becomes /ui. */
export function safeNext(next: string | null | undefined): string {
  if (!next?.startsWith('/ui') || next.startsWith('//') || /[\\\r\n]/.test(next)) return '/ui';
  return next;
}

/**
 * Lets a request through when the signed-in actor's role is one of `roles` (admin always passes). A browser
 * without a session is sent to sign in (GET) or told to (POST); a role that may not is a 403 page.
 */
export function needs(...roles: Role[]): MiddlewareHandler<UiEnv> {
  return async (c, next) => {
    const ui = c.get('ui');
    if (!ui.actor) {
      const here = new URL(c.req.url);
      const reading = c.req.method === 'GET' || c.req.method === 'HEAD';
      const back = reading ? `${here.pathname}${here.search}` : (c.req.header('referer') ?? '/ui');
      // A link followed from mail or chat is a cross-site navigation, which never carries a SameSite=Strict
      // cookie: load the page once more from here (same-site), so a signed-in reviewer lands on it.
      if (reading && c.req.header('sec-fetch-site') === 'cross-site') {
        c.header('cache-control', 'no-store');
        return c.html(
          `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0"><title>driftwatch</title></head><body><p><a href="${escapeAttr(back)}">Continue to driftwatch</a></p></body></html>`,
        );
      }
      if (reading) return c.redirect(`/ui/login?next=${encodeURIComponent(back)}`, 303);
      return sessionEnded(c);
    }
    if (!allowed(ui.actor, roles)) {
      return page(
        c,
        { title: 'Not allowed', section: 'none', status: 403 },
        <p>
          You are signed in as <strong>{ui.actor.name}</strong> with the {ui.actor.role} role; this needs the{' '}
          {[...new Set([...roles, 'admin'])].join(' or ')} role.
        </p>,
      );
    }
    return next();
  };
}

const escapeAttr = (v: string) =>
  v.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** The page for a form sent without a live session: sign in (and come back) and send it again. */
function sessionEnded(c: UiContext): Promise<Response> {
  const referer = c.req.header('referer');
  let back = '/ui';
  try {
    if (referer) back = safeNext(new URL(referer).pathname + new URL(referer).search);
  } catch {
    back = '/ui';
  }
  return page(
    c,
    { title: 'Sign in required', section: 'none', status: 401 },
    <p>
      Your session has ended, so nothing was changed.{' '}
      <a href={`/ui/login?next=${encodeURIComponent(back)}`}>Sign in</a> and send the form again.
    </p>,
  );
}

export function allowed(actor: Actor | null, roles: Role[]): boolean {
  return actor !== null && (actor.role === 'admin' || roles.includes(actor.role));
}

export const isAdmin = (c: UiContext): boolean => c.get('ui').actor?.role === 'admin';

/** A form field as a trimmed string ('' when absent). */
export function field(c: UiContext, name: string): string {
  return (c.get('form')?.get(name) ?? '').trim();
}

/** A positive integer route parameter, or a 404 page's error. */
export function idParam(c: UiContext, name = 'id'): number {
  const v = c.req.param(name) ?? '';
  const id = /^[1-9][0-9]{0,15}$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(id)) throw new ApiError('not_found', `no such ${name}: ${v}`);
  return id;
}

/** The explanation of an API error a form ran into, for the page it is shown on. */
export function explain(err: ApiError): Flash {
  switch (err.code) {
    case 'stale_version':
      return {
        kind: 'warn',
        title: 'Someone else changed this alert while you had it open.',
        body: (
          <p>
            Nothing you sent was applied. The page below shows the alert as it is now; your note is kept in
            the form — check the audit trail, then send it again if it still applies.
          </p>
        ),
      };
    case 'invalid_transition':
    case 'conflict':
      return {
        kind: 'warn',
        title: 'That cannot be done now.',
        body: <p>{err.message}</p>,
      };
    case 'confirmation_required':
      return { kind: 'info', title: 'Please confirm.', body: <p>{err.message}</p> };
    default:
      return { kind: 'error', title: 'driftwatch refused this.', body: <p>{err.message}</p> };
  }
}
