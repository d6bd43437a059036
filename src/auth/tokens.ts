import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { Config, Role } from '../config/index.js';
import type { Actor } from '../context.js';

export type { Actor } from '../context.js';

interface StoredToken {
  name: string;
  role: Role;
  hash: Buffer;
}

export const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Hashes of the configured tokens; plaintext tokens from the config are not kept. */
export class TokenTable {
  private readonly tokens: StoredToken[];

  constructor(config: Pick<Config, 'auth'>) {
    this.tokens = config.auth.tokens.map((t) => ({
      name: t.name,
      role: t.role,
      hash: t.sha256 !== undefined ? Buffer.from(t.sha256, 'hex') : sha256(t.token ?? ''),
    }));
  }

  get open(): boolean {
    return this.tokens.length === 0;
  }

  /** The actor a bearer token belongs to. Compares against every token in constant time per token. */
  authenticate(token: string): Actor | null {
    const found = this.find(token);
    return found ? { name: found.name, role: found.role } : null;
  }

  /**
   * The actor a token belongs to and a fingerprint of that token (a hash of its hash, not the secret), so a
   * web UI session records which token it was opened with: rotating or removing it ends the session.
   */
  authenticateForSession(token: string): { actor: Actor; fingerprint: string } | null {
    const found = this.find(token);
    return found ? { actor: { name: found.name, role: found.role }, fingerprint: fingerprint(found) } : null;
  }

  /** The current actor of a session opened with token `name` whose fingerprint was `print`, if it still holds. */
  sessionActor(name: string, print: string): Actor | null {
    const t = this.tokens.find((x) => x.name === name && fingerprint(x) === print);
    return t ? { name: t.name, role: t.role } : null;
  }

  private find(token: string): StoredToken | null {
    const given = sha256(token);
    let found: StoredToken | null = null;
    for (const t of this.tokens) if (timingSafeEqual(given, t.hash) && found === null) found = t;
    return found;
  }
}

const fingerprint = (t: StoredToken): string =>
  createHash('sha256').update('driftwatch-ui-session:').update(t.hash).digest('hex').slice(0, 32);

const tables = new WeakMap<object, TokenTable>();

/** One table per parsed config object, built on first use. */
export function tokenTable(config: Config): TokenTable {
  let table = tables.get(config);
  if (!table) {
    table = new TokenTable(config);
    tables.set(config, table);
  }
  return table;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  // A peer address on a dual-stack socket: ::ffff:127.0.0.1.
  if (host.startsWith('::ffff:')) return isLoopback(host.slice('::ffff:'.length));
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
