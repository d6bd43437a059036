import { afterEach, describe, expect, it } from 'vitest';
import { AUTH_CONFIG } from '../alerts/helpers.js';
import { makeTestApp, type TestApp } from '../support.js';
import { documentOf, operations, type ServingApp, servingApp } from './support.js';

// GET /docs: one self-contained HTML page rendered from the document, listing every operation.

let s: ServingApp | undefined;
let t: TestApp | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
  t?.close();
  t = undefined;
});

const decode = (html: string) =>
  html
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&');

describe('GET /docs', () => {
  it('renders every operation with its method, path, roles and anchor', async () => {
    s = await servingApp();
    const res = await s.app.request('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    const ops = operations(await documentOf(s.app));
    expect(ops.length).toBeGreaterThan(50);
    const missing: string[] = [];
    for (const { method, path, op } of ops) {
      const openApiPath = path.replace(/:([A-Za-z_]+)/g, '{$1}');
      const heading = new RegExp(
        `<section class="op" id="${op.operationId}"[^>]*>\\s*<h3[^>]*><span class="method method-${method.toLowerCase()}">${method}</span> <code>${openApiPath.replace(/[{}]/g, '\\$&')}</code></h3>`,
      );
      if (!heading.test(html)) missing.push(`${method} ${path}`);
      if (!html.includes(`href="#${op.operationId}"`)) missing.push(`${method} ${path} (contents)`);
    }
    expect(missing).toEqual([]);
    expect(decode(html)).toContain(
      'Roles:</strong> <span class="role">reviewer</span> <span class="role">admin</span>',
    );
    // Request bodies are shown field by field, with the rules of the schema.
    expect(decode(html)).toContain('<code>decision</code></td><td>one of "retrain", "accept_shift"');
    expect(html).toContain('id="error-envelope"');
  });

  it('is self-contained: no script, nothing loaded from elsewhere, and a CSP that says so', async () => {
    t = makeTestApp();
    const res = await t.app.request('/docs');
    const html = await res.text();
    expect(html).not.toMatch(/<script/i);
    // The only link is an empty inline icon (so browsers do not ask for /favicon.ico).
    expect(html.replace('<link rel="icon" href="data:,">', '')).not.toMatch(/<link/i);
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//i);
    expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('is open, like the document, even with tokens configured', async () => {
    t = makeTestApp(AUTH_CONFIG);
    expect((await t.app.request('/docs')).status).toBe(200);
    expect((await t.app.request('/openapi.json')).status).toBe(200);
    expect((await t.app.request('/v1/alerts')).status).toBe(401);
  });
});
