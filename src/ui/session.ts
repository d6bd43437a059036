import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { endSession, findSession, startSession } from '../auth/sessions.js';
import { tokenTable } from '../auth/tokens.js';
import type { Actor, AppDeps } from '../context.js';

// Web UI sign-in. A token is exchanged once for a session: a random id in an HttpOnly, SameSite=Strict
// cookie, stored (auth/sessions.ts) only as its SHA-256 (so any process of a fleet serves the browser,
// and a copy of the database does not hold usable cookies). The session keeps the token's name and fingerprint;
// its role is looked up in the current config on every request, so a rotated or removed token ends it.

export const SESSION_COOKIE = 'dw_session';
/** The pre-session CSRF cookie: the sign-in form, and every form in open mode, double-submit it. */
export const CSRF_COOKIE = 'dw_csrf';

const OPEN_ACTOR: Actor = { name: 'anonymous', role: 'admin' };

export interface UiState {
  /** Who is signed in; null when tokens are configured and the browser has no valid session. */
  actor: Actor | null;
  /** The token every form on the page must send back as `_csrf`. */
  csrf: string;
  /** True when no tokens are configured: no sign-in, everyone acts as "anonymous" (loopback only). */
  open: boolean;
  /** The stored session's id hash, when signed in. */
  session: string | null;
  /** The browser sent a session cookie that no longer holds (expired, signed out, token rotated). */
  ended?: boolean;
}

const random = (): string => randomBytes(32).toString('base64url');
const hashId = (id: string): string => createHash('sha256').update(id, 'utf8').digest('hex');

/** Cookies are marked Secure when the browser reached us over HTTPS (directly or via a proxy). */
function secure(c: Context): boolean {
  if (new URL(c.req.url).protocol === 'https:') return true;
  return (c.req.header('x-forwarded-proto') ?? '').split(',')[0]?.trim() === 'https';
}

function cookieOptions(c: Context, maxAgeSeconds?: number) {
  return {
    httpOnly: true,
    sameSite: 'Strict' as const,
    path: '/',
    secure: secure(c),
    ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds }),
  };
}

/** Reads the browser's session (and makes sure it holds a CSRF cookie). */
export async function uiState(c: Context, deps: AppDeps): Promise<UiState> {
  let pre = getCookie(c, CSRF_COOKIE);
  if (!pre || !/^[A-Za-z0-9_-]{43}$/.test(pre)) {
    pre = random();
    setCookie(c, CSRF_COOKIE, pre, cookieOptions(c));
  }
  if (tokenTable(deps.config).open) return { actor: OPEN_ACTOR, csrf: pre, open: true, session: null };
  const found = await sessionOf(c, deps);
  if (found === 'none') return { actor: null, csrf: pre, open: false, session: null };
  if (found === 'ended') return { actor: null, csrf: pre, open: false, session: null, ended: true };
  return { actor: found.actor, csrf: found.csrf, open: false, session: found.idHash };
}

type SessionLookup = { actor: Actor; csrf: string; idHash: string } | 'ended' | 'none';
const lookups = new WeakMap<Request, Promise<SessionLookup>>();

/**
 * The signed-in session the request's cookie names, looked up once per request: the in-flight bound asks
 * first (a signed-in reviewer takes the API's slots, an anonymous browser does not), then the UI.
 */
export function sessionOf(c: Context, deps: AppDeps): Promise<SessionLookup> {
  let found = lookups.get(c.req.raw);
  if (!found) {
    found = (async (): Promise<SessionLookup> => {
      const id = getCookie(c, SESSION_COOKIE);
      if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) return 'none';
      const idHash = hashId(id);
      const row = await findSession(deps, idHash);
      const actor = row ? tokenTable(deps.config).sessionActor(row.tokenName, row.tokenFingerprint) : null;
      return row && actor ? { actor, csrf: row.csrf, idHash } : 'ended';
    })();
    lookups.set(c.req.raw, found);
  }
  return found;
}

export type SignInResult = { ok: true; actor: Actor } | { ok: false; reason: string };

/** Exchanges a token for a session cookie; only reviewer and admin tokens may sign in to the UI. */
export async function signIn(c: Context, deps: AppDeps, token: string): Promise<SignInResult> {
  const found = tokenTable(deps.config).authenticateForSession(token.trim());
  if (!found) return { ok: false, reason: 'That token is not valid.' };
  const { actor, fingerprint } = found;
  if (actor.role !== 'admin' && actor.role !== 'reviewer') {
    return {
      ok: false,
      reason: `The token "${actor.name}" has the ${actor.role} role; the web UI needs a reviewer or admin token.`,
    };
  }
  const id = random();
  const now = deps.clock();
  const ttl = deps.config.auth.sessionTtl;
  await startSession(deps, {
    idHash: hashId(id),
    tokenName: actor.name,
    tokenFingerprint: fingerprint,
    csrf: random(),
    createdAt: now,
    expiresAt: now + ttl,
  });
  setCookie(c, SESSION_COOKIE, id, cookieOptions(c, Math.floor(ttl / 1000)));
  return { ok: true, actor };
}

export async function signOut(c: Context, deps: AppDeps, state: UiState): Promise<void> {
  const session = state.session;
  if (session) await endSession(deps, session);
  deleteCookie(c, SESSION_COOKIE, { path: '/', secure: secure(c) });
}

/** Constant-time comparison of the form's `_csrf` with the expected token. */
export function csrfMatches(expected: string, given: string | null | undefined): boolean {
  if (typeof given !== 'string' || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}
