// A throwaway Prometheus for tests: Debian's binary (scripts/setup-test-env.sh installs it when missing),
// a temp config and data directory, a loopback port. `query` is the HTTP API's instant query. Also the
// PromQL of the dashboards and rules in dashboards/, for the tests that check them.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { freePort } from '../ports.js';

export { freePort };

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DASHBOARDS = ['operations', 'drift'].map((name) =>
  join(ROOT, 'dashboards/grafana', `${name}.json`),
);
export const RULES = join(ROOT, 'dashboards/prometheus/rules.yml');
export const RULE_TESTS = join(ROOT, 'dashboards/prometheus/rules.test.yml');
export const SCRAPE = join(ROOT, 'dashboards/prometheus/scrape.yml');

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';

/** Paths of prometheus and promtool (Debian's package, installed by scripts/setup-test-env.sh). */
export function prometheusBinaries(): { prometheus: string; promtool: string } {
  if (!existsSync(PROMETHEUS) || !existsSync(PROMTOOL)) {
    throw new Error('prometheus/promtool not found: run scripts/setup-test-env.sh (npm test runs it first)');
  }
  return { prometheus: PROMETHEUS, promtool: PROMTOOL };
}

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Prometheus {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** temp directory of the config and the TSDB, removed by stop() */
  dir: string;
  /** Instant query (GET /api/v1/query); rejects on a PromQL error. Vector results; a scalar comes back as one sample without labels. */
  query(expr: string): Promise<Sample[]>;
  /** Polls `query(expr)` until it returns at least one sample (or `timeoutMs` passes, then rejects). */
  waitFor(expr: string, timeoutMs?: number): Promise<Sample[]>;
  /** What the server logged so far (stderr), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** scrape_configs entries; `{port}` in a string is replaced by the server's own port (to scrape itself). */
  scrapeConfigs: Record<string, unknown>[];
  /** global scrape and evaluation interval, default 1s */
  scrapeInterval?: string;
  /** absolute paths of rule files to load */
  ruleFiles?: string[];
}

function withPort(value: unknown, port: number): unknown {
  if (typeof value === 'string') return value.replaceAll('{port}', String(port));
  if (Array.isArray(value)) return value.map((v) => withPort(v, port));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withPort(v, port)]));
  }
  return value;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startPrometheus(options: StartOptions): Promise<Prometheus> {
  const { prometheus } = prometheusBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-prometheus-'));
  const port = await freePort();
  const interval = options.scrapeInterval ?? '1s';
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval },
    ...(options.ruleFiles ? { rule_files: options.ruleFiles } : {}),
    scrape_configs: withPort(options.scrapeConfigs, port),
  };
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, stringify(config));
  const url = `http://127.0.0.1:${port}`;
  let stderr = '';
  const child: ChildProcess = spawn(
    prometheus,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let exited: number | null | undefined;
  const exit = new Promise<void>((r) =>
    child.once('exit', (code) => {
      exited = code;
      r();
    }),
  );
  const cleanup = () => rmSync(dir, { recursive: true, force: true });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (exited === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    }
    cleanup();
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== undefined) {
      cleanup();
      throw new Error(`prometheus exited (${exited}) before it was ready:\n${stderr}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready within 30 s:\n${stderr}`);
    }
    await sleep(100);
  }

  const query = async (expr: string): Promise<Sample[]> => {
    const res = await fetch(`${url}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: expr }),
    });
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: unknown };
    };
    if (body.status !== 'success' || !body.data) {
      throw new Error(`query failed (${res.status}): ${body.error ?? 'no data'}\n${expr}`);
    }
    const { resultType, result } = body.data;
    if (resultType === 'vector') return result as Sample[];
    if (resultType === 'scalar') return [{ metric: {}, value: result as [number, string] }];
    throw new Error(`unexpected result type ${resultType} for ${expr}`);
  };

  const waitFor = async (expr: string, timeoutMs = 30_000): Promise<Sample[]> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const samples = await query(expr);
      if (samples.length > 0) return samples;
      if (Date.now() > until) throw new Error(`no data within ${timeoutMs} ms for: ${expr}`);
      await sleep(250);
    }
  };

  return { url, port, dir, query, waitFor, log: () => stderr, stop };
}

/** The scrape config of `job_name` in dashboards/prometheus/scrape.yml (uncommented entries only). */
export function scrapeJob(jobName: string): Record<string, unknown> {
  const config = parse(readFileSync(SCRAPE, 'utf8')) as { scrape_configs: Record<string, unknown>[] };
  const job = config.scrape_configs.find((j) => j.job_name === jobName);
  if (!job) throw new Error(`no scrape job ${jobName} in ${SCRAPE}`);
  return job;
}

export interface Query {
  /** where it is: "<dashboard file> panel <id> <title> <refId>", "<file> variable <name>", "rules <alert>" */
  where: string;
  expr: string;
}

interface Panel {
  id: number;
  title: string;
  type: string;
  targets?: { refId: string; expr: string }[];
  panels?: Panel[];
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
}

export function readDashboard(file: string): Dashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
}

/** Every panel, rows' nested panels included. */
export function allPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every PromQL expression of the dashboards: panel targets and query variables (label_values(...)). */
export function dashboardQueries(): Query[] {
  return DASHBOARDS.flatMap((file) => {
    const d = readDashboard(file);
    const name = file.slice(ROOT.length + 1);
    const panels = allPanels(d).flatMap((p) =>
      (p.targets ?? []).map((t) => ({
        where: `${name} panel ${p.id} "${p.title}" ${t.refId}`,
        expr: t.expr,
      })),
    );
    const variables = d.templating.list
      .filter((v) => v.type === 'query')
      .map((v) => {
        const q = v.query as string | { query: string };
        return { where: `${name} variable ${v.name}`, expr: typeof q === 'string' ? q : q.query };
      });
    return [...panels, ...variables];
  });
}

export interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function alertRules(): Rule[] {
  const rules = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] };
  return rules.groups.flatMap((g) => g.rules);
}

export function ruleQueries(): Query[] {
  return alertRules().map((r) => ({ where: `rules.yml ${r.alert}`, expr: r.expr }));
}

/**
 * A dashboard query made runnable outside Grafana: template variables become match-all regexes and
 * $__rate_interval a fixed range. label_values(metric, label) becomes the metric selector itself.
 */
export function runnable(expr: string, rateInterval = '1m'): string {
  const labelValues = /^label_values\((.+),\s*\w+\)$/.exec(expr.trim());
  const e = labelValues?.[1] ?? expr;
  return e
    .replaceAll('$__rate_interval', rateInterval)
    .replaceAll('$__range', rateInterval)
    .replace(/\$\{?(\w+)\}?/g, '.*');
}
