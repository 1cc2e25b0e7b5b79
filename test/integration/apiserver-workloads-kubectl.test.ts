// The kinds beyond the seeds' (apps/v1, batch/v1, networking.k8s.io/v1, coordination.k8s.io/v1, service
// accounts, component statuses) against real kubectl: Debian's 1.20 and the machine's 1.27 and 1.33, each
// by path (an absent one is skipped, and named so). One etcd and one apiserver (from dist/) for the file;
// kubectl gets the apiserver's admin kubeconfig and a cache dir of the test's. Validation stays on:
// kubectl 1.20 checks manifests against /openapi/v2 (protobuf), 1.27+ leave it to the server
// (fieldValidation=Strict), whose unknown-field refusals and warnings are checked here too, as are the
// scale subresource (`kubectl scale`) and watch bookmarks (raw HTTPS).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiServerProc, EtcdServer, kubectl, kubectlBinaries } from '../harness/index.js';

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
`;
const REPLICASET = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: cache
spec:
  replicas: 1
  selector:
    matchLabels:
      app: cache
  template:
    metadata:
      labels:
        app: cache
    spec:
      containers:
      - name: redis
        image: redis:7
`;
const DAEMONSET = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels:
      app: agent
  template:
    metadata:
      labels:
        app: agent
    spec:
      nodeSelector:
        kubernetes.io/os: linux
      containers:
      - name: agent
        image: busybox:1.36
        command: ["sleep", "3600"]
`;
const JOB = `apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: pi
        image: perl:5.34
        command: ["perl", "-Mbignum=bpi", "-wle", "print bpi(20)"]
`;
const CRONJOB = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: tick
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: tick
            image: busybox:1.36
            command: ["date"]
`;
const NETPOL = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-in
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes:
  - Ingress
  ingress:
  - from:
    - podSelector:
        matchLabels:
          role: client
    ports:
    - protocol: TCP
      port: 80
`;
const INGRESS = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: front
spec:
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
`;
const LEASE = `apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: leader
spec:
  holderIdentity: node-a
  leaseDurationSeconds: 15
`;
const SERVICE_ACCOUNT = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: robot
`;
const RC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: db
spec:
  replicas: 1
  selector:
    app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
      - name: db
        image: mysql:8
`;
// A field no Deployment has, and one no container has beside `image`.
const TYPO_DEPLOYMENT = DEPLOYMENT.replace('name: web\n  labels', 'name: typo\n  labels').replace('  replicas: 2\n', '  replicas: 2\n  foo: bar\n').replace('        image: nginx:1.25\n', '        image: nginx:1.25\n        imagee: nginx:1.26\n');

// The typo of the seeds' users: `imagee` for `image`. kube-apiserver's strict decoding names the unknown
// field before validation could report the image as missing.
const TYPO_POD = `apiVersion: v1
kind: Pod
metadata:
  name: typo-pod
spec:
  containers:
  - name: web
    imagee: nginx:1.25
`;

const MANIFESTS: Record<string, string> = {
  'typo-pod.yaml': TYPO_POD,
  'deployment.yaml': DEPLOYMENT,
  'replicaset.yaml': REPLICASET,
  'daemonset.yaml': DAEMONSET,
  'job.yaml': JOB,
  'cronjob.yaml': CRONJOB,
  'netpol.yaml': NETPOL,
  'ingress.yaml': INGRESS,
  'lease.yaml': LEASE,
  'sa.yaml': SERVICE_ACCOUNT,
  'rc.yaml': RC,
  'typo.yaml': TYPO_DEPLOYMENT,
};

/** kind/name as kubectl prints what it created, in MANIFESTS' order (typo.yaml aside). */
const CREATED = [
  'deployment.apps/web',
  'replicaset.apps/cache',
  'daemonset.apps/agent',
  'job.batch/pi',
  'cronjob.batch/tick',
  'networkpolicy.networking.k8s.io/deny-in',
  'ingress.networking.k8s.io/front',
  'lease.coordination.k8s.io/leader',
  'serviceaccount/robot',
  'replicationcontroller/db',
];

let dir: string;
let etcd: EtcdServer;
let srv: ApiServerProc;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'apisrv-wl-'));
  etcd = await EtcdServer.start();
  for (const [f, text] of Object.entries(MANIFESTS)) await writeFile(path.join(dir, f), text);
  srv = await ApiServerProc.start(etcd.endpoint, dir);
});

afterAll(async () => {
  await srv?.stop();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const VERSIONS = new Set(['1.20', '1.27', '1.33']);

for (const b of kubectlBinaries().filter((x) => VERSIONS.has(x.version))) {
  describe.skipIf(!b.present)(`kubectl ${b.version}${b.present ? '' : ` (absent: ${b.path})`}`, () => {
    const ns = `wl-${b.version.replace('.', '-')}`;
    const newer = b.version !== '1.20';
    const k = async (...args: string[]) => {
      const cache = path.join(dir, `cache-${b.version}`);
      await mkdir(cache, { recursive: true });
      return kubectl(b.path, srv.kubeconfig, cache, args);
    };
    const ok = async (...args: string[]) => {
      const r = await k(...args);
      expect(r.stderr + (r.code === 0 ? '' : ` (exit ${r.code})`)).not.toMatch(/exit|error|warning/i);
      return r.stdout;
    };
    const file = (f: string) => path.join(dir, f);

    it('api-resources lists the new groups with short names and categories', async () => {
      const out = await ok('api-resources');
      expect(out).toMatch(/^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
      expect(out).toMatch(/^replicasets\s+rs\s+apps\/v1\s+true\s+ReplicaSet$/m);
      expect(out).toMatch(/^daemonsets\s+ds\s+apps\/v1\s+true\s+DaemonSet$/m);
      expect(out).toMatch(/^jobs\s+batch\/v1\s+true\s+Job$/m);
      expect(out).toMatch(/^cronjobs\s+cj\s+batch\/v1\s+true\s+CronJob$/m);
      expect(out).toMatch(/^networkpolicies\s+netpol\s+networking\.k8s\.io\/v1\s+true\s+NetworkPolicy$/m);
      expect(out).toMatch(/^ingresses\s+ing\s+networking\.k8s\.io\/v1\s+true\s+Ingress$/m);
      expect(out).toMatch(/^leases\s+coordination\.k8s\.io\/v1\s+true\s+Lease$/m);
      expect(out).toMatch(/^serviceaccounts\s+sa\s+v1\s+true\s+ServiceAccount$/m);
      expect(out).toMatch(/^componentstatuses\s+cs\s+v1\s+false\s+ComponentStatus$/m);
      if (!newer) return; // --categories came with kubectl 1.21
      const all = await ok('api-resources', '--categories=all', '-o', 'name');
      expect(all.split('\n').filter(Boolean).sort()).toEqual(['cronjobs.batch', 'daemonsets.apps', 'deployments.apps', 'jobs.batch', 'pods', 'replicasets.apps', 'replicationcontrollers', 'services']);
    });

    it('creates each kind from a manifest with validation on, and lists it as a table', async () => {
      await ok('create', 'namespace', ns);
      const files = Object.keys(MANIFESTS).filter((f) => !f.startsWith('typo'));
      const created = await ok('create', '-n', ns, ...files.flatMap((f) => ['-f', file(f)]));
      for (const c of CREATED) expect(created).toContain(`${c} created`);
      const deploy = await ok('get', 'deploy', '-n', ns, '-o', 'wide');
      expect(deploy).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR\n/);
      expect(deploy).toMatch(/^web\s+0\/2\s+0\s+0\s+\d+s\s+nginx\s+nginx:1\.25\s+app=web$/m);
      expect(await ok('get', 'rs', '-n', ns)).toMatch(/^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE\ncache\s+1\s+0\s+0\s+\d+s\n$/);
      expect(await ok('get', 'ds', '-n', ns)).toMatch(/^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE\nagent\s+0\s+0\s+0\s+0\s+0\s+kubernetes\.io\/os=linux\s+\d+s\n$/);
      expect(await ok('get', 'jobs', '-n', ns)).toMatch(/^NAME\s+STATUS\s+COMPLETIONS\s+DURATION\s+AGE\npi\s+Running\s+0\/1\s+\d+s\n$/);
      expect(await ok('get', 'cj', '-n', ns)).toMatch(/^NAME\s+SCHEDULE\s+(TIMEZONE\s+)?SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+AGE\ntick\s+\*\/5 \* \* \* \*\s+(<none>\s+)?False\s+0\s+<none>\s+\d+s\n$/);
      expect(await ok('get', 'netpol', '-n', ns)).toMatch(/^NAME\s+POD-SELECTOR\s+AGE\ndeny-in\s+app=web\s+\d+s\n$/);
      expect(await ok('get', 'ing', '-n', ns)).toMatch(/^NAME\s+CLASS\s+HOSTS\s+ADDRESS\s+PORTS\s+AGE\nfront\s+<none>\s+web\.example\.com\s+80\s+\d+s\n$/);
      expect(await ok('get', 'leases', '-n', ns)).toMatch(/^NAME\s+HOLDER\s+AGE\nleader\s+node-a\s+\d+s\n$/);
      expect(await ok('get', 'sa', '-n', ns)).toMatch(/^NAME\s+(SECRETS\s+)?AGE\nrobot\s+(0\s+)?\d+s\n$/);
      const json = JSON.parse(await ok('get', 'deploy', 'web', '-n', ns, '-o', 'json')) as { metadata: { generation: number }; spec: { strategy: unknown; revisionHistoryLimit: number; template: { spec: { containers: { imagePullPolicy: string }[] } } } };
      expect(json.metadata.generation).toBe(1);
      expect(json.spec).toMatchObject({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } }, revisionHistoryLimit: 10, template: { spec: { containers: [{ imagePullPolicy: 'IfNotPresent' }] } } });
    });

    it('applies the manifests twice: created, then unchanged', async () => {
      const applied = `${ns}-apply`;
      await ok('create', 'namespace', applied);
      const files = ['deployment.yaml', 'job.yaml', 'cronjob.yaml', 'netpol.yaml', 'ingress.yaml', 'lease.yaml', 'daemonset.yaml'].flatMap((f) => ['-f', file(f)]);
      const first = await ok('apply', '-n', applied, ...files);
      expect(first).toContain('deployment.apps/web created');
      expect(first).toContain('lease.coordination.k8s.io/leader created');
      const second = await ok('apply', '-n', applied, ...files);
      for (const c of ['deployment.apps/web', 'job.batch/pi', 'networkpolicy.networking.k8s.io/deny-in', 'ingress.networking.k8s.io/front', 'lease.coordination.k8s.io/leader', 'daemonset.apps/agent']) {
        expect(second).toContain(`${c} unchanged`);
      }
      // kubectl 1.20 has no batch/v1 CronJob type: it sends a JSON merge patch, whose lists replace the
      // defaulted ones, so it says "configured" (against a real 1.32 server too); newer ones send none.
      expect(second).toContain(`cronjob.batch/tick ${newer ? 'unchanged' : 'configured'}`);
      expect(await ok('get', 'cj', 'tick', '-n', applied, '-o', 'jsonpath={.spec.jobTemplate.spec.template.spec.containers[0].image}')).toBe('busybox:1.36');
      await ok('delete', 'namespace', applied);
    });

    it('get all lists the workloads, with their groups', async () => {
      const out = await ok('get', 'all', '-n', ns);
      for (const name of ['deployment.apps/web', 'replicaset.apps/cache', 'daemonset.apps/agent', 'job.batch/pi', 'cronjob.batch/tick', 'replicationcontroller/db']) expect(out).toContain(name);
      expect(out).not.toContain('lease');
      expect(out).not.toContain('networkpolicy');
    });

    it('scales an rc and a deployment through their scale subresource', async () => {
      expect(await ok('scale', 'rc/db', '-n', ns, '--replicas=3')).toContain('replicationcontroller/db scaled');
      expect(await ok('get', 'rc', 'db', '-n', ns, '-o', 'jsonpath={.spec.replicas}')).toBe('3');
      expect(await ok('scale', 'deploy/web', '-n', ns, '--replicas=4')).toContain('deployment.apps/web scaled');
      const d = JSON.parse(await ok('get', 'deploy', 'web', '-n', ns, '-o', 'json')) as { metadata: { generation: number }; spec: { replicas: number } };
      expect(d.spec.replicas).toBe(4);
      expect(d.metadata.generation).toBe(2);
      expect(await ok('scale', 'rs/cache', '-n', ns, '--replicas=0')).toContain('replicaset.apps/cache scaled');
      const stale = await k('scale', 'deploy/web', '-n', ns, '--replicas=1', '--current-replicas=2');
      expect(stale.code).not.toBe(0);
      expect(await ok('get', 'deploy', 'web', '-n', ns, '-o', 'jsonpath={.spec.replicas}')).toBe('4');
    });

    it('describes each kind', async () => {
      for (const [what, line] of [
        ['deploy/web', /^Replicas:\s+4 desired/m],
        ['rs/cache', /^Replicas:\s+0 current \/ 0 desired/m],
        ['ds/agent', /^Selector:\s+app=agent$/m],
        ['job/pi', /^Parallelism:\s+1$/m],
        // kubectl 1.20 describes CronJobs through batch/v1beta1, which 1.32 no longer serves.
        ...(newer ? ([['cj/tick', /^Schedule:\s+\*\/5 \* \* \* \*$/m]] as const) : []),
        ['netpol/deny-in', /^Spec:$/m],
        ['ing/front', /^Rules:$/m],
        ['lease/leader', /^Kind:\s+Lease$/m],
        ['sa/robot', /^Name:\s+robot$/m],
      ] as const) {
        const out = await ok('describe', what, '-n', ns);
        expect(out, what).toMatch(/^Name:\s+\S+$/m);
        expect(out, what).toMatch(line);
      }
    });

    it('lists component statuses', async () => {
      const r = await k('get', 'cs');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^NAME\s+STATUS\s+MESSAGE\s+ERROR\n/);
      expect(r.stdout).toMatch(/^etcd-0\s+Healthy\s+\{"health":"true","reason":""\}/m);
      // No scheduler or controller-manager runs here: Unhealthy, as a real master without them shows.
      expect(r.stdout).toMatch(/^scheduler\s+Unhealthy\s+Get "https:\/\/127\.0\.0\.1:10259\/healthz": dial tcp 127\.0\.0\.1:10259: connect: connection refused/m);
      expect(r.stdout).toMatch(/^controller-manager\s+Unhealthy/m);
      expect(r.stderr).toContain('Warning: v1 ComponentStatus is deprecated in v1.19+');
    });

    it.runIf(newer)('refuses an unknown field with --validate=strict (the default), warns with --validate=warn', async () => {
      const strict = await k('create', '-n', ns, '--validate=strict', '-f', file('typo.yaml'));
      expect(strict.code).not.toBe(0);
      expect(strict.stderr).toContain('Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.foo", unknown field "spec.template.spec.containers[0].imagee"');
      const byDefault = await k('create', '-n', ns, '-f', file('typo.yaml'));
      expect(byDefault.code).not.toBe(0);
      expect(byDefault.stderr).toContain('strict decoding error: unknown field "spec.foo"');
      expect((await k('get', 'deploy', 'typo', '-n', ns)).stderr).toContain('deployments.apps "typo" not found');
      const warned = await k('create', '-n', ns, '--validate=warn', '-f', file('typo.yaml'));
      expect(warned.code).toBe(0);
      expect(warned.stderr).toContain('Warning: unknown field "spec.foo"');
      expect(warned.stderr).toContain('Warning: unknown field "spec.template.spec.containers[0].imagee"');
      // The container's image is its own, not taken as missing beside the unknown field.
      expect(await ok('get', 'deploy', 'typo', '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].image}')).toBe('nginx:1.25');
      await ok('delete', 'deploy', 'typo', '-n', ns);
      const pod = await k('create', '-n', ns, '-f', file('typo-pod.yaml'));
      expect(pod.code).not.toBe(0);
      expect(pod.stderr).toContain('Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagee"');
      expect(pod.stderr).not.toContain('Required value');
      // Accepted with a warning, the pod is then refused for what it lacks: the unknown field is dropped.
      const warnedPod = await k('create', '-n', ns, '--validate=warn', '-f', file('typo-pod.yaml'));
      expect(warnedPod.stderr).toContain('Warning: unknown field "spec.containers[0].imagee"');
      expect(warnedPod.stderr).toContain('Pod "typo-pod" is invalid: spec.containers[0].image: Required value');
    });

    it.runIf(!newer)('prints the server\'s warning for an unknown field when client-side validation is off', async () => {
      const warned = await k('create', '-n', ns, '--validate=false', '-f', file('typo.yaml'));
      expect(warned.code).toBe(0);
      expect(warned.stderr).toContain('Warning: unknown field "spec.foo"');
      await ok('delete', 'deploy', 'typo', '-n', ns);
    });

    it("creates workloads with kubectl's own generators (1.32 and later send them as protobuf)", async () => {
      const gen = `${ns}-gen`;
      await ok('create', 'namespace', gen);
      expect(await ok('create', 'deployment', 'd', '-n', gen, '--image=nginx:1.25', '--port=80', '--replicas=0')).toMatch(/deployment\.apps\/d created/);
      const d = JSON.parse(await ok('get', 'deploy', 'd', '-n', gen, '-o', 'json')) as { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> };
      expect(d.metadata.labels).toEqual({ app: 'd' });
      // replicas: 0 is kept (a pointer in Go), not dropped as a zero value.
      expect(d.spec).toMatchObject({ replicas: 0, selector: { matchLabels: { app: 'd' } }, template: { metadata: { labels: { app: 'd' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.25', ports: [{ containerPort: 80, protocol: 'TCP' }] }] } } });
      expect(await ok('create', 'job', 'j', '-n', gen, '--image=busybox:1.36', '--', 'date')).toMatch(/job\.batch\/j created/);
      const j = JSON.parse(await ok('get', 'job', 'j', '-n', gen, '-o', 'json')) as { spec: Record<string, unknown> };
      expect(j.spec).toMatchObject({ template: { spec: { restartPolicy: 'Never', containers: [{ name: 'j', image: 'busybox:1.36', command: ['date'] }] } } });
      // kubectl 1.20 creates a CronJob under batch/v1beta1, which the server serves with its deprecation warning.
      const made = await k('create', 'cronjob', 'cj', '-n', gen, '--image=busybox:1.36', '--schedule=*/1 * * * *', '--', 'date');
      expect(made.code).toBe(0);
      expect(made.stdout).toMatch(/cronjob\.batch\/cj created/);
      expect(made.stderr.trim()).toMatch(newer ? /^$/ : /^Warning: batch\/v1beta1 CronJob is deprecated/);
      const cj = JSON.parse(await ok('get', 'cronjob', 'cj', '-n', gen, '-o', 'json')) as { spec: Record<string, unknown> };
      expect(cj.spec).toMatchObject({ schedule: '*/1 * * * *', jobTemplate: { metadata: { name: 'cj' }, spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'cj', image: 'busybox:1.36', command: ['date'] }] } } } } });
      if (newer) {
        expect(await ok('create', 'ingress', 'ing', '-n', gen, '--rule=web.example.com/=d:80')).toMatch(/ingress\.networking\.k8s\.io\/ing created/);
        const ing = JSON.parse(await ok('get', 'ingress', 'ing', '-n', gen, '-o', 'json')) as { spec: Record<string, unknown> };
        expect(ing.spec).toMatchObject({ rules: [{ host: 'web.example.com', http: { paths: [{ path: '/', pathType: 'Exact', backend: { service: { name: 'd', port: { number: 80 } } } }] } }] });
      }
      await ok('delete', 'namespace', gen, '--wait=false');
    });

    it('deletes each kind', async () => {
      const out = await ok('delete', '-n', ns, ...CREATED.map((c) => c.replace(/\..*\//, '/').replace('replicationcontroller', 'rc')));
      for (const c of CREATED) expect(out).toContain(`"${c.slice(c.indexOf('/') + 1)}" deleted`);
      expect(await ok('get', 'deploy,rs,ds,jobs,cj,netpol,ing,leases,rc', '-n', ns, '-o', 'name')).toBe('');
      expect(await ok('get', 'sa', '-n', ns, '-o', 'name')).toBe('');
    });
  });
}

describe('the API as clients see it', () => {
  it('serves GET, PUT and PATCH of .../scale as autoscaling/v1 Scale', async () => {
    const body = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'sc', labels: { app: 'sc' } }, spec: { replicas: 1, selector: { matchLabels: { app: 'sc' } }, template: { metadata: { labels: { app: 'sc' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } } };
    expect((await srv.request('POST', '/apis/apps/v1/namespaces/default/replicasets', body)).status).toBe(201);
    const scale = await srv.request('GET', '/apis/apps/v1/namespaces/default/replicasets/sc/scale');
    expect(scale.json).toMatchObject({ kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'sc', namespace: 'default', resourceVersion: expect.stringMatching(/^\d+$/) }, spec: { replicas: 1 }, status: { replicas: 0, selector: 'app=sc' } });
    const rv = (scale.json as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const put = await srv.request('PUT', '/apis/apps/v1/namespaces/default/replicasets/sc/scale', { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'sc', resourceVersion: rv }, spec: { replicas: 5 } });
    expect(put.json).toMatchObject({ kind: 'Scale', spec: { replicas: 5 } });
    const stale = await srv.request('PUT', '/apis/apps/v1/namespaces/default/replicasets/sc/scale', { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'sc', resourceVersion: rv }, spec: { replicas: 6 } });
    expect(stale.json).toMatchObject({ code: 409, reason: 'Conflict' });
    const negative = await srv.request('PUT', '/apis/apps/v1/namespaces/default/replicasets/sc/scale', { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'sc' }, spec: { replicas: -1 } });
    expect(negative.json).toMatchObject({ code: 422, reason: 'Invalid', message: 'Scale.autoscaling "sc" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0' });
    const patched = await srv.request('PATCH', '/apis/apps/v1/namespaces/default/replicasets/sc/scale', '{"spec":{"replicas":2}}', undefined, { 'Content-Type': 'application/merge-patch+json' });
    expect(patched.json).toMatchObject({ kind: 'Scale', spec: { replicas: 2 } });
    const rs = (await srv.request('GET', '/apis/apps/v1/namespaces/default/replicasets/sc')).json as { metadata: { generation: number }; spec: { replicas: number } };
    expect(rs).toMatchObject({ metadata: { generation: 3 }, spec: { replicas: 2 } });
    expect((await srv.request('GET', '/apis/apps/v1/namespaces/default/daemonsets/x/scale')).json).toMatchObject({ code: 404, reason: 'NotFound' });
  });

  it('answers unknown and duplicate fields as kube-apiserver does for each fieldValidation', async () => {
    const text = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fv","name":"fv"},"data":{"a":"1"},"dta":{}}';
    const strict = await srv.request('POST', '/api/v1/namespaces/default/configmaps?fieldValidation=Strict', text);
    expect(strict.json).toMatchObject({ code: 400, reason: 'BadRequest', message: 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: duplicate field "metadata.name", unknown field "dta"' });
    const bad = await srv.request('POST', '/api/v1/namespaces/default/configmaps?fieldValidation=Loose', text);
    expect(bad.json).toMatchObject({ code: 400, reason: 'BadRequest' });
    const warned = await srv.request('POST', '/api/v1/namespaces/default/configmaps', text);
    expect(warned.status).toBe(201);
    expect(warned.headers.warning).toBe('299 - "duplicate field \\"metadata.name\\"", 299 - "unknown field \\"dta\\""');
    const patch = await srv.request('PATCH', '/api/v1/namespaces/default/configmaps/fv?fieldValidation=Strict', '{"spec":{"x":1}}', undefined, { 'Content-Type': 'application/merge-patch+json' });
    // The accepted body lost its unknown field (as decoding drops it): the patch's own is all Strict names.
    expect(patch.json).toMatchObject({ code: 422, reason: 'Invalid', details: { causes: [{ field: 'patch', message: 'Invalid value: "{\\"spec\\":{\\"x\\":1}}": strict decoding error: unknown field "spec"' }] } });
    expect((await srv.request('GET', '/api/v1/namespaces/default/configmaps/fv')).json).not.toHaveProperty('dta');
    const ignored = await srv.request('PATCH', '/api/v1/namespaces/default/configmaps/fv?fieldValidation=Ignore', '{"data":{"b":"2"}}', undefined, { 'Content-Type': 'application/merge-patch+json' });
    expect(ignored.status).toBe(200);
    expect(ignored.headers.warning).toBeUndefined();
  });

  it('sends BOOKMARK events to a watch that allows them, none to one that does not', async () => {
    const watch = (q: string) => srv.request('GET', `/apis/coordination.k8s.io/v1/namespaces/default/leases?watch=true&timeoutSeconds=4${q}`);
    const [withMarks, without] = await Promise.all([watch('&allowWatchBookmarks=true'), watch('')]);
    const events = (t: string) => t.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; object: { kind: string; apiVersion: string; metadata: Record<string, unknown> } });
    const marks = events(withMarks.text).filter((e) => e.type === 'BOOKMARK');
    expect(marks.length).toBeGreaterThanOrEqual(1);
    expect(marks[0]!.object).toEqual({ kind: 'Lease', apiVersion: 'coordination.k8s.io/v1', metadata: { resourceVersion: expect.stringMatching(/^\d+$/) } });
    expect(events(without.text).filter((e) => e.type === 'BOOKMARK')).toEqual([]);
    // A watch resumed from the bookmark's revision misses nothing made after it.
    const from = marks.at(-1)!.object.metadata.resourceVersion as string;
    const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'after-mark' }, spec: { holderIdentity: 'x' } };
    expect((await srv.request('POST', '/apis/coordination.k8s.io/v1/namespaces/default/leases', lease)).status).toBe(201);
    const resumed = await srv.request('GET', `/apis/coordination.k8s.io/v1/namespaces/default/leases?watch=true&timeoutSeconds=1&resourceVersion=${from}`);
    expect(events(resumed.text).map((e) => `${e.type} ${String(e.object.metadata.name)}`)).toContain('ADDED after-mark');
  });
});
