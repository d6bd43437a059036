import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { configProblems, tempDir } from '../support.js';

function configFile(content: unknown): string {
  const { dir, cleanup } = tempDir();
  onTestFinished(cleanup);
  const file = join(dir, 'driftwatch.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
}

const valid = { url: 'nats://127.0.0.1:4222', stream: 'LOGS', subjects: ['logs.>'], durable: 'driftwatch' };

describe('sources.nats config', () => {
  it('fills the defaults and names a source after its durable', () => {
    const config = loadConfig({ file: configFile({ sources: { nats: [valid] } }), env: {} });
    expect(config.sources.nats).toEqual([
      {
        ...valid,
        name: 'driftwatch',
        batch: 500,
        batchBytes: 4 * 1024 * 1024,
        maxMessageBytes: 1024 * 1024,
        ackWait: 30_000,
        createStream: true,
      },
    ]);
    expect(loadConfig({ env: {} }).sources.nats).toEqual([]);
  });

  it('refuses a bad source at start, naming each field and the reason', () => {
    const file = configFile({
      sources: {
        nats: [
          {
            url: 'http://127.0.0.1:4222',
            stream: 'logs.all',
            subjects: [],
            durable: 'has space',
            batch: 0,
            maxMessageBytes: '2MiB',
            batchBytes: '1MiB',
            ackWait: '1s',
            colour: 'blue',
          },
        ],
      },
    });
    const problems = configProblems({ file, env: {} });
    const about = (field: string) => problems.filter((p) => p.startsWith(`sources.nats.0.${field}:`));
    expect(about('url')[0]).toMatch(/expected a nats:\/\/ or tls:\/\/ URL/);
    expect(about('stream')[0]).toMatch(/may not contain whitespace, "\."/);
    expect(about('subjects')[0]).toMatch(/give at least one subject/);
    expect(about('durable')[0]).toMatch(/may not contain whitespace/);
    expect(about('batch')[0]).toMatch(/>=1/);
    expect(about('ackWait')[0]).toMatch(/at least 2s/);
    expect(about('colour')[0]).toMatch(/unknown key/);
    for (const p of problems) expect(p).toContain(`[from config file ${file}]`);
  });

  it('refuses a fetch smaller than the largest message, and two sources with one name', () => {
    const small = configProblems({
      file: configFile({ sources: { nats: [{ ...valid, maxMessageBytes: '2MiB', batchBytes: '1MiB' }] } }),
      env: {},
    });
    expect(small).toEqual([
      expect.stringMatching(
        /^sources\.nats\.0\.batchBytes: must be at least maxMessageBytes \(2097152 bytes\)/,
      ),
    ]);
    const twice = configProblems({
      file: configFile({ sources: { nats: [valid, { ...valid, stream: 'OTHER' }] } }),
      env: {},
    });
    expect(twice).toEqual([
      expect.stringMatching(/^sources\.nats\.1\.name: source driftwatch is named twice/),
    ]);
  });
});
