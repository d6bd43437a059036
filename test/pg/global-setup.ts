// Vitest global setup of the "postgres" project: one throwaway cluster for the run and a template database
// migrated once; each test then gets its own database copied from the template (test/pg/databases.ts).
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { connectionSettings, migrateDatabase } from '../../src/store/pg/client.js';
import { startCluster } from './cluster.js';

export const TEMPLATE = 'dw_tpl';

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const cluster = await startCluster();
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TEMPLATE}`);
  await admin.end();
  await migrateDatabase(connectionSettings({ url: cluster.urlFor(TEMPLATE) }).config);
  project.provide('pgUrl', cluster.url);
  return () => cluster.stop();
}
