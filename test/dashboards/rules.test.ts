// dashboards/prometheus/rules.yml passes `promtool check rules`, its unit tests pass `promtool test rules`,
// and every alert has a for:, a severity and both annotations, with a firing and a not-firing test case.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { alertRules, prometheusBinaries, RULE_TESTS, RULES } from './prometheus.js';

const ALERTS = [
  'DriftDetected',
  'IngestStalled',
  'ModelErrorRateHigh',
  'ModelLatencyP95High',
  'DriftJobFailing',
  'NoJobLeader',
  'NotificationsFailing',
];

function promtool(args: string[]): string {
  const { promtool } = prometheusBinaries();
  try {
    return execFileSync(promtool, args, { encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

describe('alert rules', () => {
  it('promtool check rules passes', () => {
    expect(promtool(['check', 'rules', RULES])).toContain(`SUCCESS: ${ALERTS.length} rules found`);
  });

  it('promtool test rules passes', () => {
    expect(promtool(['test', 'rules', RULE_TESTS])).toContain('SUCCESS');
  });

  it('are the documented alerts, each with for:, severity and summary/description', () => {
    const rules = alertRules();
    expect(rules.map((r) => r.alert)).toEqual(ALERTS);
    for (const r of rules) {
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
    }
  });

  it('each alert has a unit test where it fires and one where it does not', () => {
    const doc = parse(readFileSync(RULE_TESTS, 'utf8')) as {
      rule_files: string[];
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    expect(doc.rule_files).toEqual(['rules.yml']);
    const cases = doc.tests.flatMap((t) => t.alert_rule_test);
    for (const alert of ALERTS) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect(
        mine.some((c) => c.exp_alerts.length > 0),
        `${alert} fires`,
      ).toBe(true);
      expect(
        mine.some((c) => c.exp_alerts.length === 0),
        `${alert} does not fire`,
      ).toBe(true);
    }
  });

  it('promtool test rules fails when a rule is wrong (the tests do test something)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'driftwatch-rules-'));
    try {
      copyFileSync(RULE_TESTS, join(dir, 'rules.test.yml'));
      // DriftJobFailing with a threshold of an hour instead of 15 minutes
      const broken = readFileSync(RULES, 'utf8').replace('> 900', '> 3600');
      expect(broken).not.toBe(readFileSync(RULES, 'utf8'));
      writeFileSync(join(dir, 'rules.yml'), broken);
      expect(() => promtool(['test', 'rules', join(dir, 'rules.test.yml')])).toThrow(/DriftJobFailing/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('NoJobLeader fires only on a fleet without a leader (its unit test fails for a rule that never fires)', () => {
    const rule = alertRules().find((r) => r.alert === 'NoJobLeader');
    expect(rule?.expr.trim()).toBe('sum(driftwatch_leader) == 0');
    const dir = mkdtempSync(join(tmpdir(), 'driftwatch-rules-'));
    try {
      copyFileSync(RULE_TESTS, join(dir, 'rules.test.yml'));
      // A leader count compared the wrong way round: never fires on a leaderless fleet.
      const broken = readFileSync(RULES, 'utf8').replace(
        'sum(driftwatch_leader) == 0',
        'sum(driftwatch_leader) < 0',
      );
      expect(broken).not.toBe(readFileSync(RULES, 'utf8'));
      writeFileSync(join(dir, 'rules.yml'), broken);
      expect(() => promtool(['test', 'rules', join(dir, 'rules.test.yml')])).toThrow(/NoJobLeader/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
