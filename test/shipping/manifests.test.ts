import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { killAll, REPO_ROOT, type ServerProcess, startServerProcess } from '../server/process.js';
import { tempDir } from '../support.js';

// docker-compose.yml and deploy/**: they parse, every file they name exists in the repository, the
// Kubernetes example has what the deployment needs, and the health endpoints their probes and health
// checks name answer on a real server. Nothing here needs a container engine or a cluster.

type Json = Record<string, unknown>;

/** Every document of a YAML file (compose's `<<` merge keys resolved); fails on any parse error. */
function yamlDocuments(rel: string): Json[] {
  const docs = parseAllDocuments(readFileSync(join(REPO_ROOT, rel), 'utf8'), { merge: true });
  if (!Array.isArray(docs)) throw new Error(`${rel}: not a YAML stream`);
  for (const d of docs)
    expect(
      d.errors.map((e) => e.message),
      rel,
    ).toEqual([]);
  return docs.map((d) => d.toJS() as Json).filter((d) => d !== null);
}

function filesUnder(rel: string): string[] {
  return readdirSync(join(REPO_ROOT, rel), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => posix.join(posix.relative(REPO_ROOT, e.parentPath), e.name));
}

const yamlFiles = ['docker-compose.yml', ...filesUnder('deploy').filter((f) => /\.ya?ml$/.test(f))];
const compose = yamlDocuments('docker-compose.yml')[0] as {
  services: Record<string, Json>;
  volumes?: Json;
};
const services = Object.entries(compose.services);
const k8s = filesUnder('deploy/kubernetes')
  .filter((f) => /\.ya?ml$/.test(f))
  .flatMap((f) => yamlDocuments(f).map((doc) => ({ file: f, doc })));

const isDriftwatch = (svc: Json) => svc.build !== undefined || String(svc.image).startsWith('driftwatch:');
const exists = (rel: string) => existsSync(join(REPO_ROOT, rel));

describe('every YAML file', () => {
  it.each(yamlFiles)('%s parses, every document', (f) => {
    expect(yamlDocuments(f).length).toBeGreaterThan(0);
  });
});

describe('docker-compose.yml', () => {
  it('builds driftwatch from the Dockerfile in the repository', () => {
    const built = services.filter(([, s]) => s.build !== undefined);
    expect(built.length).toBeGreaterThan(0);
    for (const [name, s] of built) {
      const b = s.build as { context: string; dockerfile?: string };
      expect(exists(b.context), name).toBe(true);
      expect(exists(posix.join(b.context, b.dockerfile ?? 'Dockerfile')), name).toBe(true);
    }
  });

  // The dashboards and rules are another change's; until it is merged these paths fail here, as they
  // would fail `docker compose up`.
  const binds = services.flatMap(([name, s]) =>
    ((s.volumes as string[] | undefined) ?? [])
      .map((v) => v.split(':')[0] as string)
      .filter((src) => src.startsWith('./') || src.startsWith('/'))
      .map((src) => [name, src] as const),
  );
  it.each(binds)('%s mounts %s, which exists in the repository', (_name, src) => {
    expect(src.startsWith('./'), 'bind mounts are relative to the repository').toBe(true);
    expect(exists(src), src).toBe(true);
    if (statSync(join(REPO_ROOT, src)).isDirectory()) expect(filesUnder(src).length, src).toBeGreaterThan(0);
  });

  it('provisions Grafana and Prometheus from dashboards/', () => {
    const mounts = (svc: string) => ((compose.services[svc]?.volumes as string[]) ?? []).join('\n');
    expect(mounts('prometheus')).toContain('./dashboards/prometheus/rules.yml:');
    expect(mounts('grafana')).toContain('./dashboards/grafana/provisioning/datasources:');
    expect(mounts('grafana')).toContain('./dashboards/grafana/provisioning/dashboards:');
    const prom = yamlDocuments('deploy/compose/prometheus.yml')[0] as Json;
    expect(prom.rule_files).toEqual(['/etc/prometheus/rules.yml']);
    // The compose scrape job is dashboards/prometheus/scrape.yml's, with the compose service names as targets.
    const reference = (yamlDocuments('dashboards/prometheus/scrape.yml')[0] as Json).scrape_configs as Json[];
    const job = (prom.scrape_configs as Json[])[0] as Json;
    expect(job).toMatchObject({
      job_name: (reference[0] as Json).job_name,
      honor_labels: true,
      metrics_path: (reference[0] as Json).metrics_path,
    });
    expect(JSON.stringify(job.static_configs)).toContain('driftwatch:8080');
    // The files those mounts are for.
    for (const dir of [
      'dashboards/grafana/provisioning/datasources',
      'dashboards/grafana/provisioning/dashboards',
    ])
      expect(exists(dir) && readdirSync(join(REPO_ROOT, dir)).some((f) => f.endsWith('.yml')), dir).toBe(
        true,
      );
    expect(
      exists('dashboards/grafana') &&
        readdirSync(join(REPO_ROOT, 'dashboards/grafana')).some((f) => f.endsWith('.json')),
      'dashboards/grafana/*.json',
    ).toBe(true);
  });

  it('pins every image to a version, and publishes ports on loopback only', () => {
    for (const [name, s] of services) {
      expect(String(s.image), name).toMatch(/:v?\d+\.\d+(\.\d+)?(-[a-z]+)?(@sha256:[0-9a-f]{64})?$/);
      for (const p of (s.ports as string[] | undefined) ?? []) expect(p, name).toMatch(/^127\.0\.0\.1:/);
    }
  });

  it('has a mail catcher on SMTP 1025 with its UI on 8025', () => {
    const mail = compose.services.mailpit as Json;
    expect(String(mail.image)).toMatch(/^axllent\/mailpit:/);
    expect(mail.ports).toEqual(
      expect.arrayContaining([expect.stringMatching(/:1025$/), expect.stringMatching(/:8025$/)]),
    );
  });

  it("gives driftwatch a config file that driftwatch's loader accepts, sending reports to Mailpit", () => {
    const svc = compose.services.driftwatch as Json;
    const env = svc.environment as Record<string, string>;
    const target = env.DRIFTWATCH_CONFIG as string;
    expect(target, 'DRIFTWATCH_CONFIG').toMatch(/^\//);
    // The file mounted at the path DRIFTWATCH_CONFIG names, read the way `serve` in the container reads it.
    const mount = (svc.volumes as string[]).map((v) => v.split(':')).find(([, to]) => to === target);
    expect(mount, `a bind mount at ${target}`).toBeDefined();
    const source = (mount as string[])[0] as string;
    const config = loadConfig({ file: join(REPO_ROOT, source), env });

    const smtp = config.reports.smtp;
    expect(smtp?.host).toBe('mailpit');
    const mail = compose.services[smtp?.host ?? ''] as Json;
    expect(String(mail.image)).toMatch(/^axllent\/mailpit:/);
    // Mailpit's SMTP port (the container side of its mapping), without TLS and without a login.
    const containerPorts = ((mail.ports as string[]) ?? []).map((p) => Number(p.split(':').at(-1)));
    expect(containerPorts).toContain(smtp?.port);
    expect(smtp?.port).toBe(1025);
    expect(smtp?.secure).toBe(false);
    expect(smtp?.auth).toBeUndefined();
    expect(config.reports.schedules.map((r) => r.name)).toContain('daily');
    expect(JSON.stringify(svc.depends_on ?? null), 'depends_on').toContain(`"${smtp?.host}"`);
    // The links in the mails open the driftwatch port compose publishes.
    const published = (svc.ports as string[]).map((p) => p.split(':').slice(0, 2).join(':'));
    expect(published).toContain(new URL(config.notifications.externalUrl ?? 'http://unset').host);
  });

  it('has a fleet profile: PostgreSQL and two driftwatch replicas on the same database URL', () => {
    const fleet = services.filter(([, s]) => (s.profiles as string[] | undefined)?.includes('fleet'));
    const replicas = fleet.filter(([, s]) => isDriftwatch(s));
    expect(replicas).toHaveLength(2);
    const urls = replicas.map(([, s]) => (s.environment as Record<string, string>).DRIFTWATCH_DB);
    expect(new Set(urls).size).toBe(1);
    const url = new URL(urls[0] as string);
    expect(url.protocol).toBe('postgres:');
    const db = compose.services[url.hostname] as Json;
    expect((db.profiles as string[]).includes('fleet')).toBe(true);
    expect(String(db.image)).toMatch(/^postgres:/);
    for (const [, s] of replicas) expect(Object.keys(s.depends_on as Json)).toContain(url.hostname);
    // The default stack has no PostgreSQL: driftwatch keeps its SQLite file on a volume.
    const single = compose.services.driftwatch as Json;
    expect(single.profiles).toBeUndefined();
    expect((single.volumes as string[]).some((v) => /^[\w-]+:\/data$/.test(v))).toBe(true);
  });
});

interface Container {
  name: string;
  image: string;
  restartPolicy?: string;
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  securityContext?: { readOnlyRootFilesystem?: boolean };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}

const mib = (q: string) => {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`unexpected quantity ${q}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
};

const deployment = k8s.find(({ doc }) => doc.kind === 'Deployment')?.doc as {
  spec: { template: { metadata: { annotations?: Record<string, string> }; spec: Json } };
};
const pod = deployment.spec.template.spec as {
  initContainers?: Container[];
  containers: Container[];
  volumes: { name: string }[];
};
const allContainers = [...(pod.initContainers ?? []), ...pod.containers];
const sidecar = allContainers.find((c) => c.image.includes('/driftwatch:')) as Container;

describe('deploy/kubernetes', () => {
  it('kustomization.yaml names files that exist', () => {
    const kust = k8s.find(({ doc }) => doc.kind === 'Kustomization')?.doc as { resources: string[] };
    for (const r of kust.resources) expect(exists(posix.join('deploy/kubernetes', r)), r).toBe(true);
  });

  it('runs driftwatch as a sidecar next to an inference container', () => {
    expect(sidecar).toBeDefined();
    // A native sidecar: an init container that keeps running.
    expect(pod.initContainers).toContain(sidecar);
    expect(sidecar.restartPolicy).toBe('Always');
    expect(pod.containers.filter((c) => c !== sidecar).length).toBeGreaterThan(0);
  });

  it('probes readiness on /readyz and liveness on /healthz, on the health port the sidecar listens on', () => {
    expect(sidecar.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(sidecar.startupProbe?.httpGet?.path).toBe('/readyz');
    expect(sidecar.livenessProbe?.httpGet?.path).toBe('/healthz');
    const names = (sidecar.ports ?? []).map((p) => p.name);
    for (const p of [sidecar.readinessProbe, sidecar.livenessProbe, sidecar.startupProbe])
      expect(names).toContain(p?.httpGet?.port);
    // The probes' port is server.healthPort (set through DRIFTWATCH_HEALTH_PORT), not the API's.
    const probePort = (sidecar.ports ?? []).find((p) => p.name === sidecar.livenessProbe?.httpGet?.port);
    const healthEnv = (sidecar.env ?? []).find((e) => e.name === 'DRIFTWATCH_HEALTH_PORT')?.value;
    expect(Number(healthEnv)).toBe(probePort?.containerPort);
    const apiEnv = (sidecar.env ?? []).find((e) => e.name === 'DRIFTWATCH_PORT')?.value;
    expect(Number(healthEnv)).not.toBe(Number(apiEnv));
  });

  it('mounts only volumes the pod declares, /data among them', () => {
    const declared = pod.volumes.map((v) => v.name);
    for (const c of allContainers)
      for (const m of c.volumeMounts ?? []) expect(declared, c.name).toContain(m.name);
    expect(sidecar.volumeMounts?.map((m) => m.mountPath)).toContain('/data');
  });

  it('gives TMPDIR (the model cache, upload spooling) a writable volume under the read-only root', () => {
    expect(sidecar.securityContext?.readOnlyRootFilesystem).toBe(true);
    const tmp = (sidecar.env ?? []).find((e) => e.name === 'TMPDIR')?.value ?? '/tmp';
    const mount = sidecar.volumeMounts?.find((m) => m.mountPath === tmp);
    expect(mount, `a volume mounted at ${tmp}`).toBeDefined();
    expect(mount?.readOnly).not.toBe(true);
    const volume = (pod.volumes as { name: string; emptyDir?: unknown }[]).find(
      (v) => v.name === mount?.name,
    );
    expect(volume?.emptyDir).toBeDefined();
  });

  it('takes the database URL and the tokens from a Secret the example defines', () => {
    const secrets = k8s.filter(({ doc }) => doc.kind === 'Secret').map(({ doc }) => doc) as {
      metadata: { name: string };
      stringData: Record<string, string>;
    }[];
    const refs = allContainers.flatMap((c) => (c.env ?? []).flatMap((e) => e.valueFrom?.secretKeyRef ?? []));
    expect(refs.map((r) => r.key)).toEqual(expect.arrayContaining(['database-url', 'ingest-token']));
    for (const r of refs) {
      const secret = secrets.find((s) => s.metadata.name === r.name);
      expect(secret?.stringData[r.key], `${r.name}/${r.key}`).toBeDefined();
    }
    // The config file with auth.tokens comes from the Secret too, not from a ConfigMap.
    const configVolume = (pod.volumes as { name: string; secret?: { secretName: string } }[]).find(
      (v) => v.name === sidecar.volumeMounts?.find((m) => m.mountPath === '/etc/driftwatch')?.name,
    );
    expect(configVolume?.secret?.secretName).toBe('driftwatch');
  });

  it('sizes the sidecar by the measured numbers', () => {
    const req = sidecar.resources?.requests ?? {};
    const lim = sidecar.resources?.limits ?? {};
    // Benchmarks: 160-190 MiB RSS at 500 predictions/s; overload bench peak 443 MiB.
    expect(mib(req.memory as string)).toBeGreaterThanOrEqual(190);
    expect(mib(lim.memory as string)).toBeGreaterThan(443);
    expect(mib(lim.memory as string)).toBeGreaterThanOrEqual(mib(req.memory as string));
    // No CPU limit: throttling a single-threaded event loop fails liveness probes.
    expect(lim.cpu).toBeUndefined();
  });

  it('is annotated for Prometheus and has a ServiceMonitor example outside the kustomization', () => {
    const ann = deployment.spec.template.metadata.annotations ?? {};
    expect(ann['prometheus.io/path']).toBe('/metrics');
    expect(ann['prometheus.io/port']).toBe(String(sidecar.ports?.[0]?.containerPort));
    const monitor = k8s.find(({ doc }) => doc.kind === 'ServiceMonitor');
    expect(monitor?.file).toBe('deploy/kubernetes/servicemonitor.example.yaml');
    const kust = k8s.find(({ doc }) => doc.kind === 'Kustomization')?.doc as { resources: string[] };
    expect(kust.resources).not.toContain('servicemonitor.example.yaml');
  });
});

// ---- the health endpoints all of these name, on a real server -----------------------------------------

function healthPaths(): { where: string; path: string }[] {
  const out: { where: string; path: string }[] = [];
  for (const c of allContainers)
    for (const [kind, p] of Object.entries({
      readiness: c.readinessProbe,
      liveness: c.livenessProbe,
      startup: c.startupProbe,
    }))
      if (p?.httpGet && c === sidecar)
        out.push({ where: `kubernetes ${c.name} ${kind}`, path: p.httpGet.path });
  for (const [name, s] of services) {
    if (!isDriftwatch(s)) continue;
    const test = ((s.healthcheck as { test?: string[] } | undefined)?.test ?? []).join(' ');
    for (const m of test.matchAll(/http:\/\/127\.0\.0\.1:(\d+)(\/[\w-]+)/g)) {
      expect(m[1], `${name} healthcheck port`).toBe('8080');
      out.push({ where: `compose ${name} healthcheck`, path: m[2] as string });
    }
  }
  const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  for (const m of dockerfile.matchAll(/^HEALTHCHECK[\s\S]*?(\/[\w-]+)'\)/gm))
    out.push({ where: 'Dockerfile HEALTHCHECK', path: m[1] as string });
  return out;
}

describe('the health endpoints the probes and health checks name', () => {
  const paths = healthPaths();
  let server: ServerProcess;
  let cleanup = () => {};

  beforeAll(async () => {
    let dir: string;
    ({ dir, cleanup } = tempDir());
    // Tokens configured, as in the deployments: the probes must still answer without one.
    const config = join(dir, 'driftwatch.yaml');
    const hash = createHash('sha256').update(randomBytes(24).toString('hex')).digest('hex');
    writeFileSync(config, `auth:\n  tokens:\n    - { name: ops, role: admin, sha256: ${hash} }\n`);
    server = await startServerProcess(join(dir, 'dw.db'), { DRIFTWATCH_CONFIG: config });
  });
  afterAll(async () => {
    await killAll();
    cleanup();
  });

  it('are named by the Kubernetes probes, compose and the Dockerfile', () => {
    const where = paths.map((p) => p.where.split(' ')[0]);
    expect(new Set(where)).toEqual(new Set(['kubernetes', 'compose', 'Dockerfile']));
    expect(new Set(paths.map((p) => p.path))).toEqual(new Set(['/healthz', '/readyz']));
  });

  it.each(paths)('$where: $path answers 200 without a token', async ({ path }) => {
    const deadline = Date.now() + 20_000;
    let res = await fetch(server.url(path));
    while (res.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      res = await fetch(server.url(path));
    }
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toMatch(/^(ok|ready)$/);
  });

  it('and the API itself does need one', async () => {
    expect((await fetch(server.url('/v1/jobs'))).status).toBe(401);
  });
});
