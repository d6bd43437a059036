// A throwaway NATS server with JetStream for tests: Debian's nats-server, a temp store directory, a
// loopback port. kill() ends it; the store directory goes with it.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../ports.js';

export interface NatsServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

function binary(): string {
  const found = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p));
  if (!found)
    throw new Error('nats-server not found: run scripts/setup-test-env.sh (npm test runs it first)');
  return found;
}

/** Resolves once the port accepts connections (the server is ready), rejects when the process exits first. */
function listening(port: number, child: ChildProcess, log: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 15_000;
    let done = false;
    child.once('exit', (code) => {
      if (!done) reject(new Error(`nats-server exited (${code}) before listening:\n${log()}`));
    });
    const attempt = () => {
      const socket = createConnection({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        done = true;
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nats-server did not listen on ${port}:\n${log()}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export async function startNatsServer(): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-nats-'));
  const port = await freePort();
  const child = spawn(binary(), ['-js', '-sd', dir, '-p', String(port), '-a', '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    log += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    log += d;
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  try {
    await listening(port, child, () => log);
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
