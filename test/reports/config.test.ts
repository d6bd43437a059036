import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, smtpLogin } from '../../src/config/index.js';
import { configFile, tempDir } from '../support.js';

let cleanup: (() => void) | undefined;
afterEach(() => {
  cleanup?.();
  cleanup = undefined;
});

function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const d = tempDir();
  cleanup = d.cleanup;
  return { config: () => loadConfig({ file: configFile(d.dir, yaml), env }), dir: d.dir };
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const VALID = `
reports:
  smtp: { host: mail.internal, port: 587, secure: false, auth: { user: dw, pass_env: DW_SMTP_PASS }, from: driftwatch@example.com }
  schedules:
    - { name: daily, cron: "0 8 * * *", timezone: Europe/Berlin, to: [ml-team@example.com], period: 24h }
`;

describe('reports config', () => {
  it('reads schedules and takes the SMTP password from the environment', () => {
    const config = load(VALID, { DW_SMTP_PASS: 's3cret' }).config();
    expect(config.reports.smtp?.auth?.pass).toBe('s3cret');
    expect(config.reports.schedules[0]).toMatchObject({
      name: 'daily',
      timezone: 'Europe/Berlin',
      period: 86_400_000,
      to: ['ml-team@example.com'],
    });
    expect(config.reports.maxAttempts).toBe(6);
  });

  it('loads without the password variable; asking for the SMTP login names it', () => {
    // Rendering a report to a file needs no password: only what logs in to SMTP asks for it.
    const config = load(VALID).config();
    expect(config.reports.smtp?.auth?.pass).toBeUndefined();
    expect(problems(() => smtpLogin(config))).toEqual([
      expect.stringMatching(
        /^reports\.smtp\.auth\.pass_env: environment variable DW_SMTP_PASS is not set \[from config file .*\]$/,
      ),
    ]);
    expect(smtpLogin(load(VALID, { DW_SMTP_PASS: 's3cret' }).config())).toEqual({
      user: 'dw',
      pass: 's3cret',
    });
  });

  it('reads the password from a file', async () => {
    const { writeFileSync } = await import('node:fs');
    const secrets = tempDir();
    const file = `${secrets.dir}/pass`;
    writeFileSync(file, 'from-file\n');
    try {
      const l = load(VALID.replace('pass_env: DW_SMTP_PASS', `pass_file: ${file}`));
      expect(l.config().reports.smtp?.auth?.pass).toBe('from-file');
      const missing = load(VALID.replace('pass_env: DW_SMTP_PASS', `pass_file: ${file}.nope`)).config();
      expect(problems(() => smtpLogin(missing)).join('\n')).toContain(
        `reports.smtp.auth.pass_file: cannot read ${file}.nope (ENOENT)`,
      );
    } finally {
      secrets.cleanup();
    }
  });

  it('lists every problem at once', () => {
    const bad = `
reports:
  schedules:
    - { name: daily, cron: "0 8 * *", timezone: Mars/Olympus, to: [not-an-address], period: 1 day }
    - { name: daily, cron: "*/5 * * * * *", to: [] }
`;
    const found = problems(load(bad).config).join('\n');
    expect(found).toContain('reports.schedules.0.cron');
    expect(found).toContain('reports.schedules.0.timezone');
    expect(found).toContain('reports.schedules.0.to.0');
    expect(found).toContain('reports.schedules.0.period');
    expect(found).toContain('reports.schedules.1.cron');
    expect(found).toContain('reports.schedules.1.to');
    expect(found).toContain('reports.schedules.1.name: schedule daily is named twice');
    expect(found).toContain('reports.smtp: schedules need an smtp section');
  });

  it('reads the critical-alert mail, with defaults', () => {
    const config = load(`${VALID}  critical: { to: [oncall@example.com], models: [fraud] }\n`, {
      DW_SMTP_PASS: 's3cret',
    }).config();
    expect(config.reports.critical).toEqual({
      to: ['oncall@example.com'],
      models: ['fraud'],
      period: 86_400_000,
      timezone: 'UTC',
    });
  });

  it('names each bad field of the critical-alert mail', () => {
    const bad = `
reports:
  critical: { to: [not-an-address], models: [], period: soon, timezone: Mars/Olympus, cc: [x@example.com] }
  schedules:
    - { name: critical, cron: "0 8 * * *", to: [a@example.com] }
`;
    const found = problems(load(bad).config);
    const text = found.join('\n');
    expect(text).toContain('reports.critical.to.0: expected an email address');
    expect(text).toContain('reports.critical.models');
    expect(text).toContain('reports.critical.period');
    expect(text).toContain('reports.critical.timezone: not a known IANA time zone');
    expect(text).toContain('reports.critical.cc: unknown key');
    expect(text).toContain('reports.schedules.0.name: critical is reserved for the critical-alert mails');
    expect(text).toContain('reports.smtp: critical needs an smtp section to send with');
    const noRecipients = problems(
      load(`${VALID}  critical: { to: [] }\n`, { DW_SMTP_PASS: 's3cret' }).config,
    );
    expect(noRecipients).toEqual([
      expect.stringContaining('reports.critical.to: give at least one recipient'),
    ]);
  });

  it('reserves the channel name email for the deliveries of email reports', () => {
    const bad = `${VALID}notifications:
  channels:
    - { name: email, type: webhook, url: "http://hooks.internal/x" }
`;
    expect(problems(load(bad, { DW_SMTP_PASS: 's3cret' }).config)).toEqual([
      expect.stringContaining(
        'notifications.channels.0.name: email is reserved for the deliveries of email reports',
      ),
    ]);
  });
});
