// Every driftwatch API route the dashboards and alert rules tell an operator to call exists: each link is
// requested from an in-process app that serves models (so the serving routes are mounted too) and must not
// be a route miss, and each query parameter it names must be one the route's OpenAPI operation declares.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concrete, documentOf, operations, type ServingApp, servingApp } from '../openapi/support.js';
import { ROOT } from './prometheus.js';

interface Link {
  where: string;
  method: string;
  /** The hono path, `:name` for parameters. */
  path: string;
  query: string[];
}

const DIR = join(ROOT, 'dashboards');
const files = readdirSync(DIR, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && /\.(ya?ml|json)$/.test(e.name))
  .map((e) => join(e.parentPath, e.name));

// A method (optional; GET when absent) and a path under driftwatch's API or operations endpoints, not
// part of a longer path or URL (/etc/grafana/provisioning, http://prometheus:9090/...).
const LINK =
  /(?:\b(GET|POST|PUT|DELETE)\s+)?(?<![\w/.:])(\/(?:v1|v2|readyz|healthz|metrics|openapi\.json|docs)(?:[\w\-./:]*[\w/])?)(\?[\w=:&-]*)?/g;

/** The links in a file's text; a rule's {{ $labels.x }} template becomes the parameter :x. */
function linksIn(where: string, text: string): Link[] {
  const plain = text.replace(/\{\{\s*\$labels\.(\w+)\s*\}\}/g, ':$1');
  return [...plain.matchAll(LINK)].map(([, method, path, query]) => ({
    where,
    method: method ?? 'GET',
    path: path as string,
    query: (query ?? '')
      .slice(1)
      .split('&')
      .filter((p) => p !== '')
      .map((p) => p.split('=')[0] as string),
  }));
}

const links = [
  ...new Map(
    files
      .flatMap((f) => linksIn(relative(ROOT, f), readFileSync(f, 'utf8')))
      .map((l) => [`${l.where} ${l.method} ${l.path}?${l.query.join('&')}`, l]),
  ).values(),
];

describe('linksIn', () => {
  it('reads methods, rule templates and query parameters, and skips other paths', () => {
    expect(
      linksIn(
        'x',
        'see GET\n   /v1/ingest/rejections?model={{ $labels.model }}). POST /v1/models/:model/predict, ' +
          '/readyz shows it; "/etc/grafana/provisioning" and http://prometheus:9090/v1/x are not ours',
      ).map(({ method, path, query }) => ({ method, path, query })),
    ).toEqual([
      { method: 'GET', path: '/v1/ingest/rejections', query: ['model'] },
      { method: 'POST', path: '/v1/models/:model/predict', query: [] },
      { method: 'GET', path: '/readyz', query: [] },
    ]);
  });
});

describe('driftwatch API links in dashboards/', () => {
  let s: ServingApp;
  beforeAll(async () => {
    s = await servingApp();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('finds the links the rules and dashboards give', () => {
    const found = new Set(links.map((l) => `${l.method} ${l.path}`));
    expect(found).toContain('GET /v1/ingest/rejections');
    expect(found).toContain('GET /v1/jobs');
    expect(found).toContain('POST /v1/models/:model/predict');
    expect(found).toContain('GET /readyz');
    expect(new Set(links.map((l) => l.where.split('/')[1]))).toEqual(new Set(['prometheus', 'grafana']));
  });

  it.each(links.map((l) => [`${l.method} ${l.path}`, l.where, l]))(
    '%s (%s) is a route',
    async (_n, _w, l) => {
      const link = l as Link;
      const res = await s.app.request(concrete(link.path), { method: link.method });
      const body = res.headers.get('content-type')?.includes('json')
        ? ((await res.json()) as { error?: { message?: string } })
        : {};
      // A route miss is the app's 404 "no route for …", or a 405 for a path only other methods have.
      expect(res.status, JSON.stringify(body)).not.toBe(405);
      expect(body.error?.message ?? '', `${res.status}`).not.toMatch(/^no route for /);
    },
  );

  it('names only query parameters the operation declares', async () => {
    const ops = operations(await documentOf(s.app));
    const pattern = (p: string) => new RegExp(`^${p.replace(/:[^/]+/g, '[^/]+')}$`);
    for (const link of links.filter((l) => l.query.length > 0)) {
      const op = ops.find((o) => o.method === link.method && pattern(o.path).test(concrete(link.path)));
      const declared = (op?.op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      for (const q of link.query) expect(declared, `${link.where}: ${link.path}?${q}=`).toContain(q);
    }
    expect(links.some((l) => l.query.length > 0)).toBe(true);
  });
});
