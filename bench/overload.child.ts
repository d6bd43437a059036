// The client side of bench/overload.ts, forked by it (not a bench on its own; bench/run.ts skips
// *.child.ts): `load` runs the ingest clients, `probe` calls GET /healthz on a fixed period. Each runs in
// its own process so that neither the server's event loop nor the load generator's delays a probe. Talks
// to the parent over the IPC channel: sends {type:'ready'}, waits for {type:'start'} (and, for the
// prober, {type:'stop'}), and sends {type:'result'} when done.
import http from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { featureRow, rng } from './common.js';

export interface LoadSettings {
  port: number;
  clients: number;
  seconds: number;
  bodyBytes: number;
  /** Sleep for the Retry-After of a 503 (capped at the time left) before that client's next request. */
  honourRetryAfter: boolean;
  /** Once the load window is over, in-flight requests get this long to finish before they are aborted. */
  drainSeconds: number;
}

export interface ProbeSettings {
  port: number;
  periodMs: number;
  /** After stop, unanswered probes get this long before they are counted as unanswered. */
  graceSeconds: number;
}

export interface LoadResult {
  type: 'result';
  recordsPerBody: number;
  bodyBytes: number;
  /** Distinct 16 MiB buffers the clients needed (one is reused once the socket has taken all of it). */
  buffers: number;
  statuses: Record<string, number>;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Response times of ingest requests, ms, one per answered request. */
  latenciesMs: number[];
  loadMs: number;
  /** From the end of the load window to the last answer. */
  drainMs: number;
  /** This process's own event-loop delay, to show the load generator was not the bottleneck. */
  ownLoopMaxMs: number;
}

export interface ProbeStats {
  sent: number;
  statuses: Record<string, number>;
  /** Time to a complete answer, ms, one per answered probe. */
  latenciesMs: number[];
  /** Time until a probe failed (connection reset, …), ms. */
  failedAfterMs: number[];
  /** Still unanswered when the grace period after stop ran out. */
  unanswered: number;
  /** Periods in which no probe was sent because the previous one was still out (kept-alive prober only). */
  skipped: number;
}

export interface ProbeResult {
  type: 'result';
  /** A new connection per probe, every period whatever the previous one is doing (as a kubelet probes). */
  fresh: ProbeStats;
  /** One kept-alive connection, a probe per period once the previous one is answered. */
  kept: ProbeStats;
  ownLoopMaxMs: number;
}

export type ParentMessage = { type: 'start' } | { type: 'stop' };

const send = (message: unknown) => process.send?.(message);
const nextMessage = (type: ParentMessage['type']) =>
  new Promise<void>((resolve) => {
    const listener = (m: ParentMessage) => {
      if (m.type !== type) return;
      process.off('message', listener);
      resolve();
    };
    process.on('message', listener);
  });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

// request_id is `o-<slot>-<line>`: the slot (client and sequence number, fixed width) is rewritten in
// place before each send, so every request carries fresh ids while the body is generated only once.
const SLOT = 12;

/** One NDJSON body of at most `bytes` bytes, with the byte offsets of every request-id slot. */
function makeTemplate(bytes: number): { body: Buffer; slots: number[] } {
  const r = rng(23);
  const lines: string[] = [];
  const slots: number[] = [];
  const t0 = Date.now() - 3600e3;
  let size = 0;
  for (let line = 0; ; line++) {
    const head = `{"model":"overload","model_version":"v1","request_id":"o-`;
    const rest = `${'x'.repeat(SLOT)}-${line}","timestamp":${t0 + line},"features":${JSON.stringify(featureRow(r, 0.2))},"prediction":${r()}}\n`;
    if (size + head.length + rest.length > bytes) break;
    slots.push(size + head.length);
    lines.push(head + rest);
    size += head.length + rest.length;
  }
  return { body: Buffer.from(lines.join(''), 'latin1'), slots };
}

async function runLoad(s: LoadSettings): Promise<LoadResult> {
  const template = makeTemplate(s.bodyBytes);
  const pool: Buffer[] = [];
  let buffers = 0;
  const take = () => {
    const buf = pool.pop();
    if (buf) return buf;
    buffers++;
    return Buffer.from(template.body);
  };
  const stamp = (buf: Buffer, client: number, seq: number) => {
    const slot = `${client.toString(36).padStart(3, '0')}${seq.toString(36).padStart(SLOT - 3, '0')}`;
    const first = template.slots[0] as number;
    buf.write(slot, first, 'latin1');
    for (const at of template.slots) buf.copy(buf, at, first, first + SLOT);
  };
  const agent = new http.Agent({ keepAlive: true, maxSockets: s.clients });
  const inFlight = new Set<http.ClientRequest>();
  let draining = false;
  const result: LoadResult = {
    type: 'result',
    recordsPerBody: template.slots.length,
    bodyBytes: template.body.length,
    buffers: 0,
    statuses: {},
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    latenciesMs: [],
    loadMs: 0,
    drainMs: 0,
    ownLoopMaxMs: 0,
  };

  const guarded = new WeakSet<object>();
  /** Sends one body; resolves with the status (or error code) and the Retry-After, once answered. */
  const post = (buf: Buffer) =>
    new Promise<{ status?: number; retryAfter?: number }>((resolve) => {
      const started = performance.now();
      let released = false;
      let answered = false;
      const release = () => {
        if (released) return;
        released = true;
        pool.push(buf); // the socket no longer references the buffer
      };
      const req = http.request({
        host: '127.0.0.1',
        port: s.port,
        path: '/v1/ingest',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/x-ndjson', 'content-length': buf.length },
      });
      inFlight.add(req);
      // A server that answers 503 before reading the body closes the socket while the body is still being
      // written: the write fails with EPIPE after the answer arrived. Not an outcome of its own.
      req.on('socket', (socket) => {
        if (guarded.has(socket)) return;
        guarded.add(socket);
        socket.on('error', () => undefined);
      });
      req.on('finish', release);
      req.on('close', () => {
        release();
        inFlight.delete(req);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          answered = true;
          const status = res.statusCode ?? 0;
          result.latenciesMs.push(performance.now() - started);
          bump(result.statuses, String(status));
          if (status === 200 || status === 207 || status === 422) {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
              accepted: number;
              duplicates: number;
              rejected: unknown[];
            };
            result.accepted += body.accepted;
            result.duplicates += body.duplicates;
            result.rejected += body.rejected.length;
          }
          const retryAfter = Number(res.headers['retry-after']);
          resolve({ status, ...(Number.isFinite(retryAfter) ? { retryAfter } : {}) });
        });
        res.on('error', () => {
          bump(result.statuses, draining ? 'aborted at drain timeout' : 'response aborted');
          resolve({});
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (answered) return;
        if (draining && err.message === 'drain timeout') bump(result.statuses, 'aborted at drain timeout');
        else bump(result.statuses, `error ${err.code ?? err.message}`);
        resolve({});
      });
      req.end(buf);
    });

  const own = monitorEventLoopDelay({ resolution: 10 });
  send({ type: 'ready' });
  await nextMessage('start');
  own.enable();
  const start = performance.now();
  const deadline = start + s.seconds * 1000;
  let lastAnswer = start;

  const client = async (id: number) => {
    for (let seq = 0; performance.now() < deadline; seq++) {
      const buf = take();
      stamp(buf, id, seq);
      const answer = await post(buf);
      lastAnswer = performance.now();
      if (answer.status === undefined)
        await sleep(100); // connection error: do not spin
      else if (answer.status === 503 && s.honourRetryAfter)
        await sleep(Math.min((answer.retryAfter ?? 1) * 1000, deadline - performance.now()));
    }
  };
  const clients = Promise.all(Array.from({ length: s.clients }, (_, i) => client(i)));
  await sleep(deadline - performance.now());
  draining = true;
  const drainTimer = setTimeout(() => {
    for (const req of inFlight) req.destroy(new Error('drain timeout'));
  }, s.drainSeconds * 1000);
  await clients;
  clearTimeout(drainTimer);
  own.disable();
  agent.destroy();
  return {
    ...result,
    buffers,
    loadMs: deadline - start,
    drainMs: Math.max(0, lastAnswer - deadline),
    ownLoopMaxMs: own.max / 1e6,
  };
}

async function runProbe(s: ProbeSettings): Promise<ProbeResult> {
  const stats = (): ProbeStats => ({
    sent: 0,
    statuses: {},
    latenciesMs: [],
    failedAfterMs: [],
    unanswered: 0,
    skipped: 0,
  });
  const fresh = stats();
  const kept = stats();
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const pending = new Set<Promise<void>>();
  let keptOut = false;

  const probe = (into: ProbeStats, agent: http.Agent | false) => {
    into.sent++;
    const started = performance.now();
    const done = new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: s.port, path: '/healthz', agent }, (res) => {
        res.resume();
        res.on('end', () => {
          into.latenciesMs.push(performance.now() - started);
          bump(into.statuses, String(res.statusCode));
          resolve();
        });
        res.on('error', () => {
          into.failedAfterMs.push(performance.now() - started);
          bump(into.statuses, 'response aborted');
          resolve();
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        into.failedAfterMs.push(performance.now() - started);
        bump(into.statuses, `error ${err.code ?? err.message}`);
        resolve();
      });
    });
    pending.add(done);
    void done.then(() => pending.delete(done));
    return done;
  };
  const tick = () => {
    void probe(fresh, false);
    if (keptOut) kept.skipped++;
    else {
      keptOut = true;
      void probe(kept, keepAlive).then(() => {
        keptOut = false;
      });
    }
  };

  const own = monitorEventLoopDelay({ resolution: 10 });
  send({ type: 'ready' });
  await nextMessage('start');
  own.enable();
  const timer = setInterval(tick, s.periodMs);
  tick();
  await nextMessage('stop');
  clearInterval(timer);
  let graceTimer: NodeJS.Timeout | undefined;
  const grace = new Promise<'timeout'>((resolve) => {
    graceTimer = setTimeout(() => resolve('timeout'), s.graceSeconds * 1000);
  });
  if ((await Promise.race([Promise.all(pending), grace])) === 'timeout') {
    // Which prober a late probe belongs to is not tracked; the kept-alive one has at most one out.
    kept.unanswered = keptOut ? 1 : 0;
    fresh.unanswered = pending.size - kept.unanswered;
  }
  clearTimeout(graceTimer);
  own.disable();
  keepAlive.destroy();
  return { type: 'result', fresh, kept, ownLoopMaxMs: own.max / 1e6 };
}

const [role, json] = process.argv.slice(2);
if (!process.send)
  throw new Error('overload.child.ts is started by bench/overload.ts (it needs the IPC channel)');
const result =
  role === 'load'
    ? await runLoad(JSON.parse(json ?? '{}') as LoadSettings)
    : role === 'probe'
      ? await runProbe(JSON.parse(json ?? '{}') as ProbeSettings)
      : undefined;
if (!result) throw new Error(`unknown role ${role}; expected load or probe`);
// Exit once the result is out, even if an unanswered probe still holds a socket open.
process.send(result, () => process.exit(0));
