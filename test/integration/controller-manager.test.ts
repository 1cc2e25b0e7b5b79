// kube-controller-manager (its own identity, system:kube-controller-manager) against one real etcd and one
// real kube-apiserver under --authorization-mode=Node,RBAC (both from dist/), driven
// by the real kubectl 1.20: the replication manager keeps RCs and RSs at their replica count with
// owned pods (ownerReferences, generateName), scales up and down (the right pods go), replaces a
// deleted pod, adopts a matching orphan, releases a relabelled pod, and writes the status that
// `kubectl get rc` shows. No kubelets: the test marks pods Running/Ready through pods/status itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APISERVER_BIN, ApiServerProc, DB_RC, EtcdServer, freePort, kubectl, kubectlBinaries, SECURE_APISERVER_ARGS } from '../harness/index.js';

type Obj = Record<string, any>;

const CM_BIN = path.join(path.dirname(path.dirname(APISERVER_BIN)), 'controllers', 'main.js');
const KUBECTL = kubectlBinaries().find((b) => b.version === '1.20')!;

const ADOPTER_RC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: adopter
spec:
  replicas: 1
  selector:
    app: adopt
  template:
    metadata:
      labels:
        app: adopt
    spec:
      containers:
      - name: c
        image: busybox
`;
const ORPHAN = `apiVersion: v1
kind: Pod
metadata:
  name: orphan
  labels:
    app: adopt
spec:
  containers:
  - name: c
    image: busybox
`;
const RS = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: cache
spec:
  replicas: 2
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

let dir: string;
let etcd: EtcdServer | undefined;
let srv: ApiServerProc | undefined;
/** kube-controller-manager's own kubeconfig (system:kube-controller-manager): its bootstrap rights only. */
let cmConfig: string;
let cm: ChildProcess | undefined;
let standby: ChildProcess | undefined;
let healthPort: number;

const kc = (...args: string[]) => kubectl(KUBECTL.path, srv!.kubeconfig, path.join(dir, 'kube-cache'), args);

/** Polls `fn` until `ok` holds (bounded: 150 tries within `ms`); the last value. */
async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await fn();
  for (let i = 0; i < 150 && !ok(v) && Date.now() < deadline; i++) {
    await new Promise((r) => setTimeout(r, 100));
    v = await fn();
  }
  return v;
}

/** The active (not being deleted) pods that match the label selector. */
async function pods(selector: string): Promise<Obj[]> {
  const r = await srv!.request('GET', `/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(selector)}`);
  return ((r.json as Obj).items as Obj[]).filter((p) => !p.metadata.deletionTimestamp);
}
const names = (ps: Obj[]) => ps.map((p) => p.metadata.name as string).sort();

async function markReady(name: string): Promise<void> {
  const cur = (await srv!.request('GET', `/api/v1/namespaces/default/pods/${name}`)).json as Obj;
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  cur.status = { ...cur.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }] };
  const r = await srv!.request('PUT', `/api/v1/namespaces/default/pods/${name}/status`, cur);
  expect(r.status, r.text).toBe(200);
}

async function rcStatus(name: string): Promise<Obj> {
  return ((await srv!.request('GET', `/api/v1/namespaces/default/replicationcontrollers/${name}`)).json as Obj).status ?? {};
}

/** A kube-controller-manager from dist/, its log in the test's dir. */
async function startCm(name: string, port: number): Promise<ChildProcess> {
  const args = [CM_BIN, `--kubeconfig=${cmConfig}`, '--bind-address=127.0.0.1', `--secure-port=${port}`, `--cert-dir=${path.join(dir, `${name}-certs`)}`, '--leader-elect-lease-duration=6s', '--leader-elect-renew-deadline=4s', '--leader-elect-retry-period=1s', '--log-level=debug'];
  const log = createWriteStream(path.join(dir, `${name}.log`));
  const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout?.pipe(log);
  p.stderr?.pipe(log);
  return p;
}

async function stopCm(p: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill(signal);
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  if (p.exitCode === null && p.signalCode === null) {
    p.kill('SIGKILL');
    await exited;
  }
}

const holder = async (): Promise<string | undefined> => ((await srv!.request('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager')).json as Obj | undefined)?.spec?.holderIdentity;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kcm-'));
  etcd = await EtcdServer.start();
  srv = await ApiServerProc.start(etcd.endpoint, dir, SECURE_APISERVER_ARGS);
  cmConfig = await srv.kubeconfigOf('kube-controller-manager');
  for (const [f, t] of Object.entries({ 'db-rc.yaml': DB_RC, 'adopter.yaml': ADOPTER_RC, 'orphan.yaml': ORPHAN, 'rs.yaml': RS })) await writeFile(path.join(dir, f), t);
  healthPort = await freePort();
  cm = await startCm('kcm-a', healthPort);
}, 60_000);

afterAll(async () => {
  await stopCm(cm);
  await stopCm(standby);
  if (process.env.KCM_TEST_LOG) for (const f of ['kcm-a.log', 'kcm-b.log']) process.stderr.write(await readFile(path.join(dir, f), 'utf8').catch(() => ''));
  await srv?.stop();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!KUBECTL.present)('kube-controller-manager: the replication manager', () => {
  it('leads on its Lease and answers /healthz on the secure port', async () => {
    const lease = await until(
      () => srv!.request('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager'),
      (r) => r.status === 200,
    );
    expect(lease.status, lease.text).toBe(200);
    expect((lease.json as Obj).spec.holderIdentity).toMatch(/_/);
    const { request } = await import('node:https');
    const body = await new Promise<string>((resolve, reject) => {
      request(`https://127.0.0.1:${healthPort}/healthz`, { rejectUnauthorized: false, timeout: 5_000 }, (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${b}`));
      })
        .on('error', reject)
        .end();
    });
    expect(body).toBe('200 ok');
  });

  it('kubectl create -f db-rc.yaml makes 2 owned pods, with events', async () => {
    const r = await kc('create', '-f', path.join(dir, 'db-rc.yaml'));
    expect(r.code, r.stderr).toBe(0);
    const ps = await until(() => pods('selectorname=db'), (p) => p.length === 2);
    expect(ps).toHaveLength(2);
    const rc = ((await srv!.request('GET', '/api/v1/namespaces/default/replicationcontrollers/db-controller')).json as Obj).metadata;
    for (const p of ps) {
      expect(p.metadata.generateName).toBe('db-controller-');
      expect(p.metadata.name).toMatch(/^db-controller-[a-z0-9]{5}$/);
      expect(p.metadata.labels).toEqual({ name: 'db', selectorname: 'db' });
      expect(p.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'ReplicationController', name: 'db-controller', uid: rc.uid, controller: true, blockOwnerDeletion: true }]);
    }
    const evs = await until(
      async () => (((await srv!.request('GET', '/api/v1/namespaces/default/events')).json as Obj).items as Obj[]).filter((e) => e.reason === 'SuccessfulCreate' && e.involvedObject.name === 'db-controller'),
      (e) => e.length === 2,
    );
    expect(evs.map((e) => e.message).sort()).toEqual(names(ps).map((n) => `Created pod: ${n}`));
    const st = await until(() => rcStatus('db-controller'), (s) => s.replicas === 2 && s.observedGeneration === rc.generation);
    expect(st).toMatchObject({ replicas: 2, fullyLabeledReplicas: 2, observedGeneration: rc.generation });
  });

  it('scales to 3, follows readiness in the status and kubectl get rc, then to 1 deleting the not-ready and newest first', async () => {
    expect((await kc('scale', 'rc', 'db-controller', '--replicas=3')).code).toBe(0);
    const three = await until(() => pods('selectorname=db'), (p) => p.length === 3);
    expect(three).toHaveLength(3);
    // The two oldest become ready; the newest stays not ready.
    const byAge = [...three].sort((a, b) => (a.metadata.creationTimestamp < b.metadata.creationTimestamp ? -1 : a.metadata.creationTimestamp > b.metadata.creationTimestamp ? 1 : 0));
    const [first, second, third] = byAge.map((p) => p.metadata.name as string);
    await markReady(first!);
    await new Promise((r) => setTimeout(r, 1_100)); // a later Ready time for the second
    await markReady(second!);
    const st = await until(() => rcStatus('db-controller'), (s) => s.readyReplicas === 2);
    expect(st).toMatchObject({ replicas: 3, readyReplicas: 2, availableReplicas: 2 });
    const get = await kc('get', 'rc', 'db-controller');
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout.split('\n')[0]).toMatch(/^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE/);
    expect(get.stdout.split('\n')[1]).toMatch(/^db-controller\s+3\s+3\s+2\s+/);
    expect((await kc('scale', 'rc', 'db-controller', '--replicas=1')).code).toBe(0);
    const one = await until(() => pods('selectorname=db'), (p) => p.length === 1);
    // The not-ready pod goes first, then the one ready for less time: the first one stays.
    expect(names(one)).toEqual([first]);
    expect(third).toBeDefined();
    // The events are written after the deletions: wait for them too.
    const dels = await until(
      async () => (((await srv!.request('GET', '/api/v1/namespaces/default/events')).json as Obj).items as Obj[]).filter((e) => e.reason === 'SuccessfulDelete').map((e) => e.message as string),
      (d) => d.length >= 2,
    );
    expect(dels.sort()).toEqual([`Deleted pod: ${second}`, `Deleted pod: ${third}`].sort());
    const after = await until(() => rcStatus('db-controller'), (s) => s.replicas === 1);
    expect(after).toMatchObject({ replicas: 1, readyReplicas: 1 });
  });

  it('a deleted pod is replaced', async () => {
    const [p] = await pods('selectorname=db');
    expect((await kc('delete', 'pod', p!.metadata.name)).code).toBe(0);
    const now = await until(() => pods('selectorname=db'), (ps) => ps.length === 1 && ps[0]!.metadata.name !== p!.metadata.name);
    expect(now).toHaveLength(1);
    expect(now[0]!.metadata.name).not.toBe(p!.metadata.name);
    expect(now[0]!.metadata.ownerReferences[0].name).toBe('db-controller');
  });

  it('adopts a matching orphan instead of creating, and releases a relabelled pod and replaces it', async () => {
    expect((await kc('create', '-f', path.join(dir, 'orphan.yaml'))).code).toBe(0);
    expect((await kc('create', '-f', path.join(dir, 'adopter.yaml'))).code).toBe(0);
    const adopted = await until(() => pods('app=adopt'), (ps) => ps.length === 1 && ps[0]!.metadata.ownerReferences?.[0]?.name === 'adopter');
    expect(adopted[0]!.metadata.name).toBe('orphan');
    expect(adopted[0]!.metadata.ownerReferences[0]).toMatchObject({ kind: 'ReplicationController', name: 'adopter', controller: true, blockOwnerDeletion: true });
    // Nothing more is created: the orphan is the one replica.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(names(await pods('app=adopt'))).toEqual(['orphan']);
    expect((await kc('label', 'pod', 'orphan', 'app=gone', '--overwrite')).code).toBe(0);
    const released = await until(
      async () => ((await srv!.request('GET', '/api/v1/namespaces/default/pods/orphan')).json as Obj).metadata,
      (m) => !(m.ownerReferences ?? []).some((r: Obj) => r.controller),
    );
    expect(released.ownerReferences ?? []).toEqual([]);
    const fresh = await until(() => pods('app=adopt'), (ps) => ps.length === 1);
    expect(fresh[0]!.metadata.name).toMatch(/^adopter-/);
  });

  it('a ReplicaSet behaves the same: creates, scales down, replaces', async () => {
    expect((await kc('create', '-f', path.join(dir, 'rs.yaml'))).code).toBe(0);
    const two = await until(() => pods('app=cache'), (ps) => ps.length === 2);
    expect(two).toHaveLength(2);
    for (const p of two) expect(p.metadata.ownerReferences[0]).toMatchObject({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'cache', controller: true });
    expect((await kc('scale', 'rs', 'cache', '--replicas=1')).code).toBe(0);
    const one = await until(() => pods('app=cache'), (ps) => ps.length === 1);
    expect(one).toHaveLength(1);
    expect((await kc('delete', 'pod', one[0]!.metadata.name)).code).toBe(0);
    const back = await until(() => pods('app=cache'), (ps) => ps.length === 1 && ps[0]!.metadata.name !== one[0]!.metadata.name);
    expect(back[0]!.metadata.name).not.toBe(one[0]!.metadata.name);
    await markReady(back[0]!.metadata.name);
    const st = await until(
      async () => ((await srv!.request('GET', '/apis/apps/v1/namespaces/default/replicasets/cache')).json as Obj).status ?? {},
      (s) => s.readyReplicas === 1,
    );
    expect(st).toMatchObject({ replicas: 1, readyReplicas: 1, availableReplicas: 1 });
  });

  it('a standby takes over within the lease duration when the leader dies, and keeps the replicas', async () => {
    const first = await holder();
    expect(first).toBeDefined();
    standby = await startCm('kcm-b', await freePort());
    // The standby follows: the holder stays the first instance.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await holder()).toBe(first);
    const t0 = Date.now();
    await stopCm(cm, 'SIGKILL'); // no release: the standby has to wait the lease out
    const next = await until(holder, (h) => h !== undefined && h !== first, 30_000);
    expect(next).not.toBe(first);
    // Lease 6 s, seen by the standby's own clock, plus one retry period and the renewals' granularity:
    // about 8 s when idle; the bound leaves room for a loaded runner (13 s seen once on 2 busy cores).
    const tookMs = Date.now() - t0;
    expect(tookMs).toBeGreaterThanOrEqual(5_000); // it did wait the lease out
    expect(tookMs).toBeLessThan(20_000);
    expect((await kc('scale', 'rc', 'db-controller', '--replicas=2')).code).toBe(0);
    const two = await until(() => pods('selectorname=db'), (ps) => ps.length === 2, 20_000);
    expect(two).toHaveLength(2);
  }, 60_000);
});

describe('authorization', () => {
  it('refused no request of kube-controller-manager: it works with its bootstrap rights only', async () => {
    expect(await srv!.forbiddenRequests()).toEqual([]);
  });
});
