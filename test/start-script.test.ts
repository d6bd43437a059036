import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildInputs } from '../scripts/build.mjs';
import { REPO_ROOT } from './server/process.js';
import { tempDir } from './support.js';

// scripts/start.mjs and scripts/build.mjs run in a copy of the project layout whose "tsc" is a stub that
// logs each call and writes a dist/main.js printing its arguments, so a build is seen, not timed.

const FAKE_TSC = `
const { appendFileSync, existsSync, mkdirSync, utimesSync, writeFileSync } = require('node:fs');
appendFileSync('build.log', process.argv.slice(2).join(' ') + '\\n');
if (existsSync('fail-build')) { console.error('src/a.ts(1,1): error TS1005'); process.exit(2); }
if (existsSync('edit-during-build')) { const now = new Date(); utimesSync('src/a.ts', now, now); }
mkdirSync('dist', { recursive: true });
writeFileSync('dist/main.js', 'console.log("main " + JSON.stringify(process.argv.slice(2)));\\n');
`;

let root = '';
let cleanup = () => {};

beforeEach(() => {
  ({ dir: root, cleanup } = tempDir());
  mkdirSync(join(root, 'scripts'));
  for (const f of ['start.mjs', 'build.mjs'])
    copyFileSync(join(REPO_ROOT, 'scripts', f), join(root, 'scripts', f));
  mkdirSync(join(root, 'src', 'sub'), { recursive: true });
  writeFileSync(join(root, 'src', 'a.ts'), 'export const a = 1;\n');
  writeFileSync(join(root, 'src', 'sub', 'b.ts'), 'export const b = 2;\n');
  writeFileSync(join(root, 'src', 'notes.md'), 'not a build input\n');
  writeFileSync(join(root, 'package.json'), '{"type":"module"}\n');
  writeFileSync(join(root, 'tsconfig.json'), '{}\n');
  writeFileSync(join(root, 'tsconfig.build.json'), '{"extends":"./tsconfig.json"}\n');
  const tsc = join(root, 'node_modules', 'typescript');
  mkdirSync(join(tsc, 'bin'), { recursive: true });
  writeFileSync(join(tsc, 'package.json'), '{"type":"commonjs"}\n');
  writeFileSync(join(tsc, 'bin', 'tsc'), FAKE_TSC);
  // Every input starts well in the past, as after a checkout some time ago.
  for (const f of buildInputs(root)) setMtime(f, Date.now() - 3_600_000);
});
afterEach(() => cleanup());

function setMtime(file: string, ms: number) {
  utimesSync(join(root, file), new Date(ms), new Date(ms));
}

const builds = () =>
  existsSync(join(root, 'build.log')) ? readFileSync(join(root, 'build.log'), 'utf8').trim().split('\n') : [];
/** An input saved after the last build (any other mtime counts, earlier ones too). */
const edit = (file: string) => setMtime(file, statSync(join(root, file)).mtimeMs + 1000);

/** `node scripts/start.mjs <args>` from another directory than the project's. */
function start(...args: string[]) {
  const run = spawnSync(process.execPath, [join(root, 'scripts', 'start.mjs'), ...args], {
    cwd: join(root, 'src'),
    encoding: 'utf8',
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('npm start (scripts/start.mjs)', () => {
  it('builds when dist/ is missing, then serves with the given arguments', () => {
    const run = start('--port', '0', '--db', '/tmp/x.db');
    expect(run.status).toBe(0);
    expect(builds()).toEqual(['-p tsconfig.build.json']);
    expect(run.stderr).toContain('building dist/: dist/main.js does not exist');
    expect(run.stdout).toBe('main ["serve","--port","0","--db","/tmp/x.db"]\n');
    const stamp = JSON.parse(readFileSync(join(root, 'dist', '.build-stamp'), 'utf8')) as {
      inputs: Record<string, [number, number]>;
    };
    expect(Object.keys(stamp.inputs)).toEqual([
      'package.json',
      'src/a.ts',
      'src/sub/b.ts',
      'tsconfig.build.json',
      'tsconfig.json',
    ]);
  });

  it('does not rebuild a fresh build, made by start or by npm run build', () => {
    expect(start().status).toBe(0);
    const again = start('--port', '9000');
    expect(again.status).toBe(0);
    expect(again.stderr).toBe('');
    expect(again.stdout).toBe('main ["serve","--port","9000"]\n');
    expect(builds()).toHaveLength(1);

    rmSync(join(root, 'dist'), { recursive: true });
    const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { encoding: 'utf8' });
    expect(build.status).toBe(0);
    expect(builds()).toHaveLength(2);
    expect(start().status).toBe(0);
    expect(builds()).toHaveLength(2);
  });

  it('rebuilds once after a source or a config file changes', () => {
    start();
    edit('src/sub/b.ts');
    const run = start();
    expect(run.stderr).toContain('changed since the last build: src/sub/b.ts');
    expect(run.stdout).toContain('main ["serve"]');
    expect(builds()).toHaveLength(2);
    start();
    expect(builds()).toHaveLength(2);

    edit('tsconfig.build.json');
    expect(start().stderr).toContain('tsconfig.build.json');
    edit('package.json');
    start();
    expect(builds()).toHaveLength(4);

    // A file restored with an older mtime (cp -p, rsync -t) is a change too.
    setMtime('src/a.ts', Date.now() - 7_200_000);
    expect(start().stderr).toContain('changed since the last build: src/a.ts');
    expect(builds()).toHaveLength(5);

    // Files that are not build inputs do not count.
    edit('src/notes.md');
    start();
    expect(builds()).toHaveLength(5);
  });

  it('rebuilds when a source is added or removed, whatever its mtime', () => {
    start();
    writeFileSync(join(root, 'src', 'c.ts'), 'export const c = 3;\n');
    setMtime('src/c.ts', Date.now() - 86_400_000);
    expect(start().stderr).toContain('inputs changed (+src/c.ts)');
    rmSync(join(root, 'src', 'sub', 'b.ts'));
    expect(start().stderr).toContain('inputs changed (-src/sub/b.ts)');
    expect(builds()).toHaveLength(3);
  });

  it('a source saved while tsc runs makes the next start build again', () => {
    writeFileSync(join(root, 'edit-during-build'), '');
    start();
    rmSync(join(root, 'edit-during-build'));
    expect(start().stderr).toContain('changed since the last build: src/a.ts');
    start();
    expect(builds()).toHaveLength(2);
  });

  it('does not start on a failed build, and tries again next time', () => {
    start();
    edit('src/a.ts');
    writeFileSync(join(root, 'fail-build'), '');
    const failed = start();
    expect(failed.status).toBe(2);
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toContain('build failed (tsc exited 2); not starting');
    rmSync(join(root, 'fail-build'));
    const fixed = start();
    expect(fixed.status).toBe(0);
    expect(fixed.stderr).toContain('src/a.ts');
    expect(builds()).toHaveLength(3);
  });

  it("the project's inputs are its sources and configs, and npm start/build use the scripts", () => {
    const inputs = buildInputs(REPO_ROOT);
    expect(inputs).toContain('src/main.ts');
    expect(inputs).toContain('src/stats/ks.ts');
    expect(inputs).toContain('tsconfig.build.json');
    expect(inputs.every((f) => f.startsWith('src/') || !f.includes('/'))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.start).toBe('node scripts/start.mjs');
    expect(pkg.scripts.build).toBe('node scripts/build.mjs');
  });
});
