// A cookie jar over app.request: enough of a browser for the UI tests that need no rendering.
import type { TestApp } from '../support.js';

export type FakeBrowser = ReturnType<typeof browser>;

/** A cookie jar over app.request, enough for these tests. */
export function browser(app: TestApp['app']) {
  const jar = new Map<string, string>();
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  async function request(path: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers);
    if (jar.size > 0) headers.set('cookie', cookieHeader());
    const res = await app.request(`http://localhost${path}`, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [k, ...v] = (pair ?? '').split('=');
      if (!k) continue;
      if (/max-age=0/i.test(line) || v.join('=') === '') jar.delete(k);
      else jar.set(k, v.join('='));
    }
    return res;
  }
  async function csrfFrom(path: string): Promise<string> {
    const html = await (await request(path)).text();
    const m = /name="_csrf" value="([^"]+)"/.exec(html);
    if (!m?.[1]) throw new Error(`no CSRF field on ${path}`);
    return m[1];
  }
  async function post(path: string, fields: Record<string, string>) {
    return request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
  async function signIn(token: string) {
    const csrf = await csrfFrom('/ui/login');
    return post('/ui/login', { _csrf: csrf, token, next: '/ui/alerts' });
  }
  /** Posts a form found on `page` (by its action) with its hidden fields and `fields`. */
  async function submit(pagePath: string, action: string, fields: Record<string, string> = {}) {
    const html = await (await request(pagePath)).text();
    const at = html.indexOf(`action="${action}"`);
    if (at < 0) throw new Error(`no form with action ${action} on ${pagePath}`);
    const form = html.slice(at, html.indexOf('</form>', at));
    const hidden: Record<string, string> = {};
    for (const m of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
      hidden[m[1] as string] = (m[2] as string).replaceAll('&quot;', '"').replaceAll('&amp;', '&');
    }
    return post(action, { ...hidden, ...fields });
  }
  return { jar, request, post, csrfFrom, signIn, submit };
}
