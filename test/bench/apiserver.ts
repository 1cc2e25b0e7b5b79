// kube-apiserver benchmark, against a real etcd and the built apiserver, both on 127.0.0.1 (neither
// needs kernel state), each figure beside a baseline measured in the same run:
//
//   creates      10,000 pods POSTed to /api/v1/namespaces/bench/pods, 50 requests in flight (HTTPS with
//                the admin client certificate, keep-alive); baseline: the very objects the apiserver
//                stored, read back and written again to etcd under another namespace's keys, with the
//                apiserver's own create transaction (put if the key has no version), 50 in flight.
//   kubectl get  `kubectl get pods -n bench` (10,000 rows; kubectl asks for Tables in chunks of 500),
//                3 runs after one run that fills kubectl's discovery cache, median (and the same with
//                --chunk-size=0: one request, no client-side rate limiting); baseline: one etcd range
//                read of the same 10,000 keys. The raw JSON list through the API is shown too.
//   watch        100 watches of one namespace open through the API; a pod is created through the API
//                and each watcher's receipt of its ADDED event is timed from just before the POST; 20
//                rounds (2,000 samples); baseline: 100 etcd watches of one prefix, one put, same timing.
//   memory       the apiserver's VmRSS (and VmHWM, the peak) from /proc/<pid>/status, idle at start and
//                with 10,000 pods stored after the creates, the lists and the watches.
//
// `APISERVER_CPU_PROF=<dir>` runs the apiserver under `node --cpu-prof` and leaves the profile (written
// when it stops) and its log in <dir>.
import type { Etcd3 } from 'etcd3';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createEtcdClient } from '../../common/index.js';
import { ApiServerProc, EtcdServer, kubectl, kubectlBinaries } from '../harness/index.js';
import { percentile, type BenchResult } from './stats.js';

const NS = 'bench';
const WATCH_NS = 'bench-watch';
const fmt = (n: number): string => n.toLocaleString('en-US');

interface Answer {
  status: number;
  text: string;
}

/** HTTPS with the admin certificate over one keep-alive agent (the figures are the server's, not TLS handshakes'). */
export class ApiClient {
  readonly agent: Agent;
  private constructor(
    readonly url: string,
    ca: Buffer,
    cert: Buffer,
    key: Buffer,
    maxSockets: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets, ca, cert, key });
  }

  static async open(srv: ApiServerProc, maxSockets: number): Promise<ApiClient> {
    const a = srv.admin;
    const [ca, cert, key] = await Promise.all([readFile(a.ca!), readFile(a.cert!), readFile(a.key!)]);
    return new ApiClient(srv.url, ca, cert, key, maxSockets);
  }

  call(method: string, urlPath: string, body?: unknown): Promise<Answer> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.url}${urlPath}`,
        { method, agent: this.agent, timeout: 60_000, headers: data === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  /** A watch stream: `onEvent` gets each decoded event line; resolves once the response headers are in. */
  watch(urlPath: string, onEvent: (ev: { type: string; object: { metadata?: { name?: string } } }) => void): Promise<{ close: () => void }> {
    return new Promise((resolve, reject) => {
      const req = request(`${this.url}${urlPath}`, { method: 'GET', agent: this.agent }, (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`watch ${urlPath}: HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          buf += c;
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line.trim()) onEvent(JSON.parse(line) as { type: string; object: { metadata?: { name?: string } } });
          }
        });
        res.on('error', () => undefined); // closed by close()
        resolve({ close: () => req.destroy() });
      });
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Every value under `prefix`, in pages of `page` keys (one unpaged range of 10,000 pods is over gRPC's 4 MiB message limit). */
async function rangeAll(client: Etcd3, prefix: string, page = 1000): Promise<string[]> {
  const out: string[] = [];
  const end = Buffer.from(prefix);
  end[end.length - 1]!++;
  let start = Buffer.from(prefix);
  for (let i = 0; i < 1000; i++) {
    const res = await client.kv.range({ key: start, range_end: end, limit: page });
    for (const kv of res.kvs) out.push(kv.value.toString());
    if (!res.more || res.kvs.length === 0) return out;
    start = Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]);
  }
  throw new Error(`rangeAll ${prefix}: more than 1000 pages`);
}

async function vmStatus(pid: number): Promise<{ rssMiB: number; hwmMiB: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const mib = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(m[1]) / 1024;
  };
  return { rssMiB: mib('VmRSS'), hwmMiB: mib('VmHWM') };
}

/** Runs `job(i)` for i in [0, n) with `concurrency` in flight; returns the wall time in ms. */
export async function pool(n: number, concurrency: number, job: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await job(next++);
    }),
  );
  return performance.now() - t0;
}

const benchPod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: 'bench', shard: String(Number(name.replace(/\D/g, '')) % 10) } },
  spec: { containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'], ports: [{ containerPort: 8080 }] }] },
});

/** Until `pred` holds or `ms` pass (polled every 5 ms); false on the deadline. */
async function until(pred: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!pred()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

export async function etcdWatchBaseline(endpoint: string, watchers: number, rounds: number): Promise<number[]> {
  // 10 clients with 10 watches each (one etcd3 client multiplexes its watches on one gRPC stream).
  const clients: Etcd3[] = Array.from({ length: 10 }, () => createEtcdClient({ endpoints: [endpoint] }));
  const samples: number[] = [];
  let t0 = 0;
  let want = '';
  let got = 0;
  const ws = [];
  try {
    for (let i = 0; i < watchers; i++) {
      const w = await clients[i % clients.length]!.watch().prefix('/bench-watch/').create();
      w.on('put', (kv) => {
        if (kv.key.toString() !== want) return;
        samples.push(performance.now() - t0);
        got++;
      });
      ws.push(w);
    }
    for (let r = -1; r < rounds; r++) {
      got = 0;
      want = `/bench-watch/k${r}`;
      const mark = samples.length;
      t0 = performance.now();
      await clients[0]!.put(want).value('x');
      if (!(await until(() => got >= watchers, 10_000))) throw new Error(`etcd watch round ${r}: ${got}/${watchers} watchers saw the put`);
      if (r < 0) samples.length = mark; // the warm-up round
    }
    return samples;
  } finally {
    await Promise.allSettled(ws.map((w) => w.cancel()));
    for (const c of clients) c.close();
  }
}

export async function apiWatch(srv: ApiServerProc, watchers: number, rounds: number): Promise<number[]> {
  const api = await ApiClient.open(srv, watchers + 5);
  const samples: number[] = [];
  let t0 = 0;
  let want = '';
  let got = 0;
  const streams: { close: () => void }[] = [];
  try {
    const created = await api.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: WATCH_NS } });
    if (created.status !== 201) throw new Error(`create namespace ${WATCH_NS}: ${created.status} ${created.text}`);
    const list = await api.call('GET', `/api/v1/namespaces/${WATCH_NS}/pods`);
    const rv = (JSON.parse(list.text) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    for (let i = 0; i < watchers; i++) {
      streams.push(
        await api.watch(`/api/v1/namespaces/${WATCH_NS}/pods?watch=true&resourceVersion=${rv}`, (ev) => {
          if (ev.type !== 'ADDED' || ev.object.metadata?.name !== want) return;
          samples.push(performance.now() - t0);
          got++;
        }),
      );
    }
    for (let r = -1; r < rounds; r++) {
      got = 0;
      want = `w${r + 1}`;
      const mark = samples.length;
      t0 = performance.now();
      const res = await api.call('POST', `/api/v1/namespaces/${WATCH_NS}/pods`, benchPod(want));
      if (res.status !== 201) throw new Error(`create ${want}: ${res.status} ${res.text}`);
      if (!(await until(() => got >= watchers, 10_000))) throw new Error(`API watch round ${r}: ${got}/${watchers} watchers saw ${want}`);
      if (r < 0) samples.length = mark; // the warm-up round
    }
    return samples;
  } finally {
    for (const s of streams) s.close();
    api.close();
  }
}

export async function benchApiServer(pods = 10_000, concurrency = 50, watchers = 100, rounds = 20): Promise<BenchResult[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'apibench-'));
  const prof = process.env.APISERVER_CPU_PROF ? path.resolve(process.env.APISERVER_CPU_PROF) : undefined;
  if (prof) await mkdir(prof, { recursive: true });
  const etcd = await EtcdServer.start({ dir: path.join(dir, 'etcd') });
  const client = createEtcdClient({ endpoints: [etcd.endpoint], callTimeoutMs: 30_000 });
  let srv: ApiServerProc | undefined;
  let api: ApiClient | undefined;
  try {
    srv = await ApiServerProc.start(etcd.endpoint, prof ?? dir, [], undefined, prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []);
    const pid = srv.pid!;
    await new Promise((r) => setTimeout(r, 1_000)); // past start-up's garbage
    const idle = await vmStatus(pid);
    api = await ApiClient.open(srv, concurrency);
    const ns = await api.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    if (ns.status !== 201) throw new Error(`create namespace ${NS}: ${ns.status} ${ns.text}`);

    // ---- creates through the API
    const failures: string[] = [];
    const apiMs = await pool(pods, concurrency, async (i) => {
      const r = await api!.call('POST', `/api/v1/namespaces/${NS}/pods`, benchPod(`p${i}`));
      if (r.status !== 201 && failures.length < 5) failures.push(`p${i}: ${r.status} ${r.text.slice(0, 200)}`);
    });
    if (failures.length) throw new Error(`pod creates failed: ${failures.join('; ')}`);
    const afterCreates = await vmStatus(pid);

    // ---- the same objects straight into etcd, with the apiserver's create transaction
    const values = await rangeAll(client, `/registry/pods/${NS}/`);
    if (values.length !== pods) throw new Error(`etcd holds ${values.length} pods in ${NS}, not ${pods}`);
    let lost = 0;
    const etcdMs = await pool(pods, concurrency, async (i) => {
      const key = `/registry/pods/bench-etcd/p${i}`;
      const res = await client.if(key, 'Version', '==', 0).then(client.put(key).value(values[i]!)).commit();
      if (!res.succeeded) lost++;
    });
    if (lost) throw new Error(`${lost} direct etcd creates found their key taken`);
    await client.delete().prefix('/registry/pods/bench-etcd/');
    const apiRate = (pods / apiMs) * 1000;
    const etcdRate = (pods / etcdMs) * 1000;

    // ---- reading 10,000 pods: etcd range, the API's JSON list, kubectl get
    const t0 = performance.now();
    const n = (await rangeAll(client, `/registry/pods/${NS}/`)).length;
    const rangeMs = performance.now() - t0;
    if (n !== pods) throw new Error(`range read ${n} pods`);
    const t1 = performance.now();
    const list = await api.call('GET', `/api/v1/namespaces/${NS}/pods`);
    const listMs = performance.now() - t1;
    // Reported, not thrown: a list that fails is a finding of the benchmark.
    const items = list.status === 200 ? (JSON.parse(list.text) as { items: unknown[] }).items.length : 0;
    const listRow: BenchResult =
      list.status === 200 && items === pods
        ? { name: `API GET pods list, JSON, ${fmt(pods)} items`, value: listMs, unit: 'ms', ratio: listMs / rangeMs, baseline: 'etcd range' }
        : { name: `API GET pods list FAILED: HTTP ${list.status}, ${items} items: ${list.text.slice(0, 160)}`, value: listMs, unit: 'ms' };
    const kubectlRows: BenchResult[] = [];
    for (const b of kubectlBinaries().filter((x) => x.present && (x.version === '1.20' || x.version === '1.33'))) {
      const cache = path.join(dir, `kubectl-${b.version}`);
      const warm = await kubectl(b.path, srv.kubeconfig, cache, ['get', 'namespaces']);
      if (warm.code !== 0) throw new Error(`kubectl ${b.version} get namespaces: ${warm.stderr}`);
      // The default (chunks of 500: 20 requests, which kubectl's client-side rate limit of 5/s after a
      // burst of 10 spreads over ~2 s), then in one request, to tell the server's share from the limiter's.
      for (const extra of [[], ['--chunk-size=0']]) {
        const runs: number[] = [];
        for (let i = 0; i < 3; i++) {
          const t = performance.now();
          const r = await kubectl(b.path, srv.kubeconfig, cache, ['get', 'pods', '-n', NS, ...extra], 120_000);
          runs.push(performance.now() - t);
          const rows = r.stdout.split('\n').filter((l) => l.startsWith('p')).length;
          if (r.code !== 0 || rows !== pods) throw new Error(`kubectl ${b.version} get pods ${extra.join(' ')}: exit ${r.code}, ${rows} rows: ${r.stderr.slice(0, 500)}`);
        }
        const med = percentile(runs, 50);
        const what = extra.length ? extra.join(' ') : 'target < 2000';
        kubectlRows.push({ name: `kubectl ${b.version} get pods, ${fmt(pods)} rows (median of 3; ${what})`, value: med, unit: 'ms', ratio: med / rangeMs, baseline: 'etcd range' });
      }
    }
    if (kubectlRows.length === 0) throw new Error('no kubectl found (scripts/setup unpacks 1.20 into .cache/kubernetes-client)');
    const afterLists = await vmStatus(pid);

    // ---- one change, 100 watchers
    const etcdWatch = await etcdWatchBaseline(etcd.endpoint, watchers, rounds);
    const apiWatchMs = await apiWatch(srv, watchers, rounds);
    const end = await vmStatus(pid);
    const ep50 = percentile(etcdWatch, 50);
    const ep99 = percentile(etcdWatch, 99);

    return [
      { name: `etcd direct creates, ${concurrency} in flight (baseline)`, value: etcdRate, unit: 'objects/s', ratio: 1 },
      { name: `API pod creates, ${concurrency} in flight (target >= 0.5x)`, value: apiRate, unit: 'objects/s', ratio: apiRate / etcdRate, baseline: 'etcd' },
      { name: `etcd range read of ${fmt(pods)} pods, pages of 1,000 (baseline)`, value: rangeMs, unit: 'ms', ratio: 1 },
      listRow,
      ...kubectlRows,
      { name: `etcd put -> ${watchers} etcd watchers p50 (baseline)`, value: ep50, unit: 'ms', ratio: 1 },
      { name: `etcd put -> ${watchers} etcd watchers p99 (baseline)`, value: ep99, unit: 'ms', ratio: 1 },
      { name: `API create -> ${watchers} API watchers p50`, value: percentile(apiWatchMs, 50), unit: 'ms', ratio: percentile(apiWatchMs, 50) / ep50, baseline: 'etcd p50' },
      { name: `API create -> ${watchers} API watchers p99 (target < 50)`, value: percentile(apiWatchMs, 99), unit: 'ms', ratio: percentile(apiWatchMs, 99) / ep99, baseline: 'etcd p99' },
      { name: `API create -> ${watchers} API watchers max (${apiWatchMs.length} samples)`, value: Math.max(...apiWatchMs), unit: 'ms' },
      { name: 'apiserver VmRSS idle (baseline)', value: idle.rssMiB, unit: 'MiB', ratio: 1 },
      { name: `apiserver VmRSS, ${fmt(pods)} pods, after creates`, value: afterCreates.rssMiB, unit: 'MiB', ratio: afterCreates.rssMiB / idle.rssMiB, baseline: 'idle' },
      { name: `apiserver VmRSS, ${fmt(pods)} pods, after lists (target < 300)`, value: afterLists.rssMiB, unit: 'MiB', ratio: afterLists.rssMiB / idle.rssMiB, baseline: 'idle' },
      { name: `apiserver VmRSS, ${fmt(pods)} pods, after ${watchers} watches`, value: end.rssMiB, unit: 'MiB', ratio: end.rssMiB / idle.rssMiB, baseline: 'idle' },
      { name: 'apiserver VmHWM (peak RSS over the run)', value: end.hwmMiB, unit: 'MiB', ratio: end.hwmMiB / idle.rssMiB, baseline: 'idle' },
    ];
  } finally {
    api?.close();
    client.close();
    await srv?.stop();
    await etcd.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}
