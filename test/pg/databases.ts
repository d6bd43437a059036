import pg from 'pg';
import { inject } from 'vitest';

const TEMPLATE = 'dw_tpl';
let admin: Promise<pg.Client> | undefined;
let counter = 0;
// The admin connection is shared by a test file's databases: one statement at a time on it (pg deprecates
// queueing queries on one client).
let chain: Promise<unknown> = Promise.resolve();

async function onAdmin(text: string): Promise<void> {
  const run = chain.then(async () => {
    await (await adminClient()).query(text);
  });
  chain = run.catch(() => undefined);
  await run;
}

function adminClient(): Promise<pg.Client> {
  admin ??= (async () => {
    const client = new pg.Client({ connectionString: inject('pgUrl') });
    await client.connect();
    return client;
  })();
  return admin;
}

function urlFor(database: string): string {
  const u = new URL(inject('pgUrl'));
  u.pathname = `/${database}`;
  return u.toString();
}

/** A fresh, migrated database of its own (a copy of the template), dropped by `drop`. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `t_${process.pid}_${++counter}`;
  await onAdmin(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
  return {
    url: urlFor(name),
    drop: () => onAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
