import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, maxBatchRequestsFor } from '../src/config/index.js';
import { configProblems, tempDir } from './support.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const problemsOf = configProblems;

describe('loadConfig: valid input', () => {
  it('uses the defaults with no file and an empty environment', async () => {
    const config = loadConfig({ env: {} });
    // Only the foundation sections: other features add their own.
    expect(config).toMatchObject({
      server: { host: '127.0.0.1', port: 8080, shutdownTimeoutMs: 10_000 },
      database: { path: './data/driftwatch.db', synchronous: 'full' },
      ingest: { bodyLimit: 16 * 1024 * 1024 },
      retention: { rawRecordsDays: 7, pruneSchedule: '*/10 * * * *' },
      log: { level: 'info' },
    });
  });

  it('reads a YAML file', async () => {
    const path = file(
      'driftwatch.yaml',
      'server:\n  port: 9000\ningest:\n  bodyLimit: 500 kB\nretention:\n  rawRecordsDays: 30\n  pruneSchedule: "0 3 * * *"\n',
    );
    const config = loadConfig({ file: path, env: {} });
    expect(config.server.port).toBe(9000);
    expect(config.server.host).toBe('127.0.0.1');
    expect(config.ingest.bodyLimit).toBe(500_000);
    expect(config.retention).toEqual({
      rawRecordsDays: 30,
      pruneSchedule: '0 3 * * *',
      hourlyDays: 30,
      rollupSchedule: '20 * * * *',
    });
  });

  it('reads a JSON file', async () => {
    const path = file(
      'driftwatch.json',
      JSON.stringify({ database: { synchronous: 'normal' }, ingest: { bodyLimit: '2MiB' } }),
    );
    const config = loadConfig({ file: path, env: {} });
    expect(config.database.synchronous).toBe('normal');
    expect(config.ingest.bodyLimit).toBe(2 * 1024 * 1024);
  });

  it('treats an empty YAML file as no settings', async () => {
    expect(loadConfig({ file: file('empty.yaml', ''), env: {} }).server.port).toBe(8080);
  });

  it('finds the file through DRIFTWATCH_CONFIG', async () => {
    const path = file('c.yaml', 'server:\n  port: 7001\n');
    expect(loadConfig({ env: { DRIFTWATCH_CONFIG: path } }).server.port).toBe(7001);
  });

  it('reads every documented environment variable', async () => {
    const config = loadConfig({
      env: {
        DRIFTWATCH_HOST: '0.0.0.0',
        DRIFTWATCH_PORT: '9100',
        DRIFTWATCH_DB: '/var/lib/driftwatch/db.sqlite',
        DRIFTWATCH_DB_SYNCHRONOUS: 'normal',
        DRIFTWATCH_BODY_LIMIT: '1048576',
        DRIFTWATCH_RETENTION_DAYS: '1.5',
        DRIFTWATCH_PRUNE_SCHEDULE: '*/5 * * * *',
        DRIFTWATCH_LOG_LEVEL: 'debug',
      },
    });
    expect(config).toMatchObject({
      server: { host: '0.0.0.0', port: 9100, shutdownTimeoutMs: 10_000 },
      database: { url: '/var/lib/driftwatch/db.sqlite', synchronous: 'normal' },
      ingest: { bodyLimit: 1_048_576 },
      retention: { rawRecordsDays: 1.5, pruneSchedule: '*/5 * * * *' },
      log: { level: 'debug' },
    });
  });

  it('keeps a numeric-looking database path as text', async () => {
    expect(loadConfig({ env: { DRIFTWATCH_DB: '2024' } }).database.url).toBe('2024');
  });

  it('ignores empty environment variables and undefined overrides', async () => {
    const config = loadConfig({ env: { DRIFTWATCH_PORT: '' }, overrides: { 'server.port': undefined } });
    expect(config.server.port).toBe(8080);
  });
});

describe('loadConfig: precedence file < env < overrides', () => {
  it('lets env win over the file and overrides win over env, key by key', async () => {
    const path = file('c.yaml', 'server:\n  host: 10.0.0.1\n  port: 1000\nlog:\n  level: warn\n');
    const fileOnly = loadConfig({ file: path, env: {} });
    expect([fileOnly.server.host, fileOnly.server.port, fileOnly.log.level]).toEqual([
      '10.0.0.1',
      1000,
      'warn',
    ]);

    const withEnv = loadConfig({ file: path, env: { DRIFTWATCH_PORT: '2000' } });
    expect([withEnv.server.host, withEnv.server.port, withEnv.log.level]).toEqual(['10.0.0.1', 2000, 'warn']);

    const withFlags = loadConfig({
      file: path,
      env: { DRIFTWATCH_PORT: '2000', DRIFTWATCH_LOG_LEVEL: 'error' },
      overrides: { 'server.port': 3000 },
    });
    expect([withFlags.server.host, withFlags.server.port, withFlags.log.level]).toEqual([
      '10.0.0.1',
      3000,
      'error',
    ]);
  });

  it('lets an explicit file win over DRIFTWATCH_CONFIG', async () => {
    const fromEnv = file('env.yaml', 'server:\n  port: 1111\n');
    const explicit = file('explicit.yaml', 'server:\n  port: 2222\n');
    expect(loadConfig({ file: explicit, env: { DRIFTWATCH_CONFIG: fromEnv } }).server.port).toBe(2222);
  });
});

describe('loadConfig: problems', () => {
  it('bounds auth.sessionTtl between a minute and 30 days', async () => {
    for (const ttl of ['30s', '31d']) {
      const path = file(`ttl-${ttl}.yaml`, `auth:\n  sessionTtl: ${ttl}\n`);
      expect(problemsOf({ file: path, env: {} })).toEqual([
        expect.stringContaining('auth.sessionTtl: a session lasts between 1m and 30d'),
      ]);
    }
    const ok = file('ttl-ok.yaml', 'auth:\n  sessionTtl: 8h\n');
    expect(loadConfig({ file: ok, env: {} }).auth.sessionTtl).toBe(8 * 3_600_000);
  });

  it('bounds serving.maxBatchRequests, globally and per model, naming the field', async () => {
    const path = file(
      'batch.yaml',
      'serving:\n  maxBatchRequests: 0\n  models:\n    m: { maxBatchRequests: 2.5 }\n',
    );
    expect(problemsOf({ file: path, env: {} }).sort()).toEqual([
      `serving.maxBatchRequests: an integer from 1 (no batching) to 1024 [from config file ${path}]`,
      `serving.models.m.maxBatchRequests: an integer from 1 (no batching) to 1024 [from config file ${path}]`,
    ]);
    const ok = file(
      'batch-ok.yaml',
      'serving:\n  maxBatchRequests: 4\n  models:\n    seq: { maxBatchRequests: 1 }\n',
    );
    const config = loadConfig({ file: ok, env: {} });
    expect([maxBatchRequestsFor(config, 'seq'), maxBatchRequestsFor(config, 'other')]).toEqual([1, 4]);
    expect(maxBatchRequestsFor(loadConfig({ env: {} }), 'other')).toBe(32);
  });

  it('reports YAML syntax errors with the file name', async () => {
    const path = file('bad.yaml', 'server: [\n  port: 1\n');
    const problems = problemsOf({ file: path, env: {} });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      new RegExp(`^config file ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: \\S`),
    );
  });

  it('reports JSON syntax errors with the file name', async () => {
    const path = file('bad.json', '{"server": {"port": 1,}}');
    const problems = problemsOf({ file: path, env: {} });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`config file ${path}: `);
    expect(problems[0]).toMatch(/JSON|property name/);
  });

  it('reports a file that cannot be read', async () => {
    const path = join(dir, 'missing.yaml');
    expect(problemsOf({ file: path, env: {} })).toEqual([`config file ${path}: cannot read (ENOENT)`]);
  });

  it('reports a file whose top level is not a mapping', async () => {
    const path = file('list.yaml', '- 1\n- 2\n');
    expect(problemsOf({ file: path, env: {} })).toEqual([
      `config file ${path}: expected a mapping at the top level`,
    ]);
  });

  it('reports unknown keys at the top level and inside a section', async () => {
    const path = file('c.yaml', 'server:\n  port: 1\n  prot: 2\ndatabse:\n  path: x\n');
    const problems = problemsOf({ file: path, env: {} });
    expect(problems).toHaveLength(2);
    expect(problems).toContain(`server.prot: unknown key [from config file ${dir}/c.yaml]`);
    expect(problems).toContain(`databse: unknown key [from config file ${dir}/c.yaml]`);
  });

  it.each([
    ['DRIFTWATCH_PORT', 'abc', /^server\.port: .*expected number.* \[from DRIFTWATCH_PORT\]$/],
    ['DRIFTWATCH_PORT', '70000', /^server\.port: .*65535.* \[from DRIFTWATCH_PORT\]$/],
    ['DRIFTWATCH_PORT', '80.5', /^server\.port: .*int.* \[from DRIFTWATCH_PORT\]$/i],
    [
      'DRIFTWATCH_DB_SYNCHRONOUS',
      'sometimes',
      /^database\.synchronous: .*"full"\|"normal".* \[from DRIFTWATCH_DB_SYNCHRONOUS\]$/,
    ],
    [
      'DRIFTWATCH_BODY_LIMIT',
      'lots',
      /^ingest\.bodyLimit: expected a size like 16MiB or a number of bytes, got "lots" \[from DRIFTWATCH_BODY_LIMIT\]$/,
    ],
    ['DRIFTWATCH_BODY_LIMIT', '0', /^ingest\.bodyLimit: .* \[from DRIFTWATCH_BODY_LIMIT\]$/],
    ['DRIFTWATCH_RETENTION_DAYS', '-1', /^retention\.rawRecordsDays: .* \[from DRIFTWATCH_RETENTION_DAYS\]$/],
    ['DRIFTWATCH_LOG_LEVEL', 'loud', /^log\.level: .* \[from DRIFTWATCH_LOG_LEVEL\]$/],
    [
      'DRIFTWATCH_PRUNE_SCHEDULE',
      'every day',
      /^retention\.pruneSchedule: not a valid cron expression .* \[from DRIFTWATCH_PRUNE_SCHEDULE\]$/,
    ],
  ])('reports %s=%s naming the variable', (name, value, message) => {
    const problems = problemsOf({ env: { [name]: value } });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it('reports a bad cron expression from the file', async () => {
    const path = file('c.yaml', 'retention:\n  pruneSchedule: "61 * * * *"\n');
    expect(problemsOf({ file: path, env: {} })).toEqual([
      `retention.pruneSchedule: not a valid cron expression (e.g. "*/10 * * * *") [from config file ${path}]`,
    ]);
  });

  it('reports a bad override naming the flag', async () => {
    expect(problemsOf({ env: {}, overrides: { 'server.port': Number.NaN } })).toEqual([
      expect.stringMatching(/^server\.port: .* \[from --port\]$/),
    ]);
  });

  it('lists every problem at once, from the file, the environment and the flags', async () => {
    const path = file('c.yaml', 'server:\n  bogus: 1\nretention:\n  pruneSchedule: nope\n');
    const problems = problemsOf({
      file: path,
      env: { DRIFTWATCH_PORT: 'abc', DRIFTWATCH_LOG_LEVEL: 'loud' },
      overrides: { 'database.path': '' },
    });
    expect(problems).toHaveLength(5);
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(
      ['database.path', 'log.level', 'retention.pruneSchedule', 'server.bogus', 'server.port'].sort(),
    );
  });

  it('lists a missing file together with the other problems', async () => {
    const problems = problemsOf({ file: join(dir, 'nope.yaml'), env: { DRIFTWATCH_PORT: 'abc' } });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/cannot read \(ENOENT\)/);
    expect(problems[1]).toMatch(/^server\.port: .*\[from DRIFTWATCH_PORT\]$/);
  });

  it('formats the error message as one bullet per problem', async () => {
    try {
      loadConfig({ env: { DRIFTWATCH_PORT: 'abc', DRIFTWATCH_LOG_LEVEL: 'loud' } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const lines = (err as Error).message.split('\n');
      expect(lines[0]).toBe('invalid configuration:');
      expect(lines.slice(1)).toHaveLength(2);
      for (const line of lines.slice(1)) expect(line).toMatch(/^ {2}- \S/);
    }
  });
});
