import { createReadStream, statSync } from 'node:fs';
import { extname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { Config } from '../config/index.js';

// The CLI talks to the running service over HTTP, so the service stays the only writer of its database.

export interface Service {
  url: string;
  token: string | undefined;
}

/** Where the service is and how to authenticate: --url / --token win over the config (DRIFTWATCH_TOKEN). */
export function serviceOf(config: Config, explicit: { url?: string; token?: string } = {}): Service {
  const host =
    config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host;
  const url =
    explicit.url?.replace(/\/$/, '') ??
    `http://${host.includes(':') ? `[${host}]` : host}:${config.server.port}`;
  return { url, token: explicit.token ?? config.client.token };
}

function withAuth(service: Service, headers: Record<string, string>): Record<string, string> {
  return service.token ? { ...headers, authorization: `Bearer ${service.token}` } : headers;
}

export class CliError extends Error {}

async function call(url: string, init: RequestInit & { duplex?: 'half' }): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new CliError(
      `cannot reach driftwatch at ${new URL(url).origin}: ${(err as Error).cause ?? (err as Error).message}. Is it running (driftwatch serve)?`,
    );
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Non-JSON bodies are shown as they are.
  }
  if (!res.ok) {
    const message = (body as { error?: { message?: string } })?.error?.message ?? text;
    throw new CliError(`${res.status}: ${message}`);
  }
  return body;
}

const CONTENT_TYPES: Record<string, string> = {
  '.csv': 'text/csv',
  '.ndjson': 'application/x-ndjson',
  '.jsonl': 'application/x-ndjson',
  '.json': 'application/json',
};

/** A byte pass-through that draws a progress bar on `out` when it is a terminal (uploads, batch scoring). */
export function progress(total: number, out: NodeJS.WriteStream): Transform {
  let seen = 0;
  let lastDraw = 0;
  const draw = (final: boolean) => {
    const share = total === 0 ? 1 : seen / total;
    const width = 30;
    const filled = Math.round(share * width);
    const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
    out.write(
      `\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${mb(seen)}/${mb(total)} MiB${final ? '\n' : ''}`,
    );
  };
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      const now = Date.now();
      if (out.isTTY && now - lastDraw > 100) {
        lastDraw = now;
        draw(false);
      }
      done(null, chunk);
    },
    flush(done) {
      if (out.isTTY) draw(true);
      done();
    },
  });
}

export interface BaselineCreateOptions {
  model: string;
  modelVersion?: string;
  data: string;
  prediction?: string;
  label?: string;
  categorical?: string;
  numeric?: string;
  exclude?: string;
  topK?: string;
  notes?: string;
  codeCommit?: string;
  activate?: boolean;
}

/** Streams a training file to POST /v1/models/:model/baselines, drawing a progress bar on a terminal. */
export async function uploadBaseline(service: Service, o: BaselineCreateOptions): Promise<unknown> {
  const type = CONTENT_TYPES[extname(o.data).toLowerCase()];
  if (!type)
    throw new CliError(`--data must end in .csv, .ndjson, .jsonl or .json to tell its format, got ${o.data}`);
  let size: number;
  try {
    size = statSync(o.data).size;
  } catch {
    throw new CliError(`cannot read --data ${o.data}`);
  }
  const params = new URLSearchParams();
  const set = (k: string, v: string | undefined) => {
    if (v !== undefined) params.set(k, v);
  };
  set('model_version', o.modelVersion);
  set('prediction', o.prediction);
  set('label', o.label);
  set('categorical', o.categorical);
  set('numeric', o.numeric);
  set('exclude', o.exclude);
  set('top_k', o.topK);
  set('notes', o.notes);
  set('code_commit', o.codeCommit);
  if (o.activate === false) params.set('activate', 'false');
  const stream = createReadStream(o.data).pipe(progress(size, process.stderr));
  return call(`${service.url}/v1/models/${encodeURIComponent(o.model)}/baselines?${params}`, {
    method: 'POST',
    headers: withAuth(service, { 'content-type': type }),
    body: Readable.toWeb(stream) as ReadableStream,
    duplex: 'half',
  });
}

export async function runDriftRemote(
  service: Service,
  model: string,
  range: { from?: string; to?: string },
): Promise<unknown> {
  return call(`${service.url}/v1/models/${encodeURIComponent(model)}/drift/run`, {
    method: 'POST',
    headers: withAuth(service, { 'content-type': 'application/json' }),
    body: JSON.stringify(range),
  });
}

interface ColumnLike {
  feature: string;
  type: string;
  n: number;
  psi: number | null;
  ks_pvalue: number | null;
  chi2_pvalue: number | null;
  pvalue_adjusted: number | null;
  drifted: boolean | null;
  severity: string | null;
}

/** A terminal table of one drift result. */
export function formatResult(r: {
  model: string;
  model_version: string | null;
  baseline_id: number;
  window: { from: string; to: string };
  n: number;
  drifted_share: number | null;
  features: ColumnLike[];
  prediction: ColumnLike | null;
}): string {
  const fmt = (v: number | null, digits = 4) =>
    v === null ? '-' : Math.abs(v) < 1e-4 && v !== 0 ? v.toExponential(2) : v.toFixed(digits);
  const rows = [...r.features, ...(r.prediction ? [r.prediction] : [])].map((f) => [
    f.feature,
    f.type,
    String(f.n),
    fmt(f.psi),
    fmt(f.ks_pvalue ?? f.chi2_pvalue),
    fmt(f.pvalue_adjusted),
    f.drifted === null ? 'no verdict' : f.drifted ? `DRIFT (${f.severity})` : 'ok',
  ]);
  const head = ['feature', 'type', 'n', 'psi', 'p', 'p_adj', 'verdict'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  return [
    `${r.model} ${r.model_version ?? '(unversioned)'}  baseline ${r.baseline_id}  ${r.window.from} → ${r.window.to}  n=${r.n}  drifted share ${fmt(r.drifted_share, 2)}`,
    line(head),
    ...rows.map(line),
  ].join('\n');
}
