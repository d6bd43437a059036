#!/usr/bin/env node
// @ts-check
// `npm run build`: compiles src/ into dist/ with tsc and, when that succeeds, writes dist/.build-stamp so
// `npm start` (scripts/start.mjs) can tell whether dist/ is current without compiling again.
//
// The stamp records the build's inputs (src/**/*.ts, .tsx and the configs) with the mtime and size each had
// when the build started. dist/ is stale when the stamp is missing, an input was added or removed, or an
// input's mtime or size differs from the recorded one — so an edit saved while tsc was running, or a file
// restored with an older mtime, counts as a change, and the system clock plays no part.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const STAMP = join('dist', '.build-stamp');
export const MAIN = join('dist', 'main.js');
const CONFIG_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];

/**
 * The files a build reads, relative to root with `/` separators, sorted: src/**\/*.ts and the configs.
 * @param {string} root
 */
export function buildInputs(root) {
  const src = join(root, 'src');
  const sources = existsSync(src)
    ? readdirSync(src, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && /\.tsx?$/.test(e.name))
        .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join('/'))
    : [];
  return [...sources, ...CONFIG_FILES.filter((f) => existsSync(join(root, f)))].sort();
}

/**
 * The mtime and size of each input, as the stamp records them.
 * @param {string} root
 * @param {string[]} inputs
 * @returns {Record<string, [number, number]>}
 */
function snapshot(root, inputs) {
  /** @type {Record<string, [number, number]>} */
  const out = {};
  for (const f of inputs) {
    const st = statSync(join(root, f));
    out[f] = [st.mtimeMs, st.size];
  }
  return out;
}

/**
 * Why dist/ must be rebuilt, or null when it is current.
 * @param {string} root
 * @returns {string | null}
 */
export function staleReason(root) {
  const stampPath = join(root, STAMP);
  if (!existsSync(join(root, MAIN))) return `${MAIN} does not exist`;
  if (!existsSync(stampPath)) return `${STAMP} does not exist (dist/ was not built by npm run build)`;
  /** @type {Record<string, [number, number]>} */
  let recorded;
  try {
    recorded = JSON.parse(readFileSync(stampPath, 'utf8')).inputs;
    if (typeof recorded !== 'object' || recorded === null || Array.isArray(recorded))
      throw new Error('no inputs');
  } catch {
    return `${STAMP} is unreadable`;
  }
  const inputs = buildInputs(root);
  const added = inputs.filter((f) => !Object.hasOwn(recorded, f));
  const removed = Object.keys(recorded).filter((f) => !inputs.includes(f));
  if (added.length > 0 || removed.length > 0) {
    return `inputs changed (${[...added.map((f) => `+${f}`), ...removed.map((f) => `-${f}`)].join(', ')})`;
  }
  const now = snapshot(root, inputs);
  const changed = inputs.filter((f) => String(now[f]) !== String(recorded[f]));
  if (changed.length > 0) {
    return `changed since the last build: ${changed.slice(0, 3).join(', ')}${changed.length > 3 ? ` and ${changed.length - 3} more` : ''}`;
  }
  return null;
}

/**
 * Runs tsc -p tsconfig.build.json in root; on success writes the stamp. Returns tsc's exit status.
 * @param {string} root
 */
export function build(root) {
  // Taken before tsc reads anything: an input saved during the build no longer matches it.
  const inputs = snapshot(root, buildInputs(root));
  const builtAt = new Date().toISOString();
  // tsc from the project's own node_modules, run by this Node, as `npm run build` would find it.
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const run = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (run.error) throw run.error;
  const status = run.status ?? 1;
  if (status !== 0) return status;
  writeFileSync(join(root, STAMP), `${JSON.stringify({ builtAt, inputs }, null, 1)}\n`);
  return 0;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = build(ROOT);
}
