import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
}

export interface ServerProcess extends CliProcess {
  port: number;
  url(path: string): string;
}

const running = new Set<ChildProcess>();

/** The parent's environment without DRIFTWATCH_* variables, so a developer's settings never leak into a test. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...withoutDriftwatchEnv(), DRIFTWATCH_LOG_LEVEL: 'info', ...extra };
}

/** Runs `driftwatch <args>` from source, the way `npm run dev` does. */
export function runCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<Exit>((done) => {
    child.once('close', (code, signal) => {
      running.delete(child);
      done({ code, signal });
    });
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Parsed JSON log lines written so far. */
export function logLines(text: string): { msg?: string; [key: string]: unknown }[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg?: string });
}

/** What a command printed and how it ended. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` to its end, collecting what it prints; the environment as given (none added). */
export function runToEnd(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<Run> {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** The parent's environment without DRIFTWATCH_* variables (and nothing added). */
export function withoutDriftwatchEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DRIFTWATCH_')) env[k] = v;
  return env;
}

/** Starts `driftwatch serve --port 0 --db <db>` and resolves once it logs the port it listens on. */
export async function startServerProcess(
  db: string,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  return listening(runCli(['serve', '--port', '0', '--db', db], env));
}

/** Resolves once a started `driftwatch serve` logs the port it listens on; rejects if it exits first. */
export async function listening(proc: CliProcess): Promise<ServerProcess> {
  const port = await new Promise<number>((resolvePort, reject) => {
    const guard = setTimeout(
      () => reject(new Error(`server did not start:\n${proc.stdout()}\n${proc.stderr()}`)),
      50_000,
    );
    const check = () => {
      const line = logLines(proc.stdout()).find((l) => l.msg === 'driftwatch listening');
      if (line) {
        clearTimeout(guard);
        resolvePort(line.port as number);
      }
    };
    proc.child.stdout?.on('data', check);
    proc.exited.then((exit) => {
      clearTimeout(guard);
      reject(
        new Error(
          `server exited (${JSON.stringify(exit)}) before listening:\n${proc.stdout()}\n${proc.stderr()}`,
        ),
      );
    });
  });
  return { ...proc, port, url: (path) => `http://127.0.0.1:${port}${path}` };
}

/** SIGKILLs every process these helpers started that is still running; for afterEach. */
export async function killAll(): Promise<void> {
  const waits = [...running].map(
    (child) =>
      new Promise<void>((done) => {
        child.once('close', () => done());
        child.kill('SIGKILL');
      }),
  );
  await Promise.all(waits);
}
