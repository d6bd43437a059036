import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALERT_KINDS, ALERT_RULES, criticalAt, ladderSeverity, ladderText } from '../../src/rules/alerts.js';

// The alert rulebook is the one place a rule is written: these check that the README's table says what
// the rulebook says, and that the ladder behaves as its words claim.

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The README's "Alert policy" table: kind → "fires when" cell. */
function readmeTable(): Map<string, string> {
  const section = README.split('## Alert policy')[1]?.split('\n## ')[0] ?? '';
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const m = /^\| `([a-z_]+)` \| (.*) \|$/.exec(line);
    if (m?.[1] && m[2] !== undefined) rows.set(m[1], m[2]);
  }
  return rows;
}

describe('the alert rulebook', () => {
  it('has one rule per kind, and the README table says what each rule says', () => {
    expect(Object.keys(ALERT_RULES).sort()).toEqual([...ALERT_KINDS].sort());
    const table = readmeTable();
    expect([...table.keys()].sort()).toEqual([...ALERT_KINDS].sort());
    for (const kind of ALERT_KINDS) expect(table.get(kind), kind).toBe(ALERT_RULES[kind].fires);
  });

  it('escalates by the ladder, capped: an error rate can be critical however high its threshold', () => {
    expect(ladderSeverity('latency', 99, 100)).toBeNull();
    expect(ladderSeverity('latency', 100, 100)).toBe('warning');
    expect(ladderSeverity('latency', 200, 100)).toBe('critical');
    expect(ladderSeverity('error_rate', 0.9, 0.6)).toBe('warning');
    expect(ladderSeverity('error_rate', 1, 0.6)).toBe('critical');
    expect(ladderSeverity('data_quality', 0.19, 0.05)).toBe('warning');
    expect(ladderSeverity('data_quality', 0.2, 0.05)).toBe('critical');
    const errorLadder = ALERT_RULES.error_rate.ladder;
    if (!errorLadder) throw new Error('error_rate has a ladder');
    expect(criticalAt(errorLadder, 0.6)).toBe(1);
    expect(() => ladderSeverity('drift', 1, 0.1)).toThrow(/drift verdict/);
  });

  it('writes the ladder in words with the critical value it really uses', () => {
    const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
    expect(ladderText('error_rate', 0.6, pct)).toBe('fires at ≥ 60%, critical at ≥ 100%');
    expect(ladderText('error_rate', 0.05, pct)).toBe('fires at ≥ 5%, critical at ≥ 10%');
    expect(ladderText('latency', 250, (v) => `${v} ms`)).toBe('fires at ≥ 250 ms, critical at ≥ 500 ms');
    expect(ladderText('drift', 0.1, pct)).toBe(ALERT_RULES.drift.fires);
  });
});
