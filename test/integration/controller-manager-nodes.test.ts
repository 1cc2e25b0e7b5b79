// kube-controller-manager's endpoints, node lifecycle, node IPAM, pod GC and garbage collector against one
// real etcd and one real kube-apiserver (both from dist/), with the real kubectl 1.20. No kubelets and
// no scheduler: the test writes the Node objects and renews their Leases in kube-node-lease itself
// (playing the kubelets), binds pods through pods/binding and writes their status.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APISERVER_BIN, ApiServerProc, EtcdServer, kubectl, kubectlBinaries } from '../harness/index.js';

type Obj = Record<string, any>;

const CM_BIN = path.join(path.dirname(path.dirname(APISERVER_BIN)), 'controllers', 'main.js');
const KUBECTL = kubectlBinaries().find((b) => b.version === '1.20')!;
const GRACE_S = 6;

let dir: string;
let etcd: EtcdServer | undefined;
let srv: ApiServerProc | undefined;
let cm: ChildProcess | undefined;
let cmRuns = 0;
/** The nodes whose "kubelet" is alive: their Lease is renewed every second. */
const alive = new Set<string>();
let beat: NodeJS.Timeout | undefined;

const kc = (...args: string[]) => kubectl(KUBECTL.path, srv!.kubeconfig, path.join(dir, 'kube-cache'), args);
const api = async (method: string, p: string, body?: unknown, patch = false): Promise<{ status: number; json: Obj; text: string }> => {
  const r = await srv!.request(method, p, body, undefined, patch ? { 'Content-Type': 'application/merge-patch+json' } : {});
  return { status: r.status, json: (r.json ?? {}) as Obj, text: r.text };
};
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const micro = () => new Date().toISOString().replace(/Z$/, '000Z');

/** Polls `fn` until `ok` holds (bounded: 300 tries within `ms`); the last value. */
async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await fn();
  // Bounded by the deadline, and by a count that the deadline reaches first (every 200 ms).
  for (let i = 0; i < Math.ceil(ms / 200) + 10 && !ok(v) && Date.now() < deadline; i++) {
    await new Promise((r) => setTimeout(r, 200));
    v = await fn();
  }
  return v;
}

async function startCm(): Promise<ChildProcess> {
  const args = [
    CM_BIN,
    `--kubeconfig=${srv!.kubeconfig}`,
    '--secure-port=0',
    '--leader-elect=false',
    '--node-monitor-period=1s',
    `--node-monitor-grace-period=${GRACE_S}s`,
    '--node-startup-grace-period=10s',
    '--node-eviction-rate=1',
    '--allocate-node-cidrs',
    '--cluster-cidr=10.244.0.0/16',
    '--node-cidr-mask-size=24',
    '--log-level=debug',
  ];
  const log = createWriteStream(path.join(dir, `kcm-${++cmRuns}.log`));
  const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout?.pipe(log);
  p.stderr?.pipe(log);
  return p;
}

async function stopCm(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  if (p.exitCode === null && p.signalCode === null) {
    p.kill('SIGKILL');
    await exited;
  }
}

/** A node as its kubelet registers it: Ready, with a heartbeat, and its Lease. */
async function addNode(name: string): Promise<void> {
  expect((await api('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name } } })).status).toBe(201);
  await postReady(name, 'True');
  const l = await api('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: micro() } });
  expect(l.status, l.text).toBe(201);
  alive.add(name);
}

async function postReady(name: string, status: 'True' | 'False'): Promise<void> {
  const n = (await api('GET', `/api/v1/nodes/${name}`)).json;
  const t = now();
  n.status = { ...n.status, conditions: [{ type: 'Ready', status, reason: status === 'True' ? 'KubeletReady' : 'KubeletNotReady', message: 'kubelet is posting ready status', lastHeartbeatTime: t, lastTransitionTime: t }] };
  const r = await api('PUT', `/api/v1/nodes/${name}/status`, n);
  expect(r.status, r.text).toBe(200);
}

const node = async (name: string): Promise<Obj> => (await api('GET', `/api/v1/nodes/${name}`)).json;
const readyOf = (n: Obj): Obj | undefined => (n.status?.conditions ?? []).find((c: Obj) => c.type === 'Ready');
const taintKeys = (n: Obj): string[] => (n.spec?.taints ?? []).map((t: Obj) => `${t.key}:${t.effect}`).sort();

async function pods(selector: string): Promise<Obj[]> {
  return ((await api('GET', `/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(selector)}`)).json.items ?? []) as Obj[];
}
const active = (ps: Obj[]) => ps.filter((p) => !p.metadata.deletionTimestamp);

async function bind(name: string, nodeName: string): Promise<void> {
  const r = await api('POST', `/api/v1/namespaces/default/pods/${name}/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name }, target: { apiVersion: 'v1', kind: 'Node', name: nodeName } });
  expect(r.status, r.text).toBe(201);
}

/** The pod Running with an IP, Ready or not (as its kubelet reports it). */
async function setStatus(name: string, ip: string, ready: boolean): Promise<void> {
  const cur = (await api('GET', `/api/v1/namespaces/default/pods/${name}`)).json;
  cur.status = { ...cur.status, phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: now() }] };
  const r = await api('PUT', `/api/v1/namespaces/default/pods/${name}/status`, cur);
  expect(r.status, r.text).toBe(200);
}

const rc = (name: string, replicas: number, extra: Obj = {}) => ({
  apiVersion: 'v1',
  kind: 'ReplicationController',
  metadata: { name },
  spec: {
    replicas,
    selector: { app: name },
    template: { metadata: { labels: { app: name } }, spec: { terminationGracePeriodSeconds: 30, containers: [{ name: 'c', image: 'busybox', ports: [{ name: 'http', containerPort: 8080 }] }], ...extra } },
  },
});

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kcm-nodes-'));
  etcd = await EtcdServer.start();
  srv = await ApiServerProc.start(etcd.endpoint, dir);
  beat = setInterval(() => {
    for (const n of alive) void api('PATCH', `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${n}`, { spec: { renewTime: micro() } }, true).catch(() => undefined);
  }, 1_000);
  cm = await startCm();
}, 60_000);

afterAll(async () => {
  clearInterval(beat);
  await stopCm(cm);
  if (process.env.KCM_TEST_LOG) for (let i = 1; i <= cmRuns; i++) process.stderr.write(await readFile(path.join(dir, `kcm-${i}.log`), 'utf8').catch(() => ''));
  await srv?.stop();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!KUBECTL.present)('kube-controller-manager: nodes, endpoints, garbage collection', () => {
  it('gives three nodes distinct pod CIDRs from --cluster-cidr, and a fourth a new one after a restart', async () => {
    for (const n of ['n1', 'n2', 'n3']) await addNode(n);
    const cidrs = await until(
      async () => Promise.all(['n1', 'n2', 'n3'].map(async (n) => (await node(n)).spec?.podCIDR as string | undefined)),
      (c) => c.every(Boolean),
    );
    expect(new Set(cidrs).size).toBe(3);
    for (const c of cidrs) expect(c).toMatch(/^10\.244\.\d+\.0\/24$/);
    expect((await node('n1')).spec.podCIDRs).toEqual([cidrs[0]]);
    await stopCm(cm);
    cm = await startCm();
    await addNode('n4');
    const c4 = await until(async () => (await node('n4')).spec?.podCIDR as string | undefined, Boolean);
    expect(c4).toMatch(/^10\.244\.\d+\.0\/24$/);
    expect(cidrs).not.toContain(c4);
    expect(await Promise.all(['n1', 'n2', 'n3'].map(async (n) => (await node(n)).spec.podCIDR))).toEqual(cidrs);
  }, 60_000);

  it('writes Endpoints from pod readiness and named ports, and leaves a selector-less service alone', async () => {
    expect((await api('POST', '/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', labels: { tier: 'front' } }, spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } })).status).toBe(201);
    expect((await api('POST', '/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext' }, spec: { ports: [{ port: 80 }] } })).status).toBe(201);
    expect((await api('POST', '/api/v1/namespaces/default/endpoints', { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'ext' }, subsets: [{ addresses: [{ ip: '192.0.2.1' }], ports: [{ port: 80 }] }] })).status).toBe(201);
    const r = await api('POST', '/api/v1/namespaces/default/replicationcontrollers', rc('web', 2, { tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 }, { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 2 }] }));
    expect(r.status, r.text).toBe(201);
    const ps = await until(() => pods('app=web'), (p) => p.length === 2);
    const names = ps.map((p) => p.metadata.name as string).sort();
    for (const [i, n] of names.entries()) {
      await bind(n, 'n1');
      await setStatus(n, `10.244.9.${i + 2}`, true);
    }
    const ep = await until(async () => (await api('GET', '/api/v1/namespaces/default/endpoints/web')).json, (e) => e.subsets?.[0]?.addresses?.length === 2);
    expect(ep.metadata.labels).toEqual({ tier: 'front' });
    expect(ep.metadata.annotations?.['endpoints.kubernetes.io/last-change-trigger-time']).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(ep.subsets).toEqual([
      {
        addresses: names.map((n, i) => ({ ip: `10.244.9.${i + 2}`, nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: n, uid: ps.find((p) => p.metadata.name === n)!.metadata.uid } })),
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ]);
    const get = await kc('get', 'endpoints', 'web');
    expect(get.stdout).toMatch(/10\.244\.9\.2:8080,10\.244\.9\.3:8080/);
    // One pod turns unready: it moves to notReadyAddresses.
    await setStatus(names[1]!, '10.244.9.3', false);
    const ep2 = await until(async () => (await api('GET', '/api/v1/namespaces/default/endpoints/web')).json, (e) => e.subsets?.[0]?.notReadyAddresses?.length === 1);
    expect(ep2.subsets[0].addresses.map((a: Obj) => a.ip)).toEqual(['10.244.9.2']);
    expect(ep2.subsets[0].notReadyAddresses.map((a: Obj) => a.ip)).toEqual(['10.244.9.3']);
    await setStatus(names[1]!, '10.244.9.3', true);
    await until(async () => (await api('GET', '/api/v1/namespaces/default/endpoints/web')).json, (e) => e.subsets?.[0]?.addresses?.length === 2);
    expect((await api('GET', '/api/v1/namespaces/default/endpoints/ext')).json.subsets).toEqual([{ addresses: [{ ip: '192.0.2.1' }], ports: [{ port: 80, protocol: 'TCP' }] }]);
  }, 60_000);

  it('marks a node whose heartbeat stops Unknown and tainted, evicts its pods after their toleration, and its RC replaces them', async () => {
    const before = active(await pods('app=web')).map((p) => p.metadata.name as string).sort();
    alive.delete('n1');
    const stopped = Date.now();
    const n1 = await until(() => node('n1'), (n) => readyOf(n)?.status === 'Unknown' && taintKeys(n).length === 2, (GRACE_S + 20) * 1000);
    expect(Date.now() - stopped).toBeGreaterThanOrEqual((GRACE_S - 1) * 1000);
    expect(readyOf(n1)).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' });
    expect(taintKeys(n1)).toEqual(['node.kubernetes.io/unreachable:NoExecute', 'node.kubernetes.io/unreachable:NoSchedule']);
    expect(n1.spec.taints.find((t: Obj) => t.effect === 'NoExecute').timeAdded).toMatch(/T/);
    // The taint manager marks them for deletion; they stay Terminating (no kubelet to finish them).
    const evicted = await until(() => pods('app=web'), (ps) => before.every((n) => ps.find((p) => p.metadata.name === n)?.metadata.deletionTimestamp), 20_000);
    for (const n of before) expect(evicted.find((p) => p.metadata.name === n)?.metadata.deletionTimestamp).toBeTruthy();
    const evs = await until(
      async () => ((await api('GET', '/api/v1/namespaces/default/events')).json.items as Obj[]).filter((e) => e.reason === 'TaintManagerEviction'),
      (e) => e.length >= 2,
    );
    expect(evs.map((e) => e.message).sort()).toEqual(before.map((n) => `Marking for deletion Pod default/${n}`));
    // Their Ready went False when the node stopped reporting (MarkPodsNotReady): the endpoints dropped them.
    const ep = (await api('GET', '/api/v1/namespaces/default/endpoints/web')).json;
    expect(ep.subsets ?? []).toEqual([]);
    // The RC does not wait: two new pods, which the test binds to n2.
    const fresh = await until(async () => active(await pods('app=web')), (p) => p.length === 2 && p.every((x) => !before.includes(x.metadata.name)));
    expect(fresh).toHaveLength(2);
    for (const [i, p] of fresh.entries()) {
      await bind(p.metadata.name, 'n2');
      await setStatus(p.metadata.name, `10.244.8.${i + 2}`, true);
    }
    await until(async () => (await api('GET', '/api/v1/namespaces/default/endpoints/web')).json, (e) => e.subsets?.[0]?.addresses?.every((a: Obj) => a.nodeName === 'n2') && e.subsets[0].addresses.length === 2);
    // Still Terminating a while later: nothing finishes a pod on a dead node.
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await pods('app=web')).filter((p) => before.includes(p.metadata.name))).toHaveLength(2);
  }, 90_000);

  it('takes the taints off a node that reports again', async () => {
    await postReady('n1', 'True');
    alive.add('n1');
    const n1 = await until(() => node('n1'), (n) => taintKeys(n).length === 0);
    expect(taintKeys(n1)).toEqual([]);
    expect(readyOf(n1)?.status).toBe('True');
    // The returned kubelet finishes the evicted pods.
    for (const p of (await pods('app=web')).filter((x) => x.metadata.deletionTimestamp)) {
      await api('DELETE', `/api/v1/namespaces/default/pods/${p.metadata.name}`, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 });
    }
    // A node reporting Ready=False gets not-ready.
    await postReady('n3', 'False');
    const n3 = await until(() => node('n3'), (n) => taintKeys(n).length === 2);
    expect(taintKeys(n3)).toEqual(['node.kubernetes.io/not-ready:NoExecute', 'node.kubernetes.io/not-ready:NoSchedule']);
    await postReady('n3', 'True');
    await until(() => node('n3'), (n) => taintKeys(n).length === 0);
  }, 60_000);

  it('deletes the pods of a node that was deleted (pod GC, after its quarantine)', async () => {
    const p = await api('POST', '/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'on-n4' }, spec: { nodeName: 'n4', containers: [{ name: 'c', image: 'busybox' }] } });
    expect(p.status, p.text).toBe(201);
    // Being deleted, as the taint manager leaves a pod of a dead node: it waits for a kubelet.
    expect((await api('DELETE', '/api/v1/namespaces/default/pods/on-n4')).status).toBe(202);
    alive.delete('n4');
    const t0 = Date.now();
    const d = await kc('delete', 'node', 'n4');
    expect(d.code, d.stderr).toBe(0);
    // Kubernetes' pod GC: a 40 s quarantine, checked every 20 s.
    const gone = await until(async () => (await api('GET', '/api/v1/namespaces/default/pods/on-n4')).status, (s) => s === 404, 90_000);
    expect(gone).toBe(404);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(39_000);
  }, 120_000);

  it('kubectl delete rc removes its pods (background); --cascade=orphan keeps them without ownerReferences', async () => {
    expect((await api('POST', '/api/v1/namespaces/default/replicationcontrollers', rc('bg', 2))).status).toBe(201);
    await until(() => pods('app=bg'), (p) => p.length === 2);
    const del = await kc('delete', 'rc', 'bg');
    expect(del.code, del.stderr).toBe(0);
    expect((await until(() => pods('app=bg'), (p) => p.length === 0)).length).toBe(0);

    expect((await api('POST', '/api/v1/namespaces/default/replicationcontrollers', rc('orph', 2))).status).toBe(201);
    const kept = (await until(() => pods('app=orph'), (p) => p.length === 2 && p.every((x) => x.metadata.ownerReferences?.length))).map((p) => p.metadata.name).sort();
    const o = await kc('delete', 'rc', 'orph', '--cascade=orphan');
    expect(o.code, o.stderr).toBe(0);
    expect((await api('GET', '/api/v1/namespaces/default/replicationcontrollers/orph')).status).toBe(404);
    const after = await until(() => pods('app=orph'), (p) => p.every((x) => !x.metadata.ownerReferences));
    expect(after.map((p) => p.metadata.name).sort()).toEqual(kept);
    for (const p of after) expect(p.metadata.ownerReferences).toBeUndefined();
  }, 60_000);

  it('foreground deletion keeps the RC until its pods are gone', async () => {
    expect((await api('POST', '/api/v1/namespaces/default/replicationcontrollers', rc('fg', 2))).status).toBe(201);
    const ps = await until(() => pods('app=fg'), (p) => p.length === 2);
    // Bound pods are deleted gracefully: without a kubelet they stay Terminating, and keep the RC waiting.
    for (const p of ps) await bind(p.metadata.name, 'n2');
    const d = await kc('delete', 'rc', 'fg', '--cascade=foreground', '--wait=false');
    expect(d.code, d.stderr).toBe(0);
    const owner = await until(async () => (await api('GET', '/api/v1/namespaces/default/replicationcontrollers/fg')).json, (r) => Boolean(r.metadata?.deletionTimestamp));
    expect(owner.metadata.finalizers).toEqual(['foregroundDeletion']);
    const terminating = await until(() => pods('app=fg'), (p) => p.every((x) => x.metadata.deletionTimestamp));
    expect(terminating).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await api('GET', '/api/v1/namespaces/default/replicationcontrollers/fg')).status).toBe(200);
    // The "kubelet" finishes them: then the RC goes.
    for (const p of terminating) await api('DELETE', `/api/v1/namespaces/default/pods/${p.metadata.name}`, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 });
    const gone = await until(async () => (await api('GET', '/api/v1/namespaces/default/replicationcontrollers/fg')).status, (s) => s === 404);
    expect(gone).toBe(404);
  }, 60_000);

  it('a raw DELETE of a v1 RC orphans by default (its compatibility policy); a bad propagationPolicy is refused', async () => {
    expect((await api('POST', '/api/v1/namespaces/default/replicationcontrollers', rc('raw', 1))).status).toBe(201);
    await until(() => pods('app=raw'), (p) => p.length === 1 && p[0]!.metadata.ownerReferences);
    const bad = await api('DELETE', '/api/v1/namespaces/default/replicationcontrollers/raw', { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Sometimes' });
    expect(bad.status).toBe(422);
    expect(bad.json.message).toBe('DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sometimes": supported values: "Foreground", "Background", "Orphan"');
    expect((await api('DELETE', '/api/v1/namespaces/default/replicationcontrollers/raw')).status).toBeLessThan(300);
    await until(async () => (await api('GET', '/api/v1/namespaces/default/replicationcontrollers/raw')).status, (s) => s === 404);
    const left = await until(() => pods('app=raw'), (p) => p.length === 1 && !p[0]!.metadata.ownerReferences);
    expect(left[0]!.metadata.ownerReferences).toBeUndefined();
    // A pod held by a finalizer when its kubelet's final delete (grace 0) comes goes once the finalizer does.
    const name = left[0]!.metadata.name as string;
    expect((await api('PATCH', `/api/v1/namespaces/default/pods/${name}`, { metadata: { finalizers: ['example.com/hold'] } }, true)).status).toBe(200);
    await bind(name, 'n2');
    expect((await api('DELETE', `/api/v1/namespaces/default/pods/${name}`, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 })).status).toBe(202);
    expect((await api('GET', `/api/v1/namespaces/default/pods/${name}`)).json.metadata.deletionGracePeriodSeconds).toBe(0);
    expect((await api('PATCH', `/api/v1/namespaces/default/pods/${name}`, { metadata: { finalizers: null } }, true)).status).toBe(200);
    expect((await api('GET', `/api/v1/namespaces/default/pods/${name}`)).status).toBe(404);
  }, 60_000);
});
