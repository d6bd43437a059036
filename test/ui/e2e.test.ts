import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demo } from '../../examples/demo.mjs';
import { type Headless, launchChromium } from '../browser/chromium.js';
import { killAll, REPO_ROOT, type ServerProcess, startServerProcess } from '../server/process.js';
import { tempDir } from '../support.js';

// A whole triage in Debian's Chromium against a real driftwatch process: the demo model served, the demo's
// replay of real weather raising drift alerts, tokens configured, and a notification link to follow.

const ADMIN = 'e2e-admin-token-0123456789';
const REVIEWER = 'e2e-reviewer-token-0123456789';

let server: ServerProcess;
let browser: Headless;
let cleanup: () => void;
let hook: Server;
const received: { type?: string; link?: string }[] = [];
const EXTERNAL = 'https://driftwatch.example.com';
const WEATHER_CSV = join(REPO_ROOT, 'node_modules/vega-datasets/data/seattle-weather.csv');

beforeAll(async () => {
  const dir = tempDir();
  cleanup = dir.cleanup;
  const config = join(dir.dir, 'driftwatch.json');
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      received.push(JSON.parse(body) as { type?: string; link?: string });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const hookPort = (hook.address() as AddressInfo).port;
  writeFileSync(
    config,
    JSON.stringify({
      auth: {
        tokens: [
          { name: 'root', role: 'admin', token: ADMIN },
          { name: 'rita', role: 'reviewer', token: REVIEWER },
        ],
      },
      notifications: {
        // Where reviewers open driftwatch; the test opens the links' paths on the server it started.
        externalUrl: EXTERNAL,
        // The team's webhook: a receiver in this test, which keeps what driftwatch sends.
        channels: [{ name: 'team', type: 'webhook', url: `http://127.0.0.1:${hookPort}/hook` }],
      },
    }),
  );
  server = await startServerProcess(join(dir.dir, 'dw.db'), { DRIFTWATCH_CONFIG: config });
  const lines: string[] = [];
  await demo({
    url: server.url(''),
    token: ADMIN,
    decision: 'retrain',
    csv: readFileSync(WEATHER_CSV, 'utf8'),
    log: (l: string) => lines.push(l),
  });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await killAll();
  hook?.close();
  cleanup?.();
});

async function api<T>(path: string, token = ADMIN): Promise<T> {
  const res = await fetch(server.url(path), { headers: { authorization: `Bearer ${token}` } });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

describe('triage in a browser', () => {
  it('signs in from a notification link, reads the alert, assigns it and decides retrain', async () => {
    // The webhook deliveries of the demo's alerts (sent by the leader's delivery job).
    await expect
      .poll(() => received.filter((d) => d.link?.includes('/ui/alerts/')).length, { timeout: 30_000 })
      .toBeGreaterThan(0);
    const links: string[] = [];
    const collect = () => {
      links.splice(
        0,
        links.length,
        ...received.map((d) => d.link).filter((l): l is string => typeof l === 'string'),
      );
      return links;
    };
    collect();
    // An alert still open (the demo decided the one with the largest PSI) whose link arrived.
    const open = await api<{ alerts: { id: number; feature: string }[] }>('/v1/alerts?status=open');
    await expect
      .poll(() => open.alerts.find((a) => collect().includes(`${EXTERNAL}/ui/alerts/${a.id}`)) ?? null, {
        timeout: 30_000,
      })
      .not.toBeNull();
    const target = open.alerts.find((a) => links.includes(`${EXTERNAL}/ui/alerts/${a.id}`)) as {
      id: number;
      feature: string;
    };
    const linked = `${EXTERNAL}/ui/alerts/${target.id}`;
    const link = server.url(new URL(linked).pathname);

    const page = await browser.context.newPage();
    await page.goto(link);
    // Not signed in: the sign-in page, which returns to the alert.
    await expect.poll(() => page.url()).toContain('/ui/login?next=');
    await page.getByLabel('API token').fill(REVIEWER);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(link);
    await expect.poll(() => page.locator('h1').textContent()).toContain(target.feature);
    const cookies = await browser.context.cookies();
    const session = cookies.find((c) => c.name === 'dw_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');

    // Why it fired, with its charts.
    await expect.poll(() => page.getByRole('heading', { name: 'Why it fired' }).count()).toBe(1);
    expect(await page.locator('#chart-histogram svg[role="img"]').count()).toBe(1);
    expect(await page.locator('#chart-histogram svg rect').count()).toBeGreaterThan(4);

    // Assign to me.
    await page.getByRole('button', { name: 'Assign to me' }).click();
    await page.waitForURL(/done=assigned/);
    await expect.poll(() => page.getByRole('status').first().textContent()).toContain('Assignment saved.');
    expect((await api<{ assignee: string }>(`/v1/alerts/${target.id}`)).assignee).toBe('rita');

    // Decide retrain: the effect is stated first, then confirmed.
    await page.getByLabel(/^Retrain/).check();
    await page.getByLabel(/^Note/).fill('summer 2015 is outside the training years');
    await page.getByRole('button', { name: 'Review decision…' }).click();
    await expect
      .poll(() => page.locator('#decision-effect').textContent())
      .toContain('Creates a retrain request');
    await page.getByRole('button', { name: 'Confirm: Retrain' }).click();
    await page.waitForURL(/done=decided/);
    const detail = await api<{ status: string; retrain_requests: { id: number; requested_by: string }[] }>(
      `/v1/alerts/${target.id}`,
    );
    expect(detail.status).toBe('decided');
    expect(detail.retrain_requests.map((r) => r.requested_by)).toEqual(['rita']);

    // The request is listed under Retrain requests, linked back to the alert.
    await page.getByRole('link', { name: 'Retrain requests' }).click();
    await page.waitForURL(/\/ui\/retrain/);
    const request = detail.retrain_requests[0] as { id: number };
    await expect.poll(() => page.locator(`#retrain-${request.id}`).count()).toBe(1);
    expect(await page.locator(`#retrain-${request.id}`).textContent()).toContain('rita');
    expect(await page.locator(`#retrain-${request.id} a[href="/ui/alerts/${target.id}"]`).count()).toBe(1);
    await page.close();
  });

  it('lets a reviewer see the served versions but not activate one', async () => {
    const page = await browser.context.newPage();
    await page.goto(server.url('/ui/models/weather/versions'));
    await expect.poll(() => page.locator('h1').textContent()).toContain('weather');
    const before = await api<{ versions: { version: string; state: string }[] }>(
      '/v1/models/weather/versions',
    );
    const inactive = before.versions.find((v) => v.state !== 'active') as { version: string };
    // No admin controls for a reviewer.
    expect(await page.getByRole('button', { name: /^Activate/ }).count()).toBe(0);
    // A hand-made form with a valid CSRF token is still refused: the role decides, not the page.
    const csrf = (await page.locator('input[name="_csrf"]').first().getAttribute('value')) as string;
    // (The page's CSP allows no fetch; a form it builds is what an attacker's script could send.)
    const url = `/ui/models/weather/versions/${inactive.version}/activate`;
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith(url)),
      // A string, not a function: this project's types have no DOM.
      page.evaluate(`(() => {
        const form = document.createElement('form');
        form.method = 'post';
        form.action = ${JSON.stringify(url)};
        for (const [name, value] of [['_csrf', ${JSON.stringify(csrf)}], ['confirm', 'yes']]) {
          const input = document.createElement('input');
          input.type = 'hidden';
          input.name = name;
          input.value = value;
          form.append(input);
        }
        document.body.append(form);
        form.submit();
      })()`),
    ]);
    const status = response.status();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Not allowed');
    expect(status).toBe(403);
    const after = await api<{ versions: { version: string; state: string }[] }>(
      '/v1/models/weather/versions',
    );
    expect(after.versions).toEqual(before.versions);
    await page.close();
  });

  it('refuses a form posted without its CSRF token', async () => {
    const page = await browser.context.newPage();
    const open = await api<{ alerts: { id: number }[] }>('/v1/alerts?status=open');
    const id = (open.alerts[0] as { id: number }).id;
    await page.goto(server.url(`/ui/alerts/${id}`));
    // The browser is still signed in (previous test); strip the token from the comment form and send it.
    await page.getByLabel('Comment', { exact: true }).fill('sent without a token');
    await page.locator('form[action$="/comment"] input[name="_csrf"]').evaluate((input) => input.remove());
    await page.getByRole('button', { name: 'Add comment' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Form refused');
    const events = (await api<{ events: { note: string | null }[] }>(`/v1/alerts/${id}`)).events;
    expect(events.some((e) => e.note === 'sent without a token')).toBe(false);
    await page.close();
  });
});
