// The Grafana dashboards are valid JSON that work both imported and file-provisioned (the datasource is a
// variable), their panel ids are unique, and the provisioning files parse and point at files that exist.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  alertRules,
  allPanels,
  DASHBOARDS,
  prometheusBinaries,
  ROOT,
  readDashboard,
  SCRAPE,
} from './prometheus.js';

const GRAFANA = join(ROOT, 'dashboards/grafana');
// Grafana's variable syntax, not a template literal.
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${datasource}
const DATASOURCE_UID = '${datasource}';
const DS = { type: 'prometheus', uid: DATASOURCE_UID };

describe.each(DASHBOARDS.map((f) => [f.slice(ROOT.length + 1), f]))('%s', (_name, file) => {
  it('is valid JSON with a title, uid and panels', () => {
    const d = JSON.parse(readFileSync(file, 'utf8'));
    expect(d.uid).toMatch(/^driftwatch-[a-z-]+$/);
    expect(d.title).toMatch(/^driftwatch \/ /);
    expect(d.panels.length).toBeGreaterThan(5);
    expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
  });

  it('has the datasource variable (type datasource, query prometheus) and uses it everywhere', () => {
    const d = readDashboard(file);
    const ds = d.templating.list.find((v) => v.name === 'datasource');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const v of d.templating.list.filter((v) => v.type === 'query')) {
      expect((v as unknown as { datasource: unknown }).datasource, v.name).toEqual(DS);
    }
    for (const p of allPanels(d).filter((p) => p.type !== 'row')) {
      expect((p as unknown as { datasource: unknown }).datasource, p.title).toEqual(DS);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) {
        expect((t as unknown as { datasource: unknown }).datasource, `${p.title} ${t.refId}`).toEqual(DS);
      }
    }
    // no datasource is named by a concrete uid or name anywhere
    const raw = readFileSync(file, 'utf8');
    const uids = [...raw.matchAll(/"uid": "([^"]*)"/g)].map(([, uid]) => uid);
    expect(uids.filter((u) => u !== DATASOURCE_UID && u !== '-- Grafana --' && u !== d.uid)).toEqual([]);
    expect(raw).not.toContain('__inputs');
  });

  it('has unique panel ids and refIds, and panels on the 24-column grid', () => {
    const panels = allPanels(readDashboard(file));
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      const pos = (p as unknown as { gridPos: { x: number; w: number; h: number } }).gridPos;
      expect(pos.x + pos.w, p.title).toBeLessThanOrEqual(24);
      expect(pos.h, p.title).toBeGreaterThan(0);
    }
  });

  it('filters by the model variable it declares', () => {
    const d = readDashboard(file);
    const names = new Set(d.templating.list.map((v) => v.name));
    expect(names.has('model')).toBe(true);
    for (const p of allPanels(d)) {
      for (const t of p.targets ?? []) {
        for (const [, v] of t.expr.matchAll(/\$\{?(\w+)\}?/g)) {
          if (v?.startsWith('__')) continue;
          expect(names.has(v ?? ''), `${p.title}: $${v}`).toBe(true);
        }
      }
    }
  });
});

describe('dashboards', () => {
  it('have distinct uids', () => {
    const uids = DASHBOARDS.map((f) => readDashboard(f).uid);
    expect(new Set(uids).size).toBe(uids.length);
  });

  it('operations has model and model_version variables; drift has model and feature', () => {
    const vars = (f: string) => readDashboard(f).templating.list.map((v) => v.name);
    expect(vars(join(GRAFANA, 'operations.json'))).toEqual(['datasource', 'model', 'model_version']);
    expect(vars(join(GRAFANA, 'drift.json'))).toEqual(['datasource', 'model', 'feature']);
  });
});

describe('Grafana provisioning', () => {
  const dir = join(GRAFANA, 'provisioning');

  it('datasource file parses and provisions a Prometheus datasource', () => {
    const files = readdirSync(join(dir, 'datasources')).filter((f) => f.endsWith('.yml'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const doc = parse(readFileSync(join(dir, 'datasources', f), 'utf8'));
      expect(doc.apiVersion).toBe(1);
      expect(doc.datasources).toEqual([
        expect.objectContaining({ type: 'prometheus', access: 'proxy', url: expect.stringMatching(/^http/) }),
      ]);
    }
  });

  it('dashboard provider parses and its path, mounted as documented, holds the dashboards', () => {
    const files = readdirSync(join(dir, 'dashboards')).filter((f) => f.endsWith('.yml'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const text = readFileSync(join(dir, 'dashboards', f), 'utf8');
      const doc = parse(text);
      expect(doc.apiVersion).toBe(1);
      expect(doc.providers.length).toBe(1);
      const provider = doc.providers[0];
      expect(provider.type).toBe('file');
      const path: string = provider.options.path;
      // The file documents which repository directory is mounted at the provider's path.
      const mount = new RegExp(
        `- \\./([\\w/.-]+):${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?::ro)?\\s*$`,
        'm',
      );
      const source = mount.exec(text)?.[1];
      expect(source, 'a "- ./<dir>:<provider path>" mount line').toBeDefined();
      const local = join(ROOT, source ?? '');
      expect(local).toBe(GRAFANA);
      const json = readdirSync(local)
        .filter((n) => n.endsWith('.json'))
        .map((n) => join(local, n))
        .sort();
      expect(json).toEqual([...DASHBOARDS].sort());
      // and the provisioning mount line points at this directory
      const provisioning = /- \.\/([\w/.-]+):\/etc\/grafana\/provisioning(?::ro)?\s*$/m.exec(text)?.[1];
      expect(provisioning && existsSync(join(ROOT, provisioning, 'dashboards', f))).toBe(true);
    }
  });
});

describe('Prometheus scrape config', () => {
  it('parses, scrapes driftwatch with honor_labels and loads rules.yml that exists', () => {
    const doc = parse(readFileSync(SCRAPE, 'utf8'));
    const job = doc.scrape_configs.find((j: { job_name: string }) => j.job_name === 'driftwatch');
    expect(job).toMatchObject({ honor_labels: true, metrics_path: '/metrics' });
    expect(job.static_configs[0].targets.length).toBeGreaterThan(0);
    for (const r of doc.rule_files) expect(existsSync(join(ROOT, 'dashboards/prometheus', r)), r).toBe(true);
  });

  it('promtool check config accepts it (and the rules it loads)', () => {
    const { promtool } = prometheusBinaries();
    const out = execFileSync(promtool, ['check', 'config', SCRAPE], { encoding: 'utf8' });
    expect(out).toContain('SUCCESS');
    expect(out).toContain(`SUCCESS: ${alertRules().length} rules found`);
  });
});
