import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../support.js';
import { killAll, logLines, type ServerProcess, startServerProcess } from './process.js';

// The listener as clients meet it: real sockets against `driftwatch serve`, where app.request() cannot tell
// a peer address, a header Node refuses, a body that trickles or a slot held by a half-sent request.

let dir: string;
let cleanup: () => void;
const sockets: Socket[] = [];
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await killAll();
  cleanup();
});

const INGEST_TOKEN = 'ingest-token-0123456789';
const REVIEWER_TOKEN = 'reviewer-token-0123456789';

async function start(config: Record<string, unknown>): Promise<ServerProcess> {
  const file = join(dir, 'driftwatch.json');
  writeFileSync(file, JSON.stringify(config));
  return startServerProcess(join(dir, 'driftwatch.db'), { DRIFTWATCH_CONFIG: file });
}

const withTokens = (server: Record<string, unknown>) => ({
  server,
  auth: {
    tokens: [
      { name: 'shipper', role: 'ingest', token: INGEST_TOKEN },
      { name: 'ann', role: 'reviewer', token: REVIEWER_TOKEN },
    ],
  },
});

/** A raw connection that has sent `text` (headers and maybe the start of a body) and keeps it open. */
async function open(server: ServerProcess, text: string): Promise<Socket> {
  const socket = connect(server.port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(text);
  return socket;
}

/** Everything the server sends until it closes the connection, and whether it was reset. */
function untilClosed(socket: Socket): Promise<{ text: string; error: string | null }> {
  let text = '';
  let error: string | null = null;
  socket.setEncoding('utf8').on('data', (d: string) => {
    text += d;
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    error = err.code ?? err.message;
  });
  return new Promise((resolve) => socket.once('close', () => resolve({ text, error })));
}

/** Repeats `attempt` until it returns true (each attempt waits on the server's answer). */
async function eventually(attempt: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (await attempt()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`never happened: ${what}`);
}

const record = () => ({ model: 'm', request_id: `r-${Math.random()}`, features: { x: 1 } });
const ingest = (server: ServerProcess, token?: string) =>
  fetch(server.url('/v1/ingest'), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify([record()]),
  });

/** A GET on a connection of its own (no keep-alive pool), as a kubelet probe makes it. */
function freshGet(server: ServerProcess, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, path, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the peer address', () => {
  it('lets a loopback Prometheus scrape /metrics without a token when tokens are configured', {
    timeout: 60_000,
  }, async () => {
    const server = await start(withTokens({}));
    const scrape = await fetch(server.url('/metrics'));
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain('driftwatch_');
    // The rest of the API still wants a token from loopback.
    expect((await ingest(server)).status).toBe(401);
  });
});

describe('request headers over the limit', () => {
  it('are answered 431 on the socket, and the connection closes without a reset', {
    timeout: 60_000,
  }, async () => {
    const server = await start({});
    const socket = connect(server.port, '127.0.0.1', { allowHalfOpen: true } as never);
    sockets.push(socket);
    const closed = untilClosed(socket);
    socket.once('data', () => {
      // A client still sending when the answer comes (curl with a large cookie): it must read the 431,
      // not a reset.
      socket.write(`x-more: ${'b'.repeat(16 * 1024)}\r\n`);
    });
    socket.once('end', () => socket.end());
    socket.write(`GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(64 * 1024)}\r\n`);
    const { text, error } = await closed;
    expect(text).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(error).toBeNull();
  });
});

describe('bodies that arrive slowly', () => {
  it('an upload that keeps arriving outlasts server.requestTimeoutMs and is stored', {
    timeout: 60_000,
  }, async () => {
    const server = await start({ server: { requestTimeoutMs: 1000 } });
    const socket = await open(
      server,
      'POST /v1/ingest HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n',
    );
    const closed = untilClosed(socket);
    // A line every 200 ms for 3 s: three times the timeout in all, but never a pause as long as it.
    for (let i = 0; i < 15; i++) {
      const line = `${JSON.stringify(record())}\n`;
      socket.write(`${Buffer.byteLength(line).toString(16)}\r\n${line}\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    socket.write('0\r\n\r\n');
    const { text } = await closed;
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toContain('"accepted":15');
  });

  it('an upload that stops arriving is cut with a 408 and frees its ingest slot', {
    timeout: 60_000,
  }, async () => {
    const server = await start({ server: { requestTimeoutMs: 1000, maxIngestInFlight: 1 } });
    const socket = await open(
      server,
      'POST /v1/ingest HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n[',
    );
    const { text } = await untilClosed(socket);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(text).toContain('server.requestTimeoutMs');
    expect((await ingest(server)).status).toBe(200);
  });

  it('a form that trickles in steadily is still cut once server.requestTimeoutMs has passed', {
    timeout: 60_000,
  }, async () => {
    const server = await start({ server: { requestTimeoutMs: 1000 } });
    const socket = await open(
      server,
      'POST /ui/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 1000\r\n\r\n',
    );
    const closed = untilClosed(socket);
    let sending = true;
    void closed.then(() => {
      sending = false;
    });
    while (sending) {
      socket.write('a');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await closed).text).toMatch(/^HTTP\/1\.1 408 /);
  });
});

describe('in-flight slots', () => {
  it('clients trickling into POST /ui/login take no slot that ingest or a reviewer needs', {
    timeout: 60_000,
  }, async () => {
    const server = await start(withTokens({ maxInFlight: 2, maxAnonymousInFlight: 2 }));
    for (let i = 0; i < 4; i++) {
      await open(
        server,
        'POST /ui/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 2000\r\n\r\ntoken=',
      );
    }
    // The pool for callers without credentials fills up…
    await eventually(
      async () => (await fetch(server.url('/openapi.json'))).status === 503,
      'anonymous requests refused',
    );
    const refused = await fetch(server.url('/ui/login'));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    // …while ingest and reviewers are served.
    expect((await ingest(server, INGEST_TOKEN)).status).toBe(200);
    const read = await fetch(server.url('/v1/models'), {
      headers: { authorization: `Bearer ${REVIEWER_TOKEN}` },
    });
    expect(read.status).toBe(200);
  });

  it('a sign-in form larger than a sign-in needs is refused before it is read', {
    timeout: 60_000,
  }, async () => {
    const server = await start(withTokens({}));
    const res = await fetch(server.url('/ui/login'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${'a'.repeat(64 * 1024)}`,
    });
    expect(res.status).toBe(413);
  });

  it('label uploads have a bound of their own: beyond it a 503 with Retry-After, ingest unaffected', {
    timeout: 60_000,
  }, async () => {
    const server = await start({ server: { maxLabelsInFlight: 1 } });
    await open(
      server,
      'POST /v1/labels HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n[',
    );
    let refused: { status: number; retryAfter: string | null; message: string } | undefined;
    await eventually(async () => {
      const res = await fetch(server.url('/v1/labels'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ model: 'm', request_id: 'r', label: 1 }]),
      });
      const body = (await res.json()) as { error?: { message: string } };
      if (res.status === 503)
        refused = {
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          message: body.error?.message ?? '',
        };
      return refused !== undefined;
    }, 'a second label upload refused');
    expect(refused?.retryAfter).toBe('1');
    expect(refused?.message).toContain('server.maxLabelsInFlight');
    expect((await ingest(server)).status).toBe(200);
  });

  it('a request refused while its body is still coming is answered and its body left unread', {
    timeout: 60_000,
  }, async () => {
    const MiB = 1024 * 1024;
    // A body within the limit, so the only reason to refuse it is the held slot.
    const server = await start({ server: { maxIngestInFlight: 1 }, ingest: { bodyLimit: 256 * MiB } });
    await open(
      server,
      'POST /v1/ingest HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n[',
    );
    await eventually(async () => (await ingest(server)).status === 503, 'ingest refused');
    const socket = await open(
      server,
      `POST /v1/ingest HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-ndjson\r\ncontent-length: ${128 * MiB}\r\n\r\n`,
    );
    const closed = untilClosed(socket);
    // The body goes out a MiB at a time, each once the kernel has taken the last: as fast as the server
    // (or the socket buffers between) takes it.
    const chunk = Buffer.alloc(MiB, 0x20);
    let handed = 0;
    const pump = () => {
      if (socket.destroyed || handed >= 128 * MiB) return;
      socket.write(chunk, (err) => {
        if (err) return;
        handed += chunk.length;
        pump();
      });
    };
    pump();
    // The server closing its side: what the client had handed over by then is all it was ever going to read.
    const handedAtEnd = new Promise<number>((resolve) => socket.once('end', () => resolve(handed)));
    const { text } = await closed;
    expect(text).toMatch(/^HTTP\/1\.1 503 /);
    expect(text).toMatch(/\r\nconnection: close\r\n/i);
    expect(text).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(text).toContain('server.maxIngestInFlight');
    // Not read and discarded (Node would read all of it to keep the connection): less than one default
    // 16 MiB batch got past the socket buffers of a server that never read it.
    expect(await handedAtEnd).toBeLessThan(16 * MiB);
  });

  it('health probes on new connections are answered while every ingest slot is held', {
    timeout: 60_000,
  }, async () => {
    const server = await start({ server: { maxInFlight: 2, maxIngestInFlight: 2 } });
    for (let i = 0; i < 2; i++) {
      await open(
        server,
        'POST /v1/ingest HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n[',
      );
    }
    await eventually(async () => (await ingest(server)).status === 503, 'ingest refused');
    const probes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => freshGet(server, i % 2 ? '/readyz' : '/healthz')),
    );
    expect(probes).toEqual(Array.from({ length: 20 }, () => 200));
    expect((await ingest(server)).status).toBe(503);
  });
});

describe('the probes’ own listener (server.healthPort)', () => {
  it('answers /healthz and /readyz on its own port, and nothing else', async () => {
    const s = await start({ server: { healthPort: 0 } });
    const line = logLines(s.stdout()).find((l) => l.msg === 'driftwatch listening');
    const healthPort = line?.health_port as number;
    expect(healthPort).toBeGreaterThan(0);
    expect(healthPort).not.toBe(s.port);
    const at = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${healthPort}${path}`, init);
    expect((await at('/healthz')).status).toBe(200);
    const ready = await at('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
    const api = await at('/v1/models');
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({
      error: {
        message: 'server.healthPort answers GET /healthz and /readyz only; the API is on server.port',
      },
    });
    expect((await at('/healthz', { method: 'POST', body: '{}' })).status).toBe(404);
    // The API port answers as before, probes included.
    expect((await fetch(s.url('/v1/models'))).status).toBe(200);
    expect((await fetch(s.url('/healthz'))).status).toBe(200);
  });
});
