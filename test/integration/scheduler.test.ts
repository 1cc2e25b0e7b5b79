// kube-scheduler from dist/ (with its own identity, system:kube-scheduler) against a real apiserver under
// --authorization-mode=Node,RBAC over a real etcd: Node objects made through the
// API (allocatable, Ready), no kubelets. Pods are bound and spread, a nodeSelector holds, a pod too big
// stays Pending with FitError's event and PodScheduled=False until a big enough node comes, kubectl
// 1.20 lists the Scheduled event, /healthz answers over HTTPS, and of two schedulers only the leader
// binds until it is killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiServerProc, EtcdServer, freePort, kubectl, kubectlBinaries, SECURE_APISERVER_ARGS } from '../harness/index.js';

const BIN = path.join(import.meta.dirname, '..', '..', 'dist', 'scheduler', 'main.js');
type Obj = Record<string, any>;

let dir: string;
let etcd: EtcdServer;
let srv: ApiServerProc;
/** The scheduler's own kubeconfig (system:kube-scheduler): it holds that role's rights only. */
let schedulerConfig: string;
const procs: ChildProcess[] = [];

async function startScheduler(name: string, port = 0): Promise<ChildProcess> {
  const log = createWriteStream(path.join(dir, `${name}.log`), { flags: 'a' });
  const p = spawn(process.execPath, [BIN, `--kubeconfig=${schedulerConfig}`, `--secure-port=${port}`, '--bind-address=127.0.0.1', '--leader-elect-lease-duration=3s', '--leader-elect-renew-deadline=2s', '--leader-elect-retry-period=500ms', '--v=debug'], { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout?.pipe(log);
  p.stderr?.pipe(log);
  procs.push(p);
  return p;
}

async function kill(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await gone;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  // Bounded: every 200 ms until the deadline.
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const api = async (method: string, p: string, body?: unknown): Promise<Obj> => {
  const r = await srv.request(method, p, body);
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  return r.json as Obj;
};

async function addNode(name: string, cpu: string, labels: Record<string, string> = {}): Promise<void> {
  await api('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } } });
  const n = await api('GET', `/api/v1/nodes/${name}`);
  n.status = { capacity: { cpu, memory: '4Gi', pods: '110' }, allocatable: { cpu, memory: '4Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z/, 'Z'), lastTransitionTime: new Date().toISOString().replace(/\.\d+Z/, 'Z') }] };
  await api('PUT', `/api/v1/nodes/${name}/status`, n);
}

const podBody = (name: string, ns: string, spec: Obj = {}, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, labels },
  spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '100m', memory: '64Mi' } } }], ...spec },
});
const nodeOf = async (ns: string, name: string): Promise<string | undefined> => ((await api('GET', `/api/v1/namespaces/${ns}/pods/${name}`)).spec.nodeName as string | undefined) || undefined;
const mkNs = (ns: string) => api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sched-it-'));
  etcd = await EtcdServer.start();
  srv = await ApiServerProc.start(etcd.endpoint, dir, SECURE_APISERVER_ARGS);
  schedulerConfig = await srv.kubeconfigOf('kube-scheduler');
});

afterAll(async () => {
  for (const p of procs) await kill(p);
  await srv?.stop();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('kube-scheduler', () => {
  it('binds and spreads, respects a nodeSelector, keeps a pod too big Pending with the reason until a node fits, and serves /healthz', async () => {
    const port = await freePort();
    await startScheduler('s1', port);
    await addNode('node-a', '2', { disk: 'ssd' });
    await addNode('node-b', '2');
    await mkNs('web');
    const selector = { app: 'web' };
    await api('POST', '/api/v1/namespaces/web/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector, ports: [{ port: 80 }] } });
    for (let i = 1; i <= 4; i++) await api('POST', '/api/v1/namespaces/web/pods', podBody(`web-${i}`, 'web', {}, selector));
    const placed = await until('the web pods bound', async () => {
      const ns = await Promise.all([1, 2, 3, 4].map((i) => nodeOf('web', `web-${i}`)));
      return ns.every(Boolean) ? ns : undefined;
    });
    expect(placed.filter((n) => n === 'node-a')).toHaveLength(2);
    expect(placed.filter((n) => n === 'node-b')).toHaveLength(2);

    await api('POST', '/api/v1/namespaces/web/pods', podBody('ssd', 'web', { nodeSelector: { disk: 'ssd' } }));
    expect(await until('ssd bound', () => nodeOf('web', 'ssd'))).toBe('node-a');

    await api('POST', '/api/v1/namespaces/web/pods', podBody('big', 'web', { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '3' } } }] }));
    const msg = '0/2 nodes are available: 2 Insufficient cpu.';
    const cond = await until('PodScheduled=False', async () => {
      const p = await api('GET', '/api/v1/namespaces/web/pods/big');
      return (p.status?.conditions as Obj[] | undefined)?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    });
    expect(cond).toMatchObject({ reason: 'Unschedulable', message: msg });
    const failed = await until('FailedScheduling', async () => ((await api('GET', '/api/v1/namespaces/web/events')).items as Obj[]).find((e) => e.reason === 'FailedScheduling' && e.involvedObject.name === 'big'));
    expect(failed).toMatchObject({ type: 'Warning', message: msg, involvedObject: { kind: 'Pod', namespace: 'web', name: 'big' } });
    expect(await nodeOf('web', 'big')).toBeUndefined();

    await addNode('node-c', '4');
    expect(await until('big bound once node-c is there', () => nodeOf('web', 'big'))).toBe('node-c');

    // One event for the pod however often it was tried (a repeat counts it up).
    expect(((await api('GET', '/api/v1/namespaces/web/events')).items as Obj[]).filter((e) => e.reason === 'FailedScheduling' && e.involvedObject.name === 'big')).toHaveLength(1);

    // node-c has 1 cpu left: of two pods pinned to it back to back, the assumed first keeps the second off.
    const pinned = (name: string) => podBody(name, 'web', { nodeSelector: { 'kubernetes.io/hostname': 'node-c' }, containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '800m' } } }] });
    await Promise.all([api('POST', '/api/v1/namespaces/web/pods', pinned('slot-1')), api('POST', '/api/v1/namespaces/web/pods', pinned('slot-2'))]);
    const slotMsg = "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector.";
    const loser = await until('one slot pod refused', async () => {
      for (const n of ['slot-1', 'slot-2']) {
        const p = await api('GET', `/api/v1/namespaces/web/pods/${n}`);
        if ((p.status?.conditions as Obj[] | undefined)?.some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.message === slotMsg)) return n;
      }
      return undefined;
    });
    const winner = loser === 'slot-1' ? 'slot-2' : 'slot-1';
    expect(await until('the other slot pod bound', () => nodeOf('web', winner))).toBe('node-c');
    expect(await nodeOf('web', loser)).toBeUndefined();

    // Scheduled events are posted beside the binds, so one may follow its bind by a moment.
    const events = await until('the Scheduled event of big', async () => {
      const evs = ((await api('GET', '/api/v1/namespaces/web/events')).items as Obj[]).filter((e) => e.reason === 'Scheduled');
      return evs.some((e) => e.message === 'Successfully assigned web/big to node-c') ? evs : undefined;
    });
    expect(events.map((e) => e.message)).toContain('Successfully assigned web/big to node-c');
    const k = kubectlBinaries().find((b) => b.version === '1.20');
    if (k?.present) {
      const cache = path.join(dir, 'kcache');
      await mkdir(cache, { recursive: true });
      const r = await kubectl(k.path, srv.kubeconfig, cache, ['get', 'events', '-n', 'web']);
      expect(r.stdout).toMatch(/Normal\s+Scheduled\s+pod\/big\s+Successfully assigned web\/big to node-c/);
      expect(r.stdout).toContain(`Warning   FailedScheduling`);
    } else {
      expect.soft(existsSync(k?.path ?? ''), `kubectl 1.20 absent at ${k?.path}`).toBe(true);
    }

    const health = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`https://127.0.0.1:${port}/healthz`, { rejectUnauthorized: false, timeout: 5_000 }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(health).toEqual({ status: 200, body: 'ok' });
    for (const p of procs) await kill(p);
  }, 90_000);

  it('two schedulers: only the leader binds; the standby takes over when the leader is killed', async () => {
    // The first test's scheduler was killed holding the lease: start from none.
    await srv.request('DELETE', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler');
    const a = await startScheduler('leader-a');
    // a is alone when it takes the lease: the holder from then on is a.
    const holder = await until('a leader', async () => {
      const r = await srv.request('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler');
      return r.status === 200 ? ((r.json as Obj).spec?.holderIdentity as string | undefined) || undefined : undefined;
    });
    const b = await startScheduler('leader-b');
    await mkNs('ha');
    await api('POST', '/api/v1/namespaces/ha/pods', podBody('one', 'ha'));
    await until('one bound', () => nodeOf('ha', 'one'));
    expect((await api('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler')).spec.holderIdentity).toBe(holder);
    // The Scheduled event is posted beside the bind, so it may follow it by a moment.
    const events = await until('the Scheduled event', async () => {
      const evs = ((await api('GET', '/api/v1/namespaces/ha/events')).items as Obj[]).filter((e) => e.reason === 'Scheduled');
      return evs.length ? evs : undefined;
    });
    expect(events.map((e) => e.reportingInstance)).toEqual([holder]);
    await kill(a);
    await api('POST', '/api/v1/namespaces/ha/pods', podBody('two', 'ha'));
    expect(await until('two bound by the standby', () => nodeOf('ha', 'two'), 30_000)).toBeTruthy();
    const after = await api('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler');
    expect(after.spec.holderIdentity).not.toBe(holder);
    const ev2 = await until('the Scheduled event of two', async () => ((await api('GET', '/api/v1/namespaces/ha/events')).items as Obj[]).find((e) => e.reason === 'Scheduled' && e.involvedObject.name === 'two'));
    expect(ev2?.reportingInstance).toBe(after.spec.holderIdentity);
    await kill(b);
  }, 90_000);
});

describe('authorization', () => {
  it('refused no request of kube-scheduler: it works with its bootstrap rights only', async () => {
    expect(await srv!.forbiddenRequests()).toEqual([]);
  });
});
