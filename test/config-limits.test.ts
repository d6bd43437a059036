import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { configFile, configProblems, tempDir } from './support.js';

// Regression tests for the review's config fixes: zero durations and sizes (a 0 ms bucket divides by zero)
// and a critical PSI threshold below the warning one are configuration errors, not silent misbehaviour.

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

const file = (text: string) => configFile(dir, text);

const problemsOf = configProblems;

describe('durations and sizes must be positive', () => {
  it.each([
    ['drift.bucket', 'drift:\n  bucket: 0s\n'],
    ['drift.rollingWindow', 'drift:\n  rollingWindow: 0.0001s\n'],
    ['models.m.bucket', 'models:\n  m:\n    bucket: 0h\n'],
    ['notifications.alertmanagerResend', 'notifications:\n  alertmanagerResend: 0ms\n'],
  ])('%s below 1 ms is an error', (key, yaml) => {
    const path = file(yaml);
    const problems = problemsOf({ file: path, env: {} });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${key.replace(/\./g, '\\.')}: must be at least 1 ms`));
  });

  it.each(['0', '0 kB', '0.5b'])('ingest.bodyLimit "%s" is an error', (limit) => {
    const problems = problemsOf({ file: file(`ingest:\n  bodyLimit: "${limit}"\n`), env: {} });
    expect(problems).toEqual([
      `ingest.bodyLimit: must be at least 1 byte, got "${limit}" [from config file ${dir}/driftwatch.yaml]`,
    ]);
  });

  it('rejects a zero body limit from the environment too', async () => {
    const problems = problemsOf({ env: { DRIFTWATCH_BODY_LIMIT: '0kB' } });
    expect(problems).toEqual([
      'ingest.bodyLimit: must be at least 1 byte, got "0kB" [from DRIFTWATCH_BODY_LIMIT]',
    ]);
  });
});

describe('psiCritical must be at least psiWarning', () => {
  it.each([
    ['drift.psiCritical', 'drift:\n  psiWarning: 0.3\n  psiCritical: 0.2\n'],
    ['models.m.psiCritical', 'models:\n  m:\n    psiWarning: 0.3\n    psiCritical: 0.2\n'],
    [
      'models.m.features.f.psiCritical',
      'models:\n  m:\n    features:\n      f:\n        psiWarning: 0.3\n        psiCritical: 0.2\n',
    ],
  ])('%s below psiWarning is an error', (key, yaml) => {
    const problems = problemsOf({ file: file(yaml), env: {} });
    expect(problems).toEqual([
      `${key}: psiCritical must be at least psiWarning [from config file ${dir}/driftwatch.yaml]`,
    ]);
  });
});

describe('thresholds are checked once the levels are merged', () => {
  it.each([
    [
      'a model critical below the default warning',
      'models:\n  m:\n    psiCritical: 0.05\n',
      'models.m: psiCritical 0.05 is below psiWarning 0.1',
    ],
    [
      'a model critical below the drift warning',
      'drift:\n  psiWarning: 0.3\n  psiCritical: 0.5\nmodels:\n  m:\n    psiCritical: 0.2\n',
      'models.m: psiCritical 0.2 is below psiWarning 0.3',
    ],
    [
      'a feature warning above the model critical',
      'models:\n  m:\n    features:\n      x:\n        psiWarning: 0.5\n',
      'models.m.features.x: psiCritical 0.25 is below psiWarning 0.5',
    ],
  ])('%s is an error', (_name, yaml, message) => {
    const problems = problemsOf({ file: file(yaml), env: {} });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(message);
  });

  it('accepts levels that are consistent after merging', async () => {
    const yaml =
      'drift:\n  psiWarning: 0.2\nmodels:\n  m:\n    psiCritical: 0.4\n    features:\n      x:\n        psiWarning: 0.3\n';
    expect(loadConfig({ file: file(yaml), env: {} }).models.m?.psiCritical).toBe(0.4);
  });
});
