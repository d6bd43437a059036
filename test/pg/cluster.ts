// A throwaway PostgreSQL cluster for tests and benches: Debian's server binaries, a temp directory, a
// loopback port, fsync off. initdb refuses to run as root, so as root the cluster runs as the `postgres`
// user. DW_TEST_PG_URL points everything at an existing server instead (databases are created on it).
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../ports.js';

export interface Cluster {
  /** postgres://…/postgres of the cluster's superuser. */
  url: string;
  /** The same server, another database. */
  urlFor(database: string): string;
  stop(): void;
}

function binDir(): string {
  const find = () => {
    if (!existsSync('/usr/lib/postgresql')) return undefined;
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => existsSync(join('/usr/lib/postgresql', v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    return versions[0] ? join('/usr/lib/postgresql', versions[0], 'bin') : undefined;
  };
  const dir = find();
  if (!dir)
    throw new Error(
      'PostgreSQL server binaries not found under /usr/lib/postgresql: run scripts/setup-test-env.sh (npm test runs it first), or set DW_TEST_PG_URL',
    );
  return dir;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function startCluster(options: { maxConnections?: number } = {}): Promise<Cluster> {
  const external = process.env.DW_TEST_PG_URL;
  if (external) return { url: external, urlFor: (db) => withDatabase(external, db), stop: () => undefined };
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-pg-'));
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { stdio: 'pipe' })
      : execFileSync(join(bin, cmd), args, { stdio: 'pipe' });
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), -1);
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    `-c max_connections=${options.maxConnections ?? 400}`,
  ].join(' ');
  run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-o', settings, '-w', '-t', '60', 'start']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let stopped = false;
  return {
    url,
    urlFor: (db) => withDatabase(url, db),
    stop: () => {
      if (stopped) return;
      stopped = true;
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
