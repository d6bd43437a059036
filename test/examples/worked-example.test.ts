import { readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  killAll,
  REPO_ROOT,
  type Run,
  runToEnd,
  type ServerProcess,
  startServerProcess,
  withoutDriftwatchEnv,
} from '../server/process.js';
import { tempDir } from '../support.js';

// The README's "Worked example: from CSV to drift result", run as written against a server started the way
// `npm start` starts one (cwd the repository, so it serves ./models): the shell block in a temp directory,
// with `npx driftwatch` run from source and the port changed, must print the output block the README shows.

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const start = README.indexOf('### Worked example: from CSV to drift result');
const section = README.slice(start, README.indexOf('\n### ', start + 1));
const blocks = [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map(([, lang, body]) => ({
  lang,
  body: body as string,
}));
const script = blocks.find((b) => b.lang === 'sh')?.body ?? '';
const output = blocks.find((b) => b.lang === '')?.body ?? '';

const trimLines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .trim();

/** The block under bash in `cwd`: `npx driftwatch` is the CLI from source, talking to `port` (its default URL). */
function runBlock(cwd: string, port: number): Promise<Run> {
  const prelude = [
    'set -euo pipefail',
    `npx() { if [ "$1" = driftwatch ]; then shift; node --import tsx ${JSON.stringify(join(REPO_ROOT, 'src/main.ts'))} "$@"; else command npx "$@"; fi; }`,
  ].join('\n');
  return runToEnd('bash', ['-c', `${prelude}\n${script.replaceAll('localhost:8080', `127.0.0.1:${port}`)}`], {
    cwd,
    env: { ...withoutDriftwatchEnv(), DRIFTWATCH_PORT: String(port) },
  });
}

describe('README worked example', () => {
  let dir: string;
  let cleanup: () => void;
  let server: ServerProcess;
  beforeAll(async () => {
    ({ dir, cleanup } = tempDir());
    // The block reads the data set from ./node_modules, as in a clone.
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
    server = await startServerProcess(join(dir, 'dw.db'));
  });
  afterAll(async () => {
    await killAll();
    cleanup();
  });

  it('has a shell block and its output', () => {
    expect(script).toContain('npx driftwatch baseline create');
    expect(script).toContain('npx driftwatch drift run');
    expect(output).toMatch(/^\S+ v1 {2}baseline \d+ /);
  });

  it('names one model, not a model the server serves', async () => {
    const names = new Set(
      [...script.matchAll(/--model (\S+)|model:"([^"]+)"/g)].map(([, flag, json]) => flag ?? json),
    );
    expect(names.size).toBe(1);
    const [model] = [...names] as [string];
    const served = readdirSync(join(REPO_ROOT, 'models'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(served.length).toBeGreaterThan(0);
    expect(served).not.toContain(model);
    const versions = await fetch(server.url(`/v1/models/${encodeURIComponent(model)}/versions`));
    expect(versions.status).toBe(404);
  });

  it('prints what the README shows', async () => {
    const run = await runBlock(dir, server.port);
    expect(run.code, run.stderr).toBe(0);
    // The ingest answer the block shows as a comment, then the drift table.
    const answer = /# → (\{.*\})/.exec(script)?.[1];
    expect(answer).toBeDefined();
    expect(run.stdout).toContain(answer);
    expect(trimLines(run.stdout).endsWith(trimLines(output)), run.stdout).toBe(true);
  }, 120_000);
});
