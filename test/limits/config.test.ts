import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, loadConfig } from '../../src/config/index.js';
import { configFile, configProblems, tempDir } from '../support.js';

// Receiver URLs are http(s) without credentials, and a config with several problems lists all of them,
// including threshold pairs checked across fields.

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

const file = (text: string) => configFile(dir, text);

const channel = (url: string) =>
  `notifications:\n  channels:\n    - { name: hook, type: webhook, url: "${url}" }\n`;

describe('notification URLs', () => {
  it.each([
    ['file:///etc/passwd', 'expected an http:// or https:// URL, got file:'],
    ['data:text/plain,hello', 'expected an http:// or https:// URL, got data:'],
    ['javascript:alert(1)', 'expected an http:// or https:// URL, got javascript:'],
    ['ftp://files.internal/hook', 'expected an http:// or https:// URL, got ftp:'],
    ['https://user:pass@hooks.internal/x', 'must not contain a user name or password (user:password@host)'],
    ['http://token@hooks.internal/x', 'must not contain a user name or password (user:password@host)'],
    ['not a url', 'expected an http:// or https:// URL'],
  ])('a channel url %s is refused at start-up', (url, message) => {
    const path = file(channel(url));
    expect(configProblems({ file: path, env: {} })).toEqual([
      `notifications.channels.0.url: ${message} [from config file ${path}]`,
    ]);
  });

  it.each([
    ['data:text/html,<h1>hi</h1>', 'expected an http:// or https:// URL, got data:'],
    [
      'https://admin:secret@driftwatch.internal',
      'must not contain a user name or password (user:password@host)',
    ],
  ])('notifications.externalUrl %s is refused', (url, message) => {
    const path = file(`notifications:\n  externalUrl: "${url}"\n`);
    expect(configProblems({ file: path, env: {} })).toEqual([
      `notifications.externalUrl: ${message} [from config file ${path}]`,
    ]);
  });

  it('lists every bad URL at once', async () => {
    const path = file(
      'notifications:\n  externalUrl: "file:///x"\n  channels:\n' +
        '    - { name: a, type: webhook, url: "data:," }\n' +
        '    - { name: b, type: slack, url: "https://hooks.slack.com/services/T/B/x" }\n' +
        '    - { name: c, type: alertmanager, url: "http://u:p@alertmanager:9093" }\n',
    );
    expect(configProblems({ file: path, env: {} }).map((p) => p.split(':')[0])).toEqual([
      'notifications.channels.0.url',
      'notifications.channels.2.url',
      'notifications.externalUrl',
    ]);
  });

  it('accepts http and https URLs, with ports, paths and queries', async () => {
    const path = file(
      'notifications:\n  externalUrl: "https://driftwatch.internal/ui"\n  channels:\n' +
        '    - { name: a, type: webhook, url: "https://ml-platform.internal/driftwatch?team=ml" }\n' +
        '    - { name: b, type: alertmanager, url: "http://alertmanager:9093" }\n',
    );
    const config = loadConfig({ file: path, env: {} });
    expect(config.notifications.channels.map((c) => c.url)).toEqual([
      'https://ml-platform.internal/driftwatch?team=ml',
      'http://alertmanager:9093',
    ]);
    expect(config.notifications.externalUrl).toBe('https://driftwatch.internal/ui');
  });
});

describe('every problem at once', () => {
  it('a bad drift.bucket no longer hides psiCritical < psiWarning', async () => {
    const path = file('drift:\n  bucket: soon\n  psiWarning: 0.3\n  psiCritical: 0.2\n');
    expect(configProblems({ file: path, env: {} })).toEqual([
      `drift.bucket: expected a duration like 15m, 1h or 7d, got "soon" [from config file ${path}]`,
      `drift.psiCritical: psiCritical must be at least psiWarning [from config file ${path}]`,
    ]);
  });

  it('merged thresholds are checked while other sections are broken too', async () => {
    const path = file(
      'server:\n  port: high\n' +
        'drift:\n  psiWarning: 0.2\n' +
        'models:\n  m:\n    bucket: 0s\n    psiCritical: 0.15\n    features:\n      f:\n        psiWarning: 0.5\n        alpha: 2\n',
    );
    const problems = configProblems({ file: path, env: { DRIFTWATCH_LOG_LEVEL: 'loud' } });
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      'server.port',
      'models.m.bucket',
      'models.m.features.f.alpha',
      'log.level',
      'models.m',
      'models.m.features.f',
    ]);
    expect(problems).toContain(
      'models.m: psiCritical 0.15 is below psiWarning 0.2 once merged with the levels above',
    );
    expect(problems).toContain(
      'models.m.features.f: psiCritical 0.15 is below psiWarning 0.5 once merged with the levels above',
    );
  });

  it('a threshold the schema refuses is reported once, not compared with a guess', async () => {
    const path = file('drift:\n  psiWarning: -1\n  psiCritical: 0.05\nmodels:\n  m:\n    psiWarning: 0.2\n');
    expect(configProblems({ file: path, env: {} })).toEqual([
      `drift.psiWarning: Too small: expected number to be >0 [from config file ${path}]`,
      // The valid critical value of drift still reaches the model below it.
      'models.m: psiCritical 0.05 is below psiWarning 0.2 once merged with the levels above',
    ]);
  });

  it('defaultConfig refuses inconsistent thresholds as well', async () => {
    expect(() => defaultConfig({ drift: { psiWarning: 0.4, psiCritical: 0.3 } })).toThrow(ConfigError);
    expect(defaultConfig({ drift: { psiWarning: 0.2, psiCritical: 0.3 } }).drift.psiCritical).toBe(0.3);
  });
});
