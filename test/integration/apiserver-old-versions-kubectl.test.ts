// Seed 003's manifests as its user typed them (apps/v1beta1 Deployment, extensions/v1beta1 NetworkPolicy and
// Ingress, batch/v1beta1 CronJob, a ConfigMap, a Secret, a Job) against real kubectl, both generations:
// Debian's 1.20 (validating with /openapi/v2) and the machine's 1.27 and 1.33 (leaving it to the server).
// The old versions are views of the stored current kinds: what is created in one is read in the other,
// stored once at the current kind's etcd key. One etcd and one apiserver (from dist/) for the file.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiServerProc,
  EtcdServer,
  kubectl,
  kubectlBinaries,
  SEED_003_CONFIGMAP,
  SEED_003_CRONJOB,
  SEED_003_DEPLOYMENT,
  SEED_003_INGRESS,
  SEED_003_JOB,
  SEED_003_NETWORK_POLICY,
  SEED_003_SECRET,
} from '../harness/index.js';

// What a user of each broken slide meant: the ConfigMap's block indented under its key, the Job's
// restartPolicy moved to the pod.
const CONFIGMAP_FIXED = SEED_003_CONFIGMAP.replace(/^ {2}(very|can|such)/gm, '    $1');
const JOB_FIXED = SEED_003_JOB.replace('        restartPolicy: Never\n', '').replace('    spec:\n      containers:', '    spec:\n      restartPolicy: Never\n      containers:');

// Made in the current version, to be read in the old one.
const MADE_V1 = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: made-v1
spec:
  selector:
    matchLabels:
      app: made-v1
  template:
    metadata:
      labels:
        app: made-v1
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
`;

const MANIFESTS: Record<string, string> = {
  'made-v1.yaml': MADE_V1,
  'deployment.yaml': SEED_003_DEPLOYMENT,
  'configmap.yaml': SEED_003_CONFIGMAP,
  'configmap-fixed.yaml': CONFIGMAP_FIXED,
  'secret.yaml': SEED_003_SECRET,
  'netpol.yaml': SEED_003_NETWORK_POLICY,
  'ingress.yaml': SEED_003_INGRESS,
  'job.yaml': SEED_003_JOB,
  'job-fixed.yaml': JOB_FIXED,
  'cronjob.yaml': SEED_003_CRONJOB,
};

const DEPRECATED = {
  deployment: 'apps/v1beta1 Deployment is deprecated in v1.9+, unavailable in v1.16+; use apps/v1 Deployment',
  ingress: 'extensions/v1beta1 Ingress is deprecated in v1.14+, unavailable in v1.22+; use networking.k8s.io/v1 Ingress',
  cronjob: 'batch/v1beta1 CronJob is deprecated in v1.21+, unavailable in v1.25+; use batch/v1 CronJob',
};

let dir: string;
let etcd: EtcdServer;
let srv: ApiServerProc;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'apisrv-old-'));
  etcd = await EtcdServer.start();
  for (const [f, text] of Object.entries(MANIFESTS)) await writeFile(path.join(dir, f), text);
  srv = await ApiServerProc.start(etcd.endpoint, dir);
});

afterAll(async () => {
  await srv?.stop();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Json = Record<string, unknown> & { metadata: { uid: string; resourceVersion: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: Record<string, unknown> };

const VERSIONS = new Set(['1.20', '1.27', '1.33']);

for (const b of kubectlBinaries().filter((x) => VERSIONS.has(x.version))) {
  // The seed's NetworkPolicy and Ingress name their namespace (scratch): each kubectl has it to itself in
  // turn, and removes what it created at the end.
  describe.skipIf(!b.present)(`kubectl ${b.version}${b.present ? '' : ` (absent: ${b.path})`}`, () => {
    const newer = b.version !== '1.20';
    const k = async (...args: string[]) => {
      const cache = path.join(dir, `cache-${b.version}`);
      await mkdir(cache, { recursive: true });
      return kubectl(b.path, srv.kubeconfig, cache, args);
    };
    /** Succeeds with no error on stderr; the deprecation warnings of the old versions are the only ones allowed. */
    const ok = async (...args: string[]) => {
      const r = await k(...args);
      const stderr = r.stderr
        .split('\n')
        .filter((l) => l && !/^Warning: .* is deprecated in v1\.\d+\+, unavailable in v1\.\d+\+; use /.test(l))
        .join('\n');
      expect(stderr + (r.code === 0 ? '' : ` (exit ${r.code}) ${r.stderr}`)).toBe('');
      return r;
    };
    const json = async (...args: string[]): Promise<Json> => JSON.parse((await ok(...args, '-o', 'json')).stdout) as Json;
    const file = (f: string) => path.join(dir, f);
    const seedFiles = (): string[] => ['deployment.yaml', 'secret.yaml', 'ingress.yaml', 'cronjob.yaml'].flatMap((f) => ['-f', file(f)]);

    it('discovery lists the old versions, each group preferring its current one', async () => {
      await k('create', 'namespace', 'scratch');
      const versions = (await ok('api-versions')).stdout.split('\n');
      for (const gv of ['apps/v1', 'apps/v1beta1', 'batch/v1', 'batch/v1beta1', 'extensions/v1beta1', 'networking.k8s.io/v1']) expect(versions).toContain(gv);
      const apps = JSON.parse((await ok('get', '--raw', '/apis/apps')).stdout) as { preferredVersion: { version: string }; versions: { version: string }[] };
      expect(apps.preferredVersion.version).toBe('v1');
      expect(apps.versions.map((v) => v.version)).toEqual(['v1', 'v1beta1']);
      const resources = (await ok('api-resources')).stdout;
      expect(resources).toMatch(/^deployments\s+extensions\/v1beta1\s+true\s+Deployment$/m);
      expect(resources).toMatch(/^ingresses\s+extensions\/v1beta1\s+true\s+Ingress$/m);
      expect(resources).toMatch(/^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
    });

    it("creates the seed's Deployment, Secret, Ingress and CronJob as written, with the deprecation warnings", async () => {
      const r = await ok('create', '-n', 'scratch', ...seedFiles());
      expect(r.stdout).toContain('deployment.apps/sise-deploy created');
      expect(r.stdout).toContain('secret/mariadb-secrets created');
      expect(r.stdout).toContain('ingress.extensions/registry created');
      expect(r.stdout).toContain('cronjob.batch/hello created');
      for (const w of Object.values(DEPRECATED)) expect(r.stderr).toContain(`Warning: ${w}`);
    });

    it('reads them back in the current versions, with the old versions’ defaults and conversions', async () => {
      const d = await json('get', 'deploy', 'sise-deploy', '-n', 'scratch');
      expect(d.apiVersion).toBe('apps/v1');
      expect(d.metadata.labels).toEqual({ app: 'sise' });
      expect(d.spec).toMatchObject({
        replicas: 2,
        selector: { matchLabels: { app: 'sise' } },
        revisionHistoryLimit: 2,
        progressDeadlineSeconds: 600,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      });
      const ing = await json('get', 'ingress', 'registry', '-n', 'scratch');
      expect(ing.apiVersion).toBe('networking.k8s.io/v1');
      expect(ing.spec.rules).toEqual([
        { host: 'registry.scratch.ioudaas.no', http: { paths: [{ path: '/', pathType: 'ImplementationSpecific', backend: { service: { name: 'registry', port: { number: 5000 } } } }] } },
      ]);
      expect(ing.metadata.annotations).toEqual({ 'kubernetes.io/tls-acme': 'true' });
      const cj = await json('get', 'cronjob', 'hello', '-n', 'scratch');
      expect(cj.apiVersion).toBe('batch/v1');
      expect(cj.spec).toMatchObject({ schedule: '*/1 * * * *', concurrencyPolicy: 'Allow', successfulJobsHistoryLimit: 3 });
      const s = await json('get', 'secret', 'mariadb-secrets', '-n', 'scratch');
      expect(s).toMatchObject({ type: 'Opaque', data: { root: 'cG9ydHVz' } });
      expect((await ok('get', 'deploy', '-n', 'scratch')).stdout).toMatch(/^sise-deploy\s+0\/2\s+0\s+0\s+\d+s$/m);
      // kubectl 1.20 describes a CronJob through batch/v1beta1.
      expect((await ok('describe', 'cronjob', 'hello', '-n', 'scratch')).stdout).toMatch(/^Schedule:\s+\*\/1 \* \* \* \*$/m);
      expect((await ok('get', 'ing', '-n', 'scratch')).stdout).toMatch(/^registry\s+<none>\s+registry\.scratch\.ioudaas\.no\s+80, 443\s+\d+s$/m);
    });

    it('reads the same objects in the old versions, by kubectl and by raw path, stored once at the current key', async () => {
      const cur = await json('get', 'deploy', 'sise-deploy', '-n', 'scratch');
      const old = await json('get', 'deployments.v1beta1.apps', 'sise-deploy', '-n', 'scratch');
      expect(old.apiVersion).toBe('apps/v1beta1');
      expect(old.metadata.uid).toBe(cur.metadata.uid);
      expect(old.metadata.resourceVersion).toBe(cur.metadata.resourceVersion);
      const ext = JSON.parse((await ok('get', '--raw', '/apis/extensions/v1beta1/namespaces/scratch/deployments/sise-deploy')).stdout) as Json;
      expect(ext).toMatchObject({ apiVersion: 'extensions/v1beta1', kind: 'Deployment', metadata: { uid: cur.metadata.uid } });
      const ing = await json('get', 'ingresses.v1beta1.extensions', 'registry', '-n', 'scratch');
      expect(ing.apiVersion).toBe('extensions/v1beta1');
      expect(ing.spec.rules).toEqual([{ host: 'registry.scratch.ioudaas.no', http: { paths: [{ path: '/', pathType: 'ImplementationSpecific', backend: { serviceName: 'registry', servicePort: 5000 } }] } }]);
      const cj = await json('get', 'cronjobs.v1beta1.batch', 'hello', '-n', 'scratch');
      expect(cj.apiVersion).toBe('batch/v1beta1');
      // One key each, holding the current version.
      const keys = (await etcd.ctl(['get', '/registry/', '--prefix', '--keys-only'])).split('\n').filter((l) => l.includes('/scratch/'));
      expect(keys.filter((l) => l.includes('sise-deploy'))).toEqual(['/registry/deployments/scratch/sise-deploy']);
      expect(keys.filter((l) => l.endsWith('/registry'))).toEqual(['/registry/ingress/scratch/registry']);
      expect(JSON.parse((await etcd.ctl(['get', '/registry/deployments/scratch/sise-deploy', '--print-value-only'])).trim())).toMatchObject({ spec: { selector: { matchLabels: { app: 'sise' } } } });
      // Tables and field selectors in the old versions are the current kind's.
      const table = (await ok('get', 'deployments.v1beta1.extensions', '-n', 'scratch', '--field-selector', 'metadata.name=sise-deploy')).stdout;
      expect(table).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\nsise-deploy\s+0\/2\s+0\s+0\s+\d+s\n$/);
      const none = await k('get', 'ingresses.v1beta1.extensions', '-n', 'scratch', '--field-selector', 'metadata.name=nope');
      expect([none.code, none.stdout, none.stderr.trim().split('\n').at(-1)]).toEqual([0, '', 'No resources found in scratch namespace.']);
    });

    it('reads an object created as apps/v1 in v1beta1, and watches convert each event', async () => {
      await ok('create', '-n', 'scratch', '-f', file('made-v1.yaml'));
      const old = JSON.parse((await ok('get', '--raw', '/apis/extensions/v1beta1/namespaces/scratch/deployments/made-v1')).stdout) as Json;
      expect(old).toMatchObject({ apiVersion: 'extensions/v1beta1', spec: { selector: { matchLabels: { app: 'made-v1' } }, revisionHistoryLimit: 10 } });
      const rv = old.metadata.resourceVersion;
      await ok('label', 'deploy', 'made-v1', '-n', 'scratch', 'seen=yes');
      const watched = (await ok('get', '--raw', `/apis/apps/v1beta1/namespaces/scratch/deployments?watch=1&resourceVersion=${rv}&timeoutSeconds=2`)).stdout;
      const events = watched
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type: string; object: Json });
      expect(events.map((e) => [e.type, e.object.apiVersion, e.object.metadata.labels?.seen])).toEqual([['MODIFIED', 'apps/v1beta1', 'yes']]);
      await ok('delete', 'deploy', 'made-v1', '-n', 'scratch');
    });

    it('applies the old manifests: configured over the created ones, then unchanged', async () => {
      // Created without apply: kubectl adds its last-applied annotation, and warns of each object it adds it to.
      const first = await k('apply', '-n', 'scratch', ...seedFiles());
      expect(first.code).toBe(0);
      expect(first.stderr.match(/is missing the kubectl\.kubernetes\.io\/last-applied-configuration annotation/g)).toHaveLength(4);
      expect(first.stderr).not.toMatch(/error/i);
      expect(first.stdout).toContain('deployment.apps/sise-deploy configured');
      expect(first.stdout).toContain('ingress.extensions/registry configured');
      const second = await ok('apply', '-n', 'scratch', ...seedFiles());
      for (const c of ['deployment.apps/sise-deploy', 'secret/mariadb-secrets', 'cronjob.batch/hello']) expect(second.stdout).toContain(`${c} unchanged`);
      // An Ingress's rules are replaced whole by a patch (they have no merge key), and the server's hold the
      // pathType it defaulted: kubectl sends them again each time, as against a real server.
      expect(second.stdout).toContain('ingress.extensions/registry configured');
      const ing = await json('get', 'ingresses.v1beta1.extensions', 'registry', '-n', 'scratch');
      expect(ing.spec.rules).toEqual([{ host: 'registry.scratch.ioudaas.no', http: { paths: [{ path: '/', pathType: 'ImplementationSpecific', backend: { serviceName: 'registry', servicePort: 5000 } }] } }]);
      expect(ing.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toContain('"apiVersion":"extensions/v1beta1"');
    });

    it('refuses the NetworkPolicy as printed (its ports at the spec), and takes it without validation, ports dropped', async () => {
      const bad = await k('create', '-f', file('netpol.yaml'));
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(newer ? /strict decoding error: unknown field "spec\.ports"/ : /unknown field "ports" in io\.k8s\.api\.extensions\.v1beta1\.NetworkPolicySpec/);
      // kubectl 1.20 sends no fieldValidation: the server's default (Warn) drops the field and says so.
      const r = await k('create', '--validate=false', '-f', file('netpol.yaml'));
      expect(r.code).toBe(0);
      if (!newer) expect(r.stderr).toContain('Warning: unknown field "spec.ports"');
      else expect(r.stderr).not.toContain('unknown field');
      expect(r.stdout).toContain('networkpolicy.extensions/portus-registry created');
      const np = await json('get', 'netpol', 'portus-registry', '-n', 'scratch');
      expect(np.apiVersion).toBe('networking.k8s.io/v1');
      expect(np.spec).toEqual({
        podSelector: { matchLabels: { app: 'registry', tier: 'registry' } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { name: 'kube-ingress' } } }, { podSelector: { matchLabels: { app: 'portus', tier: 'registry' } } }] }],
        policyTypes: ['Ingress'],
      });
    });

    it('refuses the ConfigMap as printed (YAML), and creates it indented', async () => {
      const bad = await k('create', '-n', 'scratch', '-f', file('configmap.yaml'));
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/yaml|YAML/);
      await ok('create', '-n', 'scratch', '-f', file('configmap-fixed.yaml'));
      const cm = await json('get', 'configmap', 'myapp-config', '-n', 'scratch');
      expect(cm.data).toEqual({ key: 'value', newKey: 'very long value that\ncan span multiple lines\nsuch as s config file\n' });
    });

    it("refuses the Job as printed (restartPolicy on the container), and creates it with the pod's", async () => {
      const bad = await k('create', '-n', 'scratch', '-f', file('job.yaml'));
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain('The Job "pi-with-timeout" is invalid');
      expect(bad.stderr).toContain('spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"');
      const r = await ok('create', '-n', 'scratch', '-f', file('job-fixed.yaml'));
      expect(r.stdout).toContain('job.batch/pi-with-timeout created');
    });

    it('deletes through the old versions what it created', async () => {
      await ok('delete', '-n', 'scratch', ...seedFiles(), '-f', file('configmap-fixed.yaml'), '-f', file('job-fixed.yaml'));
      await ok('delete', 'networkpolicies.v1beta1.extensions', 'portus-registry', '-n', 'scratch');
      const left = (await k('get', 'deploy,ing,cj,netpol,cm,secret,job', '-n', 'scratch', '-o', 'name')).stdout;
      expect(left.split('\n').filter((l) => l && !l.includes('kube-root-ca') && !l.includes('default-token'))).toEqual([]);
    });
  });
}
