import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/index.js';
import { checkExposure, StartupRefused } from '../../src/server.js';
import { AUTH_CONFIG } from '../alerts/helpers.js';

// An open API is fine for a loopback sidecar, refused on a network address unless explicitly insecure.

function logger() {
  const warnings: string[] = [];
  return { warnings, log: { warn: (msg: string) => warnings.push(msg) } };
}

describe('checkExposure', () => {
  it.each([
    '0.0.0.0',
    '::',
    '10.1.2.3',
    '192.168.0.10',
    'driftwatch.internal',
    '127.example.com',
    '::ffff:10.0.0.1',
  ])('refuses %s without tokens unless insecure', (host) => {
    const config = defaultConfig({ server: { host } });
    const a = logger();
    expect(() => checkExposure(config, false, a.log)).toThrow(StartupRefused);
    expect(() => checkExposure(config, false, a.log)).toThrow(/auth\.tokens/);
    const b = logger();
    expect(() => checkExposure(config, true, b.log)).not.toThrow();
    expect(b.warnings.join('\n')).toContain('--insecure');
  });

  it.each(['127.0.0.1', '127.0.0.2', '::1', 'localhost'])(
    'allows an open API on loopback %s, with a warning',
    (host) => {
      const a = logger();
      expect(() => checkExposure(defaultConfig({ server: { host } }), false, a.log)).not.toThrow();
      expect(a.warnings).toHaveLength(1);
    },
  );

  it('starts quietly on any address once tokens are configured', async () => {
    for (const host of ['0.0.0.0', '127.0.0.1']) {
      const a = logger();
      expect(() =>
        checkExposure(defaultConfig({ ...AUTH_CONFIG, server: { host } }), false, a.log),
      ).not.toThrow();
      expect(a.warnings).toEqual([]);
    }
  });
});
