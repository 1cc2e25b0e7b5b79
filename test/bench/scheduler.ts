// kube-scheduler benchmark, against a real etcd, the built apiserver and the built kube-scheduler (and
// kube-controller-manager), all on 127.0.0.1 (Node objects only, no kubelets):
//
//   binds        1,000 Ready nodes (4 cpu, 8Gi, 110 pods each), 10,000 pending pods (100m cpu, 64Mi)
//                created first; the scheduler is started and a watch counts each pod's first MODIFIED
//                event with spec.nodeName set. Pods bound per second, from the first bind to the last
//                (the scheduler's start-up, its cache listing, is shown apart); baseline: the same pods'
//                creates per second through the same apiserver at 50 in flight (a bind is one such write).
//   spread       most minus fewest pods per node once all are bound (equal nodes: at most 1).
//   rc 0→500     a ReplicationController scaled from 0 to 500 with the controller manager and the
//                scheduler running: seconds until 500 pods exist, and until all 500 are bound.
//
// `SCHEDULER_CPU_PROF=<dir>` (`APISERVER_CPU_PROF=<dir>`) runs the scheduler (the apiserver) under `node --cpu-prof`
// and leaves the profile in <dir>.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApiServerProc, EtcdServer } from '../harness/index.js';
import { ApiClient, pool } from './apiserver.js';
import type { BenchResult } from './stats.js';

const DIST = path.join(import.meta.dirname, '..', '..');
const SCHEDULER_BIN = path.join(DIST, 'scheduler', 'main.js');
const KCM_BIN = path.join(DIST, 'controllers', 'main.js');
const NS = 'bench';
const ts = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

function start(bin: string, args: readonly string[], log: string, nodeArgs: readonly string[] = []): ChildProcess {
  const out = createWriteStream(log, { flags: 'a' });
  const p = spawn(process.execPath, [...nodeArgs, bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  p.stdout?.pipe(out);
  p.stderr?.pipe(out);
  return p;
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 5_000);
  await gone;
  clearTimeout(t);
}

async function must(c: ApiClient, method: string, p: string, body?: unknown): Promise<Record<string, any>> {
  const r = await c.call(method, p, body);
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text.slice(0, 300)}`);
  return JSON.parse(r.text) as Record<string, any>;
}

async function addNodes(c: ApiClient, n: number): Promise<void> {
  const res = { cpu: '4', memory: '8Gi', pods: '110' };
  await pool(n, 50, async (i) => {
    const name = `node-${String(i).padStart(4, '0')}`;
    await must(c, 'POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name } } });
    const node = await must(c, 'GET', `/api/v1/nodes/${name}`);
    node.status = { capacity: res, allocatable: res, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: ts(), lastTransitionTime: ts() }] };
    await must(c, 'PUT', `/api/v1/nodes/${name}/status`, node);
  });
}

const podBody = (name: string): unknown => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: NS, labels: { app: 'bench' } },
  spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '100m', memory: '64Mi' } } }] },
});

/** Counts pods seen bound for the first time on a watch from `rv`; `times` gets each bind's arrival. */
async function bindWatch(c: ApiClient, rv: string, selector: string): Promise<{ bound: Set<string>; times: number[]; created: Set<string>; close: () => void }> {
  const bound = new Set<string>();
  const created = new Set<string>();
  const times: number[] = [];
  const w = await c.watch(`/api/v1/namespaces/${NS}/pods?watch=1&resourceVersion=${rv}&labelSelector=${encodeURIComponent(selector)}`, (ev) => {
    const o = ev.object as { metadata?: { name?: string }; spec?: { nodeName?: string } };
    const name = o.metadata?.name ?? '';
    if (ev.type === 'ADDED') created.add(name);
    if (o.spec?.nodeName && !bound.has(name)) {
      bound.add(name);
      times.push(performance.now());
    }
  });
  return { bound, times, created, close: w.close };
}

async function waitFor(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  // Bounded: every 20 ms until the deadline.
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return pred();
}

export async function benchScheduler(nodes = 1_000, pods = 10_000, rcReplicas = 500): Promise<BenchResult[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-sched-'));
  const etcd = await EtcdServer.start();
  const procs: ChildProcess[] = [];
  let srv: ApiServerProc | undefined;
  let c: ApiClient | undefined;
  try {
    const apiProf = process.env.APISERVER_CPU_PROF;
    srv = await ApiServerProc.start(etcd.endpoint, dir, [], undefined, apiProf ? ['--cpu-prof', `--cpu-prof-dir=${apiProf}`] : []);
    c = await ApiClient.open(srv, 50);
    await must(c, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await addNodes(c, nodes);
    const createMs = await pool(pods, 50, async (i) => void (await must(c!, 'POST', `/api/v1/namespaces/${NS}/pods`, podBody(`p-${i}`))));
    const createRate = pods / (createMs / 1000);
    const rv = String((await must(c, 'GET', `/api/v1/namespaces/${NS}/pods?limit=1`)).metadata.resourceVersion);
    const w = await bindWatch(c, rv, 'app=bench');
    const common = [`--kubeconfig=${srv.kubeconfig}`, '--bind-address=127.0.0.1', '--secure-port=0'];
    const t0 = performance.now();
    const prof = process.env.SCHEDULER_CPU_PROF;
    procs.push(start(SCHEDULER_BIN, [...common, '--leader-elect=false'], path.join(dir, 'scheduler.log'), prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []));
    const allBound = await waitFor(() => w.bound.size >= pods, 600_000);
    w.close();
    if (!allBound) throw new Error(`only ${w.bound.size} of ${pods} pods bound in 10 minutes (see ${dir}/scheduler.log)`);
    const first = w.times[0]!;
    const last = w.times[w.times.length - 1]!;
    const bindRate = pods / ((last - first) / 1000);
    const list = await must(c, 'GET', `/api/v1/namespaces/${NS}/pods`);
    const perNode = new Map<string, number>();
    for (const p of list.items as { spec: { nodeName: string } }[]) perNode.set(p.spec.nodeName, (perNode.get(p.spec.nodeName) ?? 0) + 1);
    const counts = Array.from({ length: nodes }, (_, i) => perNode.get(`node-${String(i).padStart(4, '0')}`) ?? 0);
    const spread = Math.max(...counts) - Math.min(...counts);

    // RC 0 → 500: the controller manager creates, the (already running) scheduler binds.
    await must(c, 'DELETE', `/api/v1/namespaces/${NS}/pods?gracePeriodSeconds=0`);
    procs.push(start(KCM_BIN, [...common, '--leader-elect=false', `--cert-dir=${path.join(dir, 'kcm-certs')}`], path.join(dir, 'kcm.log')));
    const rc = { apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'web', namespace: NS }, spec: { replicas: 0, selector: { app: 'web' }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } } } };
    await must(c, 'POST', `/api/v1/namespaces/${NS}/replicationcontrollers`, rc);
    const rv2 = String((await must(c, 'GET', `/api/v1/namespaces/${NS}/pods?limit=1`)).metadata.resourceVersion);
    const w2 = await bindWatch(c, rv2, 'app=web');
    // The manager's caches are listed once it is up: give it its first sync of the (empty) RC before timing.
    await new Promise((r) => setTimeout(r, 3_000));
    const s0 = performance.now();
    const cur = await must(c, 'GET', `/api/v1/namespaces/${NS}/replicationcontrollers/web`);
    cur.spec.replicas = rcReplicas;
    await must(c, 'PUT', `/api/v1/namespaces/${NS}/replicationcontrollers/web`, cur);
    const createdOk = await waitFor(() => w2.created.size >= rcReplicas, 120_000);
    const createdAt = performance.now();
    const boundOk = await waitFor(() => w2.bound.size >= rcReplicas, 120_000);
    const boundAt = performance.now();
    w2.close();
    if (!createdOk || !boundOk) throw new Error(`rc 0→${rcReplicas}: ${w2.created.size} created, ${w2.bound.size} bound in 2 minutes (see ${dir}/kcm.log)`);
    const rows: BenchResult[] = [
      { name: `pod creates through the API, 50 in flight (baseline)`, value: createRate, unit: 'pods/s', ratio: 1 },
      { name: `binds, ${pods.toLocaleString('en-US')} pods onto ${nodes.toLocaleString('en-US')} nodes`, value: bindRate, unit: 'pods/s', ratio: bindRate / createRate, baseline: 'creates' },
      { name: 'scheduler start to first bind (cache listing)', value: (first - t0) / 1000, unit: 's' },
      { name: 'spread: most minus fewest pods per node', value: spread, unit: 'pods' },
      { name: `rc 0→${rcReplicas}: all pods created`, value: (createdAt - s0) / 1000, unit: 's' },
      { name: `rc 0→${rcReplicas}: all pods bound`, value: (boundAt - s0) / 1000, unit: 's' },
    ];
    return rows;
  } finally {
    for (const p of procs) await stop(p);
    c?.close();
    await srv?.stop();
    await etcd.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
