import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../ports.js';
import { REPO_ROOT } from '../server/process.js';

// There is no container engine here, so this reproduces the Dockerfile instead of building it: every COPY
// from the build context copies the files `git ls-files` names that .dockerignore lets through, into a
// directory standing for the stage's root filesystem; COPY --from copies out of the earlier stage's; every
// RUN runs its `&&` commands there, except the few that only make sense as root in a container (apt-get,
// chown), which are listed and skipped. Then the runtime stage's ENTRYPOINT + CMD starts with the ENV the
// Dockerfile sets (paths under the fake root, a free port) and the HEALTHCHECK command must pass. The
// runtime root holds only what the COPY lines put there, so a file the image needs but does not copy makes
// this fail. What it cannot show: the base image itself, the `node` user's permissions, apt packages.

// ---- Dockerfile parsing ------------------------------------------------------------------------------

interface Instruction {
  op: string;
  args: string;
}

interface Stage {
  name: string;
  base: string;
  steps: Instruction[];
}

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    if (pending !== '' && line.trimStart().startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\S+)\s*(.*)$/s.exec(full);
    if (m?.[1]) out.push({ op: m[1].toUpperCase(), args: (m[2] ?? '').trim() });
  }
  return out;
}

function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions(text)) {
    if (ins.op === 'ARG' && stages.length === 0) {
      const [k, v = ''] = ins.args.split('=', 2);
      if (k) args[k] = v;
    } else if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m?.[1]) throw new Error(`cannot parse FROM ${ins.args}`);
      const base = m[1].replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args[a ?? b] ?? '');
      stages.push({ name: m[2] ?? String(stages.length), base, steps: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`${ins.op} before FROM`);
      stage.steps.push(ins);
    }
  }
  return { args, stages };
}

/** `KEY=value KEY2="v"` (the only ENV form the Dockerfile uses). */
function parseEnv(args: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of args.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
    const [, k, v] = m;
    if (k && v !== undefined) env[k] = v.startsWith('"') ? (JSON.parse(v) as string) : v;
  }
  return env;
}

/** Splits off leading `--flag=value` options. */
function options(args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = args;
  for (;;) {
    const m = /^--([\w-]+)=(\S+)\s+/.exec(rest);
    if (!m?.[1] || m[2] === undefined) break;
    flags[m[1]] = m[2];
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}

function execForm(args: string): string[] {
  const v = JSON.parse(args) as unknown;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new Error(`not exec form: ${args}`);
  return v as string[];
}

// ---- the build context: git ls-files minus .dockerignore ------------------------------------------

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Docker's rules: patterns are relative to the context root (`*.md` is the root's only), a pattern that
 * matches a directory excludes everything under it, `!` re-includes, the last matching pattern wins.
 */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, '')).replace(/\/+$/, '');
      return { negate, re: globToRegExp(pattern) };
    });
  return (path) => {
    const parts = path.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const r of rules) if (prefixes.some((p) => r.re.test(p))) ignored = !r.negate;
    return ignored;
  };
}

function contextFiles(): string[] {
  const ignored = dockerignore(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8'));
  return execFileSync('git', ['ls-files', '-z'], { cwd: REPO_ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '' && existsSync(join(REPO_ROOT, f)) && !ignored(f));
}

// ---- reproducing the stages ------------------------------------------------------------------------

interface BuiltStage {
  root: string;
  workdir: string;
  env: Record<string, string>;
  volumes: string[];
  user: string | undefined;
  entrypoint: string[];
  cmd: string[];
  healthcheck: string[] | undefined;
  skipped: string[];
  ran: string[];
}

/** A container path inside a stage's fake root. */
const under = (root: string, p: string) => join(root, ...p.split('/').filter(Boolean));

/** The environment a step runs with: the host's, without DRIFTWATCH_* (a developer's settings), plus ENV. */
function stepEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DRIFTWATCH_')) out[k] = v;
  return { ...out, ...env };
}

function buildStage(
  stage: Stage,
  root: string,
  earlier: Map<string, BuiltStage>,
  context: string[],
): BuiltStage {
  mkdirSync(root, { recursive: true });
  const s: BuiltStage = {
    root,
    workdir: '/',
    env: {},
    volumes: [],
    user: undefined,
    entrypoint: [],
    cmd: [],
    healthcheck: undefined,
    skipped: [],
    ran: [],
  };
  const abs = (p: string) => (p.startsWith('/') ? p : posix.join(s.workdir, p));
  for (const step of stage.steps) {
    switch (step.op) {
      case 'WORKDIR':
        s.workdir = abs(step.args);
        mkdirSync(under(root, s.workdir), { recursive: true });
        break;
      case 'ENV':
        Object.assign(s.env, parseEnv(step.args));
        break;
      case 'COPY': {
        const { flags, rest } = options(step.args);
        const parts = rest.split(/\s+/);
        const dest = abs(parts.pop() as string);
        const from = flags.from;
        for (const src of parts) {
          if (from !== undefined) {
            const source = earlier.get(from);
            if (!source) throw new Error(`COPY --from=${from}: no such stage`);
            const path = under(source.root, abs(src));
            if (!existsSync(path)) throw new Error(`COPY --from=${from} ${src}: not in that stage`);
            cpSync(path, under(root, dest), { recursive: true, verbatimSymlinks: true });
            continue;
          }
          const name = posix.normalize(src).replace(/\/+$/, '');
          const files = context.filter((f) => f === name || f.startsWith(`${name}/`));
          if (files.length === 0) throw new Error(`COPY ${src}: nothing in the build context`);
          for (const f of files) {
            const target =
              f === name
                ? dest.endsWith('/')
                  ? posix.join(dest, posix.basename(f))
                  : dest
                : posix.join(dest, f.slice(name.length + 1));
            mkdirSync(dirname(under(root, target)), { recursive: true });
            cpSync(join(REPO_ROOT, f), under(root, target));
          }
        }
        break;
      }
      case 'RUN':
        for (const command of step.args.split(/\s*&&\s*/)) {
          if (/^(apt-get|rm -rf \/var\/lib\/apt\/lists)/.test(command) || command.startsWith('chown ')) {
            s.skipped.push(command);
          } else if (/^mkdir -p (\/\S+\s*)+$/.test(command)) {
            for (const p of command.split(/\s+/).slice(2)) mkdirSync(under(root, p), { recursive: true });
            s.ran.push(command);
          } else if (/(^|\s)\/[a-z]/.test(command)) {
            throw new Error(`RUN ${command}: an absolute path this test cannot map into the fake root`);
          } else {
            const run = spawnSync('sh', ['-c', command], {
              cwd: under(root, s.workdir),
              env: stepEnv(s.env),
              encoding: 'utf8',
              maxBuffer: 64 * 1024 * 1024,
            });
            if (run.status !== 0)
              throw new Error(`RUN ${command} failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
            s.ran.push(command);
          }
        }
        break;
      case 'VOLUME':
        s.volumes.push(...execForm(step.args));
        break;
      case 'USER':
        s.user = step.args;
        break;
      case 'ENTRYPOINT':
        s.entrypoint = execForm(step.args);
        break;
      case 'CMD':
        s.cmd = execForm(step.args);
        break;
      case 'HEALTHCHECK': {
        const m = /^(?:--\S+\s+)*CMD\s+(\[.*\])$/s.exec(step.args);
        if (!m?.[1]) throw new Error(`HEALTHCHECK: expected the exec form, got ${step.args}`);
        s.healthcheck = execForm(m[1]);
        break;
      }
      case 'EXPOSE':
        break;
      default:
        throw new Error(`${step.op}: not reproduced by this test`);
    }
  }
  return s;
}

// ---- the test ----------------------------------------------------------------------------------------

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const parsed = parseDockerfile(dockerfile);

interface Started {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

function start(runtime: BuiltStage, env: Record<string, string>): Started {
  const [cmd, ...args] = [...runtime.entrypoint, ...runtime.cmd];
  const child = spawn(cmd === 'node' ? process.execPath : (cmd as string), args, {
    cwd: under(runtime.root, runtime.workdir),
    env: stepEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const exited = new Promise<number | null>((done) => child.once('close', (code) => done(code)));
  return { child, out: () => out, exited };
}

async function untilListening(p: Started): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!p.out().includes('"msg":"driftwatch listening"')) {
    if (p.child.exitCode !== null) throw new Error(`exited before listening:\n${p.out()}`);
    if (Date.now() > deadline) throw new Error(`not listening after 60 s:\n${p.out()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function untilReady(url: string): Promise<Response> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(url).catch(() => null);
    if (res?.status === 200 || Date.now() > deadline) return res ?? new Response(null, { status: 599 });
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('the Dockerfile', () => {
  it('pins its Node base image to a release, and the stages are the ones reproduced below', () => {
    expect(parsed.stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    for (const s of parsed.stages)
      expect(s.base).toMatch(/^node:\d+\.\d+\.\d+-[a-z]+(-slim)?(@sha256:[0-9a-f]{64})?$/);
    // The native addons npm installs below are built for the host's Node ABI; the image's must be the same.
    const major = /^node:(\d+)\./.exec(parsed.stages[1]?.base ?? '')?.[1];
    expect(`v${major}`).toBe(process.version.split('.')[0]);
  });
});

describe('the Dockerfile reproduced on a clean copy of the repository', () => {
  let work = '';
  let runtime: BuiltStage;
  let build: BuiltStage;
  const running: Started[] = [];

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'driftwatch-image-'));
    // Nothing above the fake roots may supply modules: Node would find them walking up from /app.
    for (let d = work; d !== dirname(d); d = dirname(d))
      expect(existsSync(join(d, 'node_modules')), `${d}${sep}node_modules`).toBe(false);
    const context = contextFiles();
    const stages = new Map<string, BuiltStage>();
    for (const stage of parsed.stages)
      stages.set(stage.name, buildStage(stage, join(work, stage.name), stages, context));
    build = stages.get('build') as BuiltStage;
    runtime = stages.get('runtime') as BuiltStage;
  }, 600_000);

  afterAll(async () => {
    for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await Promise.all(running.map((p) => p.exited));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ran the build steps, skipping only apt-get and chown', () => {
    expect(build.ran).toEqual([
      expect.stringMatching(/^npm ci /),
      expect.stringMatching(/^npm rebuild /),
      'npm run build',
      expect.stringMatching(/^npm prune --omit=dev/),
    ]);
    expect(build.skipped.every((c) => /^(apt-get|rm -rf \/var\/lib\/apt)/.test(c))).toBe(true);
    // The runtime stage installs a font (for the PNG charts of email reports) and owns the data volume.
    expect(runtime.skipped).toEqual([
      'apt-get update',
      expect.stringMatching(/^apt-get install -y --no-install-recommends fonts-dejavu-core$/),
      'rm -rf /var/lib/apt/lists/*',
      expect.stringMatching(/^chown /),
    ]);
  });

  it('keeps production dependencies only, with the native binaries', () => {
    const nm = under(runtime.root, '/app/node_modules');
    for (const dev of ['typescript', 'vitest', 'tsx', '@biomejs/biome', 'drizzle-kit'])
      expect(existsSync(join(nm, dev)), dev).toBe(false);
    expect(existsSync(join(nm, 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'))).toBe(true);
    expect(existsSync(join(nm, 'onnxruntime-node', 'bin', 'napi-v6', 'linux', process.arch))).toBe(true);
    for (const p of ['/app/dist/main.js', '/app/bin/driftwatch.js', '/app/drizzle', '/app/models/weather'])
      expect(existsSync(under(runtime.root, p)), p).toBe(true);
    // The source and the build tooling stay in the build stage.
    expect(existsSync(under(runtime.root, '/app/src'))).toBe(false);
    expect(readFileSync(join(REPO_ROOT, '.npmrc'), 'utf8')).toMatch(/^onnxruntime-node-install=skip$/m);
  });

  it('runs as a non-root user with the SQLite file on a volume', () => {
    expect(runtime.user).toBeDefined();
    expect(['root', '0']).not.toContain(runtime.user);
    const db = runtime.env.DRIFTWATCH_DB as string;
    expect(runtime.volumes.some((v) => db.startsWith(`${v}/`))).toBe(true);
    expect(statSync(under(runtime.root, posix.dirname(db))).isDirectory()).toBe(true);
    expect(runtime.healthcheck?.join(' ')).toContain('/healthz');
  });

  // The container's ENV, with its absolute paths under the fake root and a port that is free here.
  async function containerEnv(): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(runtime.env)) env[k] = v.startsWith('/') ? under(runtime.root, v) : v;
    env.DRIFTWATCH_PORT = String(await freePort());
    return env;
  }

  it('refuses to start on 0.0.0.0 without auth tokens', async () => {
    expect(runtime.env.DRIFTWATCH_HOST).toBe('0.0.0.0');
    const p = start(runtime, await containerEnv());
    running.push(p);
    expect(await p.exited).not.toBe(0);
    expect(p.out()).toContain('refusing to listen on 0.0.0.0 with no auth tokens configured');
  });

  it('starts with a mounted config holding tokens: the HEALTHCHECK passes, /readyz is 200, the demo model predicts', async () => {
    const token = randomBytes(24).toString('hex');
    const config = join(work, 'driftwatch.yaml');
    writeFileSync(
      config,
      `auth:\n  tokens:\n    - { name: model, role: ingest, sha256: ${createHash('sha256').update(token).digest('hex')} }\n`,
    );
    const env: Record<string, string> = { ...(await containerEnv()), DRIFTWATCH_CONFIG: config };
    const p = start(runtime, env);
    running.push(p);
    await untilListening(p);
    const base = `http://127.0.0.1:${env.DRIFTWATCH_PORT}`;

    const ready = await untilReady(`${base}/readyz`);
    expect(ready.status, p.out()).toBe(200);
    expect(existsSync(env.DRIFTWATCH_DB as string)).toBe(true);

    const [hcCmd, ...hcArgs] = runtime.healthcheck as string[];
    const healthcheck = () =>
      spawnSync(hcCmd === 'node' ? process.execPath : (hcCmd as string), hcArgs, {
        env: stepEnv(env),
        timeout: 3_000,
      }).status;
    expect(healthcheck()).toBe(0);

    const predict = () =>
      fetch(`${base}/v1/models/weather/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ features: { precipitation: 0, temp_max: 25, temp_min: 12, wind: 3 } }),
      });
    let res = await predict();
    // The demo model's versions are registered at start-up; its model process may still be loading.
    for (let i = 0; i < 100 && res.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 200));
      res = await predict();
    }
    const body = (await res.json()) as { model: string; predictions: { label: string }[] };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.model).toBe('weather');
    expect(['drizzle', 'fog', 'rain', 'snow', 'sun']).toContain(body.predictions[0]?.label);

    // SIGTERM (docker stop): a clean exit, after which the HEALTHCHECK fails.
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(healthcheck()).not.toBe(0);
  }, 120_000);
});
