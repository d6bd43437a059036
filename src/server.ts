import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { isLoopback, tokenTable } from './auth/tokens.js';
import type { Config } from './config/index.js';
import type { AppDeps } from './context.js';
import { createJobs, type JobRegistry } from './jobs/index.js';
import { createLogger } from './logger.js';
import { Metrics } from './metrics/index.js';
import { ServingRuntime } from './serving/runtime.js';
import { scanModelsDir } from './serving/versions.js';
import { Sources } from './sources/index.js';
import { openStore } from './store/index.js';

export interface RunningServer {
  port: number;
  /** The probes' own listener (server.healthPort), when configured. */
  healthPort?: number;
  host: string;
  deps: AppDeps;
  /** Stops accepting, lets in-flight requests finish (up to the configured timeout), closes the database. */
  shutdown(reason: string): Promise<void>;
}

export class StartupRefused extends Error {}

/**
 * Refuses an open API on a network address: anyone who can reach the port could change baselines.
 * On loopback an open API is the embedded default, with a warning.
 */
export function checkExposure(config: Config, insecure: boolean, log: { warn: (msg: string) => void }): void {
  if (!tokenTable(config).open) return;
  if (!isLoopback(config.server.host)) {
    if (!insecure) {
      throw new StartupRefused(
        `refusing to listen on ${config.server.host} with no auth tokens configured: add auth.tokens to the config, ` +
          'listen on 127.0.0.1, or pass --insecure to run an open API on the network',
      );
    }
    log.warn(`--insecure: the API on ${config.server.host} is open to anyone who can reach it`);
  } else
    log.warn(
      'no auth tokens configured: the API is open to local processes (fine for a sidecar on loopback)',
    );
}

/**
 * Binds the listener first (a port in use fails before any database file is created), then opens the
 * store, starts the job registry and serves the API; wires graceful shutdown.
 */
export async function startServer(
  config: Config,
  options: { insecure?: boolean; instance?: string } = {},
): Promise<RunningServer> {
  const log = createLogger(config);
  checkExposure(config, options.insecure === true, { warn: (msg) => log.warn(msg) });
  let accepting = true;
  let handler: ((req: Request, env: NodeEnv) => Response | Promise<Response>) | null = null;
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve(
      {
        // Until the store is open every request gets a 503; health checks included (not ready yet).
        // The env ({incoming, outgoing}) carries the socket: the peer address (loopback scrapes) and the
        // body watchdog need it.
        fetch: async (req, bindings) => {
          // An HTTP/1 server (createServer), so the bindings are IncomingMessage and ServerResponse.
          const env = bindings as NodeEnv;
          let res: Response;
          if (!handler)
            res = Response.json({ status: 'starting' }, { status: 503, headers: { 'retry-after': '1' } });
          else {
            watchBody(env, config.server.requestTimeoutMs);
            res = await handler(req, env);
          }
          // Answered before its body was read (refused: busy, too large, no credential): the rest is not read.
          return env.incoming.complete ? res : answerUnread(env, res);
        },
        hostname: config.server.host,
        port: config.server.port,
        serverOptions: {
          // No whole-request deadline from Node: it would cut a 1 GiB upload that keeps arriving. watchBody
          // cuts a body that stalls (uploads) or takes too long (everything else) instead.
          requestTimeout: 0,
          headersTimeout: Math.min(10_000, config.server.requestTimeoutMs),
          // Node checks the headers timeout every 30 s by default: a trickling client would keep its socket.
          connectionsCheckingInterval: Math.min(1_000, config.server.requestTimeoutMs),
        },
      },
      () => resolve(s),
    );
    s.on('clientError', answerClientError);
    s.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new StartupRefused(
              `port ${config.server.port} on ${config.server.host} is already in use (server.port, DRIFTWATCH_PORT or --port)`,
            )
          : err,
      );
    });
  });
  const address = server.address() as AddressInfo;
  const health = config.server.healthPort === undefined ? null : await listenForProbes(config, () => handler);

  let deps: AppDeps;
  let jobs: JobRegistry;
  let metrics: Metrics;
  let sources: Sources;
  try {
    const store = await openStore(config.database);
    deps = {
      config,
      store,
      log,
      clock: Date.now,
      ...(options.instance ? { instance: options.instance } : {}),
    };
    // One registry per app: created before the jobs and the serving runtime, which report into it.
    metrics = new Metrics(deps);
    deps.metrics = metrics;
    jobs = createJobs(deps);
    deps.jobs = jobs;
    // Log sources consume on the job leader only: they start and stop with the leadership.
    sources = new Sources(deps);
    deps.sources = sources;
    const consuming = sources;
    jobs.onLeadershipChange((leader) => consuming.leadership(leader));
    await jobs.start();
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (health) await new Promise<void>((resolve) => health.close(() => resolve()));
    throw err;
  }
  // Versions in the model directory are registered (with their baselines), then every process loads the
  // live versions from the store.
  const scan = await scanModelsDir(deps);
  if (scan.registered.length > 0)
    log.info({ versions: scan.registered }, 'model versions registered from the model directory');
  for (const problem of scan.problems) log.error({ problem }, 'model version not registered');
  const serving = new ServingRuntime(deps);
  await serving.start();
  const app = createApp(deps, {
    readiness: { accepting: () => accepting },
    serving,
    metrics,
  });
  handler = (req, env) => app.fetch(req, env);
  log.info(
    {
      host: config.server.host,
      port: address.port,
      ...(health ? { health_port: (health.address() as AddressInfo).port } : {}),
      db: deps.store.location,
      leader: jobs.leader(),
    },
    'driftwatch listening',
  );

  let closing: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    closing ??= (async () => {
      accepting = false;
      log.info({ reason }, 'shutting down: no new connections, finishing in-flight requests');
      // The listener stops accepting at once; running ticks and in-flight requests finish side by side.
      // Sources stop before the lease is handed back: their last batch is stored and acknowledged (the
      // rest handed back) before another process may start consuming.
      const jobsStopped = sources.stop().then(() => jobs.stop());
      // Probes see the process go away with it (a closed port reads as not ready).
      if (health) {
        health.close();
        if ('closeAllConnections' in health) health.closeAllConnections();
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          log.warn(
            { timeout_ms: config.server.shutdownTimeoutMs },
            'in-flight requests did not finish in time',
          );
          if ('closeAllConnections' in server) server.closeAllConnections();
          resolve();
        }, config.server.shutdownTimeoutMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        // Keep-alive connections with no request in flight would otherwise hold close() open.
        if ('closeIdleConnections' in server) server.closeIdleConnections();
      });
      await jobsStopped;
      // Predictions logged behind are flushed before the store closes; model processes end.
      await serving.close();
      await deps.store.close();
      log.info('database closed; bye');
    })();
    return closing;
  };

  return {
    port: address.port,
    ...(health ? { healthPort: (health.address() as AddressInfo).port } : {}),
    host: config.server.host,
    deps,
    shutdown,
  };
}

/** The only paths the probes' listener answers. */
const PROBE_PATHS = new Set(['/healthz', '/readyz']);

/**
 * The listener of server.healthPort: GET/HEAD /healthz and /readyz, answered by the same app as on the API
 * port, everything else 404. It has no in-flight bound and reads no bodies.
 */
async function listenForProbes(
  config: Config,
  handler: () => ((req: Request, env: NodeEnv) => Response | Promise<Response>) | null,
): Promise<ReturnType<typeof serve>> {
  return new Promise((resolve, reject) => {
    const s = serve(
      {
        fetch: async (req, bindings) => {
          const path = new URL(req.url).pathname;
          if (!PROBE_PATHS.has(path) || (req.method !== 'GET' && req.method !== 'HEAD'))
            return Response.json(
              {
                error: {
                  code: 'not_found',
                  message: `server.healthPort answers GET /healthz and /readyz only; the API is on server.port`,
                },
              },
              { status: 404 },
            );
          const h = handler();
          if (!h)
            return Response.json({ status: 'starting' }, { status: 503, headers: { 'retry-after': '1' } });
          return h(req, bindings as NodeEnv);
        },
        hostname: config.server.host,
        port: config.server.healthPort,
      },
      () => resolve(s),
    );
    s.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new StartupRefused(
              `port ${config.server.healthPort} on ${config.server.host} is already in use (server.healthPort, DRIFTWATCH_HEALTH_PORT)`,
            )
          : err,
      );
    });
  });
}

/** What @hono/node-server passes to fetch as its second argument. */
interface NodeEnv {
  incoming: IncomingMessage;
  outgoing: ServerResponse;
}

/** Bodies streamed in and processed as they arrive: a slow but steady one may take as long as it needs. */
const UPLOAD = /^\/v1\/(ingest(\/cloudevents)?|labels|models\/[^/]+\/baselines|models\/[^/]+\/versions)$/;

/**
 * Cuts a request whose body does not arrive in time with a 408, as Node's requestTimeout did: an upload
 * after `timeoutMs` with no byte arriving (a body waiting on the server, not the client, is progress),
 * any other request when its whole body has not arrived `timeoutMs` after its headers.
 */
function watchBody({ incoming, outgoing }: NodeEnv, timeoutMs: number): void {
  if (incoming.complete) return;
  const socket = incoming.socket;
  const upload = incoming.method === 'POST' && UPLOAD.test((incoming.url ?? '').split('?')[0] ?? '');
  const started = Date.now();
  let lastProgress = started;
  let bytes = socket.bytesRead;
  const stop = () => clearInterval(timer);
  const timer = setInterval(
    () => {
      if (incoming.complete || socket.destroyed) return stop();
      const now = Date.now();
      if (socket.bytesRead !== bytes || incoming.readableLength > 0 || socket.isPaused()) {
        bytes = socket.bytesRead;
        lastProgress = now;
      }
      if (now - (upload ? lastProgress : started) < timeoutMs) return;
      stop();
      closeWith(socket, outgoing.headersSent ? null : 408);
    },
    Math.max(50, Math.min(1_000, timeoutMs / 4)),
  );
  timer.unref();
  // Once answered, node-server drains or drops what is left of the body.
  outgoing.once('finish', stop);
  outgoing.once('close', stop);
}

const ANSWERS: Record<number, { reason: string; code: string; message: string }> = {
  400: { reason: 'Bad Request', code: 'bad_request', message: 'the request is not valid HTTP' },
  408: {
    reason: 'Request Timeout',
    code: 'request_timeout',
    message: 'the request body did not arrive in time (server.requestTimeoutMs)',
  },
  413: { reason: 'Content Too Large', code: 'payload_too_large', message: 'chunk extensions too large' },
  431: {
    reason: 'Request Header Fields Too Large',
    code: 'headers_too_large',
    message: 'the request headers are too large',
  },
};

const lingering = new WeakSet<Socket>();
/** How long a connection being closed stays open for its client to read the answer. */
const LINGER_MS = 5_000;

/** Answers with `status` (when nothing has been written yet) and closes the connection gracefully. */
function closeWith(socket: Socket, status: number | null): void {
  const answer = status === null ? undefined : ANSWERS[status];
  const body = answer && JSON.stringify({ error: { code: answer.code, message: answer.message } });
  closeAfter(
    socket,
    answer && body && socket.bytesWritten === 0
      ? `HTTP/1.1 ${status} ${answer.reason}\r\nconnection: close\r\ncontent-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
      : null,
    'drop',
  );
}

/**
 * Writes `answer` (raw HTTP), half-closes, and destroys the socket once the client has closed its side, or LINGER_MS later: closing a socket with
 * unread bytes resets it, and a client that has not read the answer yet would see ECONNRESET instead.
 * Meanwhile what the client still sends is read and dropped (`drop`), or not read at all (`ignore`): it
 * waits in the kernel's buffers, then the sender blocks, and it costs this process nothing.
 */
function closeAfter(socket: Socket, answer: string | Buffer | null, rest: 'drop' | 'ignore'): void {
  if (lingering.has(socket)) return;
  lingering.add(socket);
  if (socket.writable && answer !== null) socket.end(answer);
  else socket.end();
  if (rest === 'drop') {
    // Reading to the client's own end: once it has sent everything and closed its side, nothing unread is
    // left to turn the close into a reset, however slowly its last bytes came.
    socket.once('end', () => socket.destroy());
    socket.resume();
  } else socket.pause();
  socket.setTimeout(0);
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/**
 * Answers a request whose body has not (all) arrived without reading the rest: `connection: close`, and
 * the connection is dropped once the client has had time to read the answer. Node would otherwise read
 * and discard the whole body to keep the connection alive — under overload, 50 clients' 16 MiB bodies
 * refused with 503 were nearly all the bytes this process read, while new connections waited their turn.
 */
async function answerUnread({ incoming, outgoing }: NodeEnv, res: Response): Promise<Response> {
  const socket = incoming.socket;
  // Queued behind an earlier response on this connection (pipelining), or already started: the usual way.
  if (outgoing.headersSent || outgoing.socket !== socket || !socket.writable || lingering.has(socket))
    return res;
  const body = incoming.method === 'HEAD' ? Buffer.alloc(0) : Buffer.from(await res.arrayBuffer());
  let head = `HTTP/1.1 ${res.status} ${STATUS_CODES[res.status] ?? ''}\r\n`;
  for (const [name, value] of res.headers) if (!WRITTEN_HERE.has(name)) head += `${name}: ${value}\r\n`;
  head += `date: ${new Date().toUTCString()}\r\nconnection: close\r\ncontent-length: ${body.byteLength}\r\n\r\n`;
  closeAfter(socket, Buffer.concat([Buffer.from(head, 'latin1'), body]), 'ignore');
  // node-server writes this response into a connection that is closed by then, which does nothing.
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return new Response(null, { status: res.status });
}

/** Headers answerUnread writes itself (or must not pass on: the connection closes, the body is buffered). */
const WRITTEN_HERE = new Set(['connection', 'content-length', 'keep-alive', 'transfer-encoding', 'date']);

/** Node's answers to requests it cannot parse (431 for oversized headers), closed without a reset. */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  // Already answered and closing: the parser reports its error again for every later chunk the client
  // sends, and destroying the socket then would reset it before the client has read the answer.
  if (lingering.has(socket) && err.code !== 'ECONNRESET') return;
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 431
      : err.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
        ? 413
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 408
          : 400;
  closeWith(socket, status);
}
