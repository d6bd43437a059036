import { benchApp, featureRow, removeDatabase, rng } from './common.js';
const r = rng(7);
const t0 = Date.parse('2026-11-24T00:00:00Z');
const bodies: string[] = [];
let id = 0;
for (let b = 0; b < 60; b++) {
  const records = Array.from({ length: 5000 }, () => { id++; return { model: 'm', model_version: 'v1', request_id: `r-${id}`, timestamp: new Date(t0 + id * 1000).toISOString(), features: featureRow(r, 0.2), prediction: r() }; });
  bodies.push(JSON.stringify({ records }));
}
const path = `/tmp/prof-${process.pid}.db`;
removeDatabase(path);
const app = await benchApp(path);
const t1 = performance.now();
for (const body of bodies) {
  const res = await app.request('/v1/ingest', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (res.status !== 200) throw new Error(String(res.status));
}
console.log('ms', Math.round(performance.now() - t1));
await app.close();
removeDatabase(path);
