// ModelRunner: the parent side of one model process (worker.ts). It queues requests FIFO, sends up to
// `pipeline` messages ahead to the process (which runs them one at a time, in order), enforces deadlines,
// and replaces the process when it hangs or dies. Sending ahead keeps the model busy while an answer
// crosses the IPC channel: with one in flight, every request waited for the previous one's round trip.
// Requests that queue while the pipeline is full go together in the next message (up to `batch`) and run
// as one (their rows stacked) when the model takes any number of rows: a burst costs one model run and one
// IPC round trip instead of one each, so requests do not queue behind each other's overhead.
//
// Policy (what callers see):
// - run() rejects with DeadlineExceeded once `deadlineMs` has passed since the call, whether the request
//   was still queued or running. The deadline covers queue wait plus run time.
// - A request that missed its deadline while running keeps the process busy (run() cannot be interrupted).
//   If the process has not answered `killAfterMs` later (default: the request's own deadline again), it is
//   SIGKILLed and a new one is started.
// - Requests behind it (queued, or sent ahead but not started: the process starts one message only after
//   answering the previous) never ran in the killed process, so they are NOT failed: they wait for the
//   replacement and run there, in their order, each within its own deadline. Only the requests that were
//   running when a process died (the oldest unanswered message: one request, or a batch) fail
//   (ModelRestarting); they are not retried, since one of them may be what crashed the model.
// - A process that dies on its own is restarted the same way. Consecutive failures (deaths and failed loads
//   with no successful run between them) back off: 0 ms, then 100 ms doubling up to 10 s.
// - If a restart fails to load the model, queued requests fail with ModelUnavailable and new ones are refused
//   at once (fail fast) until a later restart loads it.
// - The queue is bounded (`maxQueue`, default 64 waiting requests, not counting those sent to the process);
//   run() on a full queue rejects with QueueFull.
// - close() fails everything pending with ModelUnavailable and ends the process (SIGTERM, SIGKILL after 2 s).

import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import {
  DeadlineExceeded,
  ModelLoadError,
  ModelRestarting,
  ModelRunError,
  ModelUnavailable,
  QueueFull,
} from './errors.js';
import type { ChildMessage, Feed, Output, ParentMessage, TensorInfo, WorkerConfig } from './protocol.js';

export interface ModelRunnerOptions {
  modelPath: string;
  name: string;
  version: string;
  /** ORT intra-op threads in the model process; default 1. */
  threads?: number;
  log?: Logger;
  /** Waiting requests allowed besides those sent to the process; default 64. */
  maxQueue?: number;
  /**
   * Messages sent to the process before the oldest of them is answered (1: strictly one at a time); default
   * 8, or 2 for a model that batches (what waits behind them goes together in the next message).
   */
  pipeline?: number;
  /** Most requests sent in one message and run as one when the model takes any number of rows; default 32 (1: never batch). */
  batch?: number;
  /** How long after a running request's deadline the process is killed; default that request's deadlineMs. */
  killAfterMs?: number;
  /** How long start() (and each restart) waits for the model to load; default 30 s. */
  loadTimeoutMs?: number;
}

export interface ModelRunnerStatus {
  /** A process has the model loaded and takes requests. */
  ready: boolean;
  /** Processes started after the first one. */
  restarts: number;
  /** Requests sent to the process and not yet answered (includes those past their deadline). */
  inFlight: number;
  queued: number;
  /** Model runs made (a batch of requests run as one counts once). */
  runs: number;
  /** The model takes any number of rows, so queued requests are run together. */
  batching: boolean;
  pid: number | null;
  /** Why the model is unavailable, when the last (re)load failed. */
  unavailable: string | null;
}

interface Pending {
  id: number;
  feeds: Record<string, Feed>;
  deadlineMs: number;
  resolve: (outputs: Record<string, Output>) => void;
  reject: (err: Error) => void;
  settled: boolean;
  timer: NodeJS.Timeout;
  /** The message it was sent in (0 while queued); the requests of one batch share it. */
  message: number;
}

/**
 * How to fork worker.ts from wherever this module runs. Compiled (dist/…/runner.js): worker.js next to it,
 * plain node. From sources (tsx, vitest: this file is runner.ts): worker.ts with tsx's ESM loader, imported
 * by absolute URL so it does not depend on the working directory. execArgv is always explicit: fork() would
 * otherwise copy the parent's flags (vitest's or tsx's).
 */
export function workerEntry(): { path: string; execArgv: string[] } {
  const self = fileURLToPath(import.meta.url);
  const js = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (self.endsWith('.js') && existsSync(js)) return { path: js, execArgv: [] };
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { path: fileURLToPath(new URL('./worker.ts', import.meta.url)), execArgv: ['--import', tsx] };
}

const STDERR_TAIL = 4000;
const CLOSE_KILL_MS = 2000;

export class ModelRunner {
  readonly name: string;
  readonly version: string;
  inputs: TensorInfo[] = [];
  outputs: TensorInfo[] = [];

  readonly #opts: ModelRunnerOptions;
  readonly #maxQueue: number;
  readonly #pipeline: number | undefined;
  readonly #batch: number;
  /** The loaded model takes any number of rows (the process says so when ready). */
  #batchable = false;
  #nextMessage = 1;
  #runs = 0;
  #child: ChildProcess | null = null;
  #ready = false;
  /** Sent to the process, oldest first: the first is the one running, the others start after it in order. */
  #sent: Pending[] = [];
  #queue: Pending[] = [];
  #nextId = 1;
  #restarts = 0;
  #failures = 0;
  #unavailable: string | null = null;
  #closed = false;
  #restartTimer: NodeJS.Timeout | null = null;
  #killTimer: NodeJS.Timeout | null = null;
  #stderr = '';

  private constructor(opts: ModelRunnerOptions) {
    this.#opts = opts;
    this.name = opts.name;
    this.version = opts.version;
    this.#maxQueue = opts.maxQueue ?? 64;
    this.#pipeline = opts.pipeline === undefined ? undefined : Math.max(1, opts.pipeline);
    this.#batch = Math.max(1, opts.batch ?? 32);
  }

  /** Forks the model process; resolves once the model is loaded, rejects with ModelLoadError otherwise. */
  static async start(opts: ModelRunnerOptions): Promise<ModelRunner> {
    const runner = new ModelRunner(opts);
    try {
      await runner.#spawn();
    } catch (err) {
      await runner.close();
      throw err;
    }
    return runner;
  }

  get #label() {
    return `model ${this.name}@${this.version}`;
  }

  status(): ModelRunnerStatus {
    return {
      ready: this.#ready,
      restarts: this.#restarts,
      inFlight: this.#sent.length,
      queued: this.#queue.length,
      runs: this.#runs,
      batching: this.#batching,
      pid: this.#child?.pid ?? null,
      unavailable: this.#unavailable,
    };
  }

  /** Runs the model on `feeds`; see the policy at the top of this file for how it can fail. */
  run(feeds: Record<string, Feed>, deadlineMs: number): Promise<Record<string, Output>> {
    if (this.#closed) return Promise.reject(new ModelUnavailable(`${this.#label}: runner is closed`));
    if (this.#unavailable !== null) {
      return Promise.reject(new ModelUnavailable(`${this.#label} is unavailable: ${this.#unavailable}`));
    }
    if (this.#queue.length >= this.#maxQueue) {
      return Promise.reject(
        new QueueFull(`${this.#label}: queue full (${this.#maxQueue} requests waiting)`, this.#maxQueue),
      );
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        id: this.#nextId++,
        feeds,
        deadlineMs,
        resolve,
        reject,
        settled: false,
        timer: setTimeout(() => this.#onDeadline(pending), deadlineMs),
        message: 0,
      };
      this.#queue.push(pending);
      this.#pump();
    });
  }

  /** Fails everything pending with ModelUnavailable and ends the model process; resolves once it has exited. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#ready = false;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    if (this.#killTimer) clearTimeout(this.#killTimer);
    const closed = new ModelUnavailable(`${this.#label}: runner is closed`);
    for (const p of this.#queue) this.#settle(p, closed);
    this.#queue = [];
    for (const p of this.#sent) this.#settle(p, closed);
    this.#sent = [];
    const child = this.#child;
    this.#child = null;
    if (child) await stop(child);
  }

  #spawn(): Promise<void> {
    const entry = workerEntry();
    const config: WorkerConfig = { modelPath: this.#opts.modelPath, threads: this.#opts.threads ?? 1 };
    const child = fork(entry.path, [JSON.stringify(config)], {
      execArgv: entry.execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.#child = child;
    this.#stderr = '';
    const forward = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      if (stream === 'stderr') this.#stderr = (this.#stderr + text).slice(-STDERR_TAIL);
      for (const line of text.split('\n')) {
        if (line.trim()) this.#opts.log?.warn({ model: this.name, version: this.version, stream }, line);
      }
    };
    child.stdout?.on('data', forward('stdout'));
    child.stderr?.on('data', forward('stderr'));

    return new Promise<void>((resolve, reject) => {
      let loading = true;
      const fail = (message: string) => {
        if (!loading) return;
        loading = false;
        clearTimeout(loadTimer);
        reject(new ModelLoadError(`${this.#label}: cannot load ${this.#opts.modelPath}: ${message}`));
      };
      const loadTimeoutMs = this.#opts.loadTimeoutMs ?? 30_000;
      const loadTimer = setTimeout(() => {
        fail(`not loaded after ${loadTimeoutMs} ms`);
        child.kill('SIGKILL');
      }, loadTimeoutMs);

      child.on('message', (message: ChildMessage) => {
        if (child !== this.#child) return;
        switch (message.type) {
          case 'ready':
            if (!loading) return;
            loading = false;
            clearTimeout(loadTimer);
            this.inputs = message.inputs;
            this.outputs = message.outputs;
            this.#batchable = message.batchable;
            this.#ready = true;
            this.#unavailable = null;
            this.#opts.log?.info(
              { model: this.name, version: this.version, pid: child.pid, loadMs: Math.round(message.loadMs) },
              'model process ready',
            );
            resolve();
            this.#pump();
            return;
          case 'load-error':
            fail(message.message);
            return;
          case 'result':
          case 'run-error':
          case 'batch-result':
            this.#onReply(message);
            return;
        }
      });
      child.on('error', (err) => {
        // Spawn failure or a failed kill; 'exit' may not follow a spawn failure.
        fail(err.message);
        this.#opts.log?.error({ model: this.name, version: this.version, err }, 'model process error');
      });
      child.on('exit', (code, signal) => {
        const how = signal ? `signal ${signal}` : `exit code ${code}`;
        const tail = this.#stderr.trim();
        fail(`model process ended (${how}) before loading${tail ? `: ${tail}` : ''}`);
        this.#onExit(child, how);
      });
    });
  }

  get #batching(): boolean {
    return this.#batchable && this.#batch > 1;
  }

  /** Messages sent and not yet answered: the requests of one message are next to each other in #sent. */
  #messagesInFlight(): number {
    let n = 0;
    for (let i = 0; i < this.#sent.length; i++) {
      if (i === 0 || this.#sent[i]?.message !== this.#sent[i - 1]?.message) n++;
    }
    return n;
  }

  #pump(): void {
    const child = this.#child;
    if (!this.#ready || !child) return;
    const ahead = this.#pipeline ?? (this.#batching ? 2 : 8);
    while (this.#queue.length > 0 && this.#messagesInFlight() < ahead) {
      const take = this.#batching ? this.#batch : 1;
      const members: Pending[] = [];
      while (members.length < take && this.#queue.length > 0) {
        const next = this.#queue.shift() as Pending;
        if (!next.settled) members.push(next);
      }
      if (members.length === 0) continue;
      const id = this.#nextMessage++;
      const message: ParentMessage =
        members.length === 1
          ? { type: 'run', id: (members[0] as Pending).id, feeds: (members[0] as Pending).feeds }
          : { type: 'batch', items: members.map((p) => ({ id: p.id, feeds: p.feeds })) };
      try {
        child.send(message);
      } catch (err) {
        // Not cloneable (structured clone refuses the data) or the channel just closed. A batch is tried
        // again one request at a time, so only the request that cannot be sent fails.
        if (members.length > 1) {
          this.#queue.unshift(...members);
          this.#sendEach(child, members.length);
          continue;
        }
        this.#settle(
          members[0] as Pending,
          new ModelRunError(`${this.#label}: cannot send the request: ${(err as Error).message}`),
        );
        continue;
      }
      for (const p of members) {
        p.message = id;
        this.#sent.push(p);
      }
    }
  }

  /** Sends the first `n` queued requests one message each (after a batch could not be sent). */
  #sendEach(child: ChildProcess, n: number): void {
    for (let k = 0; k < n && this.#queue.length > 0; k++) {
      const p = this.#queue.shift() as Pending;
      if (p.settled) continue;
      try {
        child.send({ type: 'run', id: p.id, feeds: p.feeds } satisfies ParentMessage);
      } catch (err) {
        this.#settle(
          p,
          new ModelRunError(`${this.#label}: cannot send the request: ${(err as Error).message}`),
        );
        continue;
      }
      p.message = this.#nextMessage++;
      this.#sent.push(p);
    }
  }

  #onReply(message: Extract<ChildMessage, { type: 'result' | 'run-error' | 'batch-result' }>): void {
    if (this.#killTimer) clearTimeout(this.#killTimer);
    this.#killTimer = null;
    if (message.type === 'batch-result') {
      this.#runs += message.runs;
      for (const r of message.results) {
        const p = this.#take(r.id);
        if (!p) continue;
        if ('outputs' in r) {
          this.#failures = 0;
          this.#settle(p, null, r.outputs);
        } else {
          this.#settle(p, new ModelRunError(`${this.#label}: ${r.message}`));
        }
      }
    } else {
      this.#runs += 1;
      const current = this.#take(message.id);
      if (current && message.type === 'result') {
        this.#failures = 0;
        this.#settle(current, null, message.outputs);
      } else if (current && message.type === 'run-error') {
        this.#settle(current, new ModelRunError(`${this.#label}: ${message.message}`));
      }
    }
    this.#watchRunning();
    this.#pump();
  }

  /** Removes an answered request from #sent (the process answers in the order it was sent to). */
  #take(id: number): Pending | undefined {
    const i = this.#sent.findIndex((p) => p.id === id);
    return i < 0 ? undefined : (this.#sent.splice(i, 1)[0] as Pending);
  }

  #onDeadline(p: Pending): void {
    if (p.settled) return;
    const sent = this.#sent.includes(p);
    // Running: sent in the oldest unanswered message (alone, or in a batch).
    const running = sent && p.message === this.#sent[0]?.message;
    this.#settle(
      p,
      new DeadlineExceeded(
        `${this.#label}: deadline of ${p.deadlineMs} ms exceeded while ${running ? 'running' : 'queued'}`,
        p.deadlineMs,
        running ? 'running' : 'queued',
      ),
    );
    if (!sent) {
      const i = this.#queue.indexOf(p);
      if (i >= 0) this.#queue.splice(i, 1);
      return;
    }
    // Sent ahead but not started: the process runs it when its turn comes (the answer is dropped), and
    // the kill timer is armed then if it is still running.
    if (running) this.#watchRunning();
  }

  /**
   * Arms the kill timer when the running request (the oldest sent) is already past its deadline: it gets a
   * grace period to answer, then the process is replaced.
   */
  #watchRunning(): void {
    const p = this.#sent[0];
    if (!p?.settled || this.#killTimer) return;
    const child = this.#child;
    const grace = this.#opts.killAfterMs ?? p.deadlineMs;
    this.#killTimer = setTimeout(() => {
      this.#killTimer = null;
      if (this.#sent[0] !== p || this.#child !== child || !child) return;
      this.#opts.log?.warn(
        { model: this.name, version: this.version, pid: child.pid, deadlineMs: p.deadlineMs, graceMs: grace },
        'model process stuck past the deadline; killing it',
      );
      child.kill('SIGKILL');
    }, grace);
  }

  #onExit(child: ChildProcess, how: string): void {
    if (child !== this.#child) return;
    this.#child = null;
    this.#ready = false;
    if (this.#killTimer) clearTimeout(this.#killTimer);
    this.#killTimer = null;
    if (this.#closed) return;
    const runningMessage = this.#sent[0]?.message;
    const current = this.#sent.filter((p) => p.message === runningMessage);
    const notStarted = this.#sent.filter((p) => p.message !== runningMessage);
    this.#sent = [];
    // Sent ahead but never started: they go back to the front of the queue, in order, for the replacement.
    for (const p of notStarted) p.message = 0;
    this.#queue.unshift(...notStarted.filter((p) => !p.settled));
    for (const p of current) {
      this.#settle(
        p,
        new ModelRestarting(
          `${this.#label}: model process ended (${how}) while running this request; restarting`,
        ),
      );
    }
    this.#failures += 1;
    const delay = this.#failures <= 1 ? 0 : Math.min(100 * 2 ** (this.#failures - 2), 10_000);
    this.#opts.log?.warn(
      { model: this.name, version: this.version, pid: child.pid, how, restartInMs: delay },
      'model process ended; restarting',
    );
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      if (this.#closed) return;
      this.#restarts += 1;
      this.#spawn().catch((err: Error) => {
        // The exit handler of the failed process schedules the next attempt.
        this.#unavailable = err.message;
        this.#opts.log?.error({ model: this.name, version: this.version, err }, 'model restart failed');
        const unavailable = new ModelUnavailable(`${this.#label} is unavailable: ${err.message}`);
        for (const p of this.#queue) this.#settle(p, unavailable);
        this.#queue = [];
      });
    }, delay);
  }

  #settle(p: Pending, err: Error | null, outputs?: Record<string, Output>): void {
    if (p.settled) return;
    p.settled = true;
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(outputs ?? {});
  }
}

/** SIGTERM, then SIGKILL if the process has not exited after CLOSE_KILL_MS; resolves on exit. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), CLOSE_KILL_MS);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
