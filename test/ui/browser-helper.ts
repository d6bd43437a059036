// A cookie jar over app.request: enough of a browser for the UI tests that need no rendering.
import type { TestApp } from '../support.js';

export type FakeBrowser = ReturnType<typeof browser>;

/** A cookie jar over app.request, enough for the UI tests: sessions, CSRF fields, form posts. */
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
  /** The page's HTML, failing unless it answered `status`. */
  async function html(path: string, status = 200): Promise<string> {
    const res = await request(path);
    const text = await res.text();
    if (res.status !== status)
      throw new Error(`GET ${path}: ${res.status}, expected ${status}\n${text.slice(0, 2000)}`);
    return text;
  }
  async function csrfFrom(path: string): Promise<string> {
    const text = await (await request(path)).text();
    const m = /name="_csrf" value="([^"]+)"/.exec(text);
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
  /** A form post carrying the CSRF token of the page at `from` (default: the overview). */
  async function submit(path: string, fields: Record<string, string>, from = '/ui') {
    return post(path, { _csrf: await csrfFrom(from), ...fields });
  }
  /** Posts the form found on `pagePath` by its action, with its hidden fields and `fields`. */
  async function submitForm(pagePath: string, action: string, fields: Record<string, string> = {}) {
    const page = await (await request(pagePath)).text();
    const at = page.indexOf(`action="${action}"`);
    if (at < 0) throw new Error(`no form with action ${action} on ${pagePath}`);
    const form = page.slice(at, page.indexOf('</form>', at));
    const hidden: Record<string, string> = {};
    for (const m of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
      hidden[m[1] as string] = (m[2] as string).replaceAll('&quot;', '"').replaceAll('&amp;', '&');
    }
    return post(action, { ...hidden, ...fields });
  }
  async function signIn(token: string) {
    const csrf = await csrfFrom('/ui/login');
    return post('/ui/login', { _csrf: csrf, token, next: '/ui' });
  }
  return { jar, request, html, post, submit, submitForm, csrfFrom, signIn };
}

/** Text content of the HTML, tags dropped and entities of the escaper decoded, whitespace collapsed. */
export function textOf(html: string): string {
  return html
    .replace(/<svg[\s\S]*?<\/svg>/g, ' ')
    .replace(/<\/?(strong|em|a|span|code|time|abbr)\b[^>]*>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}
