import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../support.js';
import { killAll, startServerProcess } from './process.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(async () => {
  await killAll();
  cleanup();
});

describe('clients that start a request and go quiet', () => {
  it('lose their in-flight slot after server.requestTimeoutMs, so ingest is served again', {
    timeout: 60_000,
  }, async () => {
    const configFile = join(dir, 'driftwatch.json');
    writeFileSync(configFile, JSON.stringify({ server: { requestTimeoutMs: 1500, maxIngestInFlight: 2 } }));
    const server = await startServerProcess(join(dir, 'driftwatch.db'), { DRIFTWATCH_CONFIG: configFile });
    const ingest = () =>
      fetch(server.url('/v1/ingest'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ model: 'm', request_id: `r-${Math.random()}`, features: {} }]),
      });
    // Two connections send the headers and the start of a body, then nothing: both ingest slots are taken.
    const quiet: Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const socket = connect(server.port, '127.0.0.1');
      socket.on('error', () => undefined);
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(
        'POST /v1/ingest HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n[',
      );
      quiet.push(socket);
    }
    // Once the server has taken both requests in, ingest is refused (waiting for that, not a fixed time).
    let refused = await ingest();
    for (const until = Date.now() + 10_000; refused.status !== 503 && Date.now() < until; )
      refused = await ingest();
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    // Once the request timeout has passed, the server drops them and ingest works again.
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await ingest()).status;
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(status).toBe(200);
    for (const s of quiet) s.destroy();
  });
});
