import pg from 'pg';
import { inject } from 'vitest';

const TEMPLATE = 'dw_tpl';
let admin: Promise<pg.Client> | undefined;
let counter = 0;

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
  const client = await adminClient();
  await client.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
  return {
    url: urlFor(name),
    drop: async () => {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
