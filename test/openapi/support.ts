import { createApp } from '../../src/app.js';
import type { Operation } from '../../src/openapi/document.js';
import type { OpenApiDocument } from '../../src/openapi/index.js';
import { ServingRuntime } from '../../src/serving/runtime.js';
import { makeTestApp, type TestApp, tempDir } from '../support.js';

export interface ServingApp {
  t: TestApp;
  app: ReturnType<typeof createApp>;
  close(): Promise<void>;
}

/** An app that serves models (no model registered), so the serving routes are mounted too. */
export async function servingApp(): Promise<ServingApp> {
  const { dir, cleanup } = tempDir();
  const t = makeTestApp({ serving: { modelsDir: dir } });
  const runtime = new ServingRuntime(t.deps);
  await runtime.start();
  const app = createApp(t.deps, { serving: runtime });
  return {
    t,
    app,
    async close() {
      await runtime.close();
      await t.close();
      cleanup();
    },
  };
}

export async function documentOf(app: { request: TestApp['app']['request'] }): Promise<OpenApiDocument> {
  const res = await app.request('/openapi.json');
  if (res.status !== 200) throw new Error(`GET /openapi.json: ${res.status}`);
  return (await res.json()) as OpenApiDocument;
}

export interface Op {
  method: string;
  /** The hono path, `:name` for parameters. */
  path: string;
  op: Operation;
}

export function operations(doc: OpenApiDocument): Op[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({
      method: method.toUpperCase(),
      path: path.replace(/\{([^}]+)\}/g, ':$1'),
      op: op as Operation,
    })),
  );
}

/**
 * The reviewers' web UI (mounted at /ui by the UI work of issue 13) is HTML pages and forms for browsers,
 * with session cookies and CSRF tokens: not part of the API the document describes.
 */
const NOT_API = /^\/ui(\/|$)/;

/** The app's API routes as "METHOD /path", middleware left out. */
export function routesOf(app: TestApp['app']): string[] {
  const api = app.routes.filter((r) => r.method !== 'ALL' && !NOT_API.test(r.path));
  return [...new Set(api.map((r) => `${r.method} ${r.path}`))].sort();
}

const SAMPLE: Record<string, string> = { model: 'm', feature: 'x', id: '1', name: 'weather', v: '1' };

/** A path with each parameter filled with a valid sample value. */
export function concrete(path: string): string {
  return path.replace(/:([A-Za-z_]+)/g, (_, name: string) => {
    const v = SAMPLE[name];
    if (v === undefined) throw new Error(`no sample value for :${name}`);
    return v;
  });
}
