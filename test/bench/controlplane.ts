// Control-plane benchmark: 5,000 peer leases written to etcd, one flanneld (vxlan) programs them all.
//
//   convergence   first lease write → the kernel of host a holds every peer's route on flannel.1 (polled
//                 with `ip route`, every 100 ms); baseline: `ip -batch` / `bridge -batch` programming the
//                 same neighbours, FDB entries and routes by hand into a second host's own flannel.1,
//                 the kernel's floor for these writes.
//   per event     after convergence, one lease at a time: lease written → its route announced by the
//                 kernel (a netlink notification), measured in host a by controlplane-agent.ts with one
//                 clock; baseline: an etcd put → watch notification round trip from the same host.
//                 Then the same under churn: a new lease every 20 ms, whether or not the last one is in.
//   restart       flanneld stopped, flannel.1 deleted (the kernel forgets every entry), flanneld started
//                 again with all the leases in etcd: process start → the last peer route announced, and
//                 flanneld's first lease read (its `peer leases changed` log line) → the same; baseline:
//                 `ip -batch` of as many entries.
//   memory / CPU  flanneld's VmRSS, and the CPU it burns while idle over 20.5 s, its own and that of the
//                 commands it ran (iptables), with 0 and 100 peers, the 0-peer figures as the baseline.
//
// The peers are fake: public IPs in 198.18.0.0/15 (the benchmark range) and made-up VTEP MACs; the
// entries are static, so nothing has to answer. `CONTROLPLANE_CPU_PROF=<dir>` runs flanneld with
// `--cpu-prof` and leaves the profile (written when flanneld stops) and flanneld's log in <dir>.
import { copyFile, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EtcdServer } from '../harness/index.js';
import {
  FLANNELD,
  type Host,
  Lab,
  type Proc,
  readEnvFile,
  runCommand,
  startFlanneld,
  startLabEtcd,
  subnetFileOf,
  waitFor,
} from '../netns/index.js';
import { peerOf, peerSlot } from './controlplane-agent.js';
import { idleCpuMs, memStatus, nodePid } from './procstat.js';
import { percentile, type BenchResult } from './stats.js';

const PREFIX = '/coreos.com/network';
const AGENT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'controlplane-agent.js');
const fmt = (n: number): string => n.toLocaleString('en-US');


/** A line about a /24 in 10/8 outside 10.0.x: one of the fake peers (flanneld's own /24 has no route or neighbour). */
const PEER_LINE = /^10\.(?!0\.)/;
const lines = (text: string, re: RegExp): number => text.split('\n').filter((l) => re.test(l)).length;

async function countEntries(h: Host): Promise<{ routes: number; neighs: number; fdbs: number }> {
  const [routes, neighs, fdbs] = await Promise.all([
    h.ipCmd(['route', 'show', 'dev', 'flannel.1']),
    h.ipCmd(['neigh', 'show', 'dev', 'flannel.1', 'nud', 'permanent']),
    h.run(['bridge', 'fdb', 'show', 'dev', 'flannel.1'], { timeoutMs: 30_000 }),
  ]);
  return { routes: lines(routes, PEER_LINE), neighs: lines(neighs, PEER_LINE), fdbs: lines(fdbs, / dst 198\.1[89]\./) };
}

/** Runs one controlplane-agent job in host `h` and returns its RESULT. */
async function agent<T>(h: Host, job: string, opts: Record<string, string | number>, timeoutMs: number): Promise<T> {
  const argv = [process.execPath, AGENT, job, ...Object.entries(opts).map(([k, v]) => `--${k}=${v}`)];
  const r = await h.exec(argv, { timeoutMs });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.code !== 0 || r.timedOut || !line) {
    throw new Error(`agent ${job} failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${r.stderr.trim().slice(-2000)}`);
  }
  return JSON.parse(line.slice('RESULT '.length)) as T;
}

/**
 * The kernel's floor: a fresh host with a flannel.1 made by hand, and the same per-peer entries flanneld
 * would program, written by three batch processes (neighbours, FDB, routes: flanneld's order).
 */
export async function ipBatchBaseline(b: Host, peers: number, skip: number): Promise<number> {
  await b.ipCmd(['link', 'del', 'flannel.1']).catch(() => undefined);
  await b.ipCmd(['link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '1', 'local', b.ip, 'dev', 'eth0', 'dstport', '8472', 'nolearning']);
  await b.ipCmd(['link', 'set', 'flannel.1', 'up']);
  const ps = Array.from({ length: peers }, (_, i) => peerOf(i, skip));
  const neigh = ps.map((p) => `neigh add ${p.gw} lladdr ${p.mac} dev flannel.1 nud permanent`);
  const fdb = ps.map((p) => `fdb add ${p.mac} dev flannel.1 dst ${p.publicIP} self permanent`);
  const route = ps.map((p) => `route add ${p.subnet} via ${p.gw} dev flannel.1 onlink`);
  const batch = async (cmd: string, input: string[]): Promise<void> => {
    const r = await runCommand([cmd, '-n', b.ns, '-batch', '-'], { input: `${input.join('\n')}\n`, timeoutMs: 120_000 });
    if (r.code !== 0 || r.timedOut) throw new Error(`${cmd} -batch in ${b.name}: ${r.timedOut ? 'timed out' : r.stderr.trim()}`);
  };
  const t0 = performance.now();
  await batch('ip', neigh);
  await batch('bridge', fdb);
  await batch('ip', route);
  const ms = performance.now() - t0;
  const got = await countEntries(b);
  if (got.routes !== peers || got.neighs !== peers || got.fdbs !== peers) throw new Error(`ip -batch baseline left ${JSON.stringify(got)}`);
  return ms;
}

interface BulkResult {
  leaseId: string;
  t0: number;
  writeMs: number;
  routesSeen: number;
  lastRouteMs?: number;
  overflowed: boolean;
  perSecond: number[];
}
interface EventsResult {
  latencies: number[];
  missing: number;
  totalMs: number;
  overflowed: boolean;
}

/** startFlanneld's command line in host `h`, with node flags (the profiler's, which NODE_OPTIONS does not accept). */
function flanneld(h: Host, etcd: EtcdServer, tag: string): Proc {
  const prof = process.env.CONTROLPLANE_CPU_PROF;
  const extra = (process.env.CONTROLPLANE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const nodeArgs = [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(prof)}`] : []), ...extra];
  if (nodeArgs.length === 0) return startFlanneld(h, etcd, { args: ['--iface=eth0'], tag });
  return h.spawn([process.execPath, ...nodeArgs, FLANNELD, `--etcd-endpoints=${etcd.endpoint}`, `--subnet-file=${subnetFileOf(h)}`, '--iface=eth0'], {
    logFile: path.join(h.dir, `flanneld-${tag}.log`),
  });
}

async function routesOn(h: Host): Promise<number> {
  const r = await h.exec(['ip', '-n', h.ns, 'route', 'show', 'dev', 'flannel.1'], { timeoutMs: 5_000 });
  return lines(r.stdout, PEER_LINE);
}

/** With `--heapsnapshot-signal=SIGUSR2` among CONTROLPLANE_NODE_ARGS: a heap snapshot of flanneld now (written in --diagnostic-dir). */
async function heapSnapshot(pid: number): Promise<void> {
  if (!(process.env.CONTROLPLANE_NODE_ARGS ?? '').includes('--heapsnapshot-signal=SIGUSR2')) return;
  process.kill(pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 15_000)); // writing it stops flanneld's loop; leave it time
}

/** The `time` of flanneld's first log line with message `msg` (pino: epoch ms). */
async function logTime(fl: Proc, msg: string, timeoutMs: number): Promise<number> {
  const text = await fl.waitForOutput(new RegExp(`"msg":"${msg}"`), timeoutMs, 'both');
  const line = text.split('\n').find((l) => l.includes(`"msg":"${msg}"`))!;
  return (JSON.parse(line) as { time: number }).time;
}

export async function benchControlPlane(peers = 5000, events = 200, idlePeers = 100): Promise<BenchResult[]> {
  const lab = await Lab.create({ hosts: ['a', 'b'] });
  let etcd: EtcdServer | undefined;
  const prof = process.env.CONTROLPLANE_CPU_PROF;
  let fl: Proc | undefined;
  try {
    etcd = await startLabEtcd(lab);
    const a = lab.host('a');

    // Room for 65k /24s. The fake peers take the /24s from 10.1.0.0 upwards, stepping over flanneld's own.
    await etcd.ctl(['put', `${PREFIX}/config`, '{"Network":"10.0.0.0/8","Backend":{"Type":"vxlan"}}']);
    fl = flanneld(a, etcd, 'first');
    const env = await waitFor('flanneld subnet.env', () => readEnvFile(subnetFileOf(a)), 30_000);
    const skip = peerSlot(env.FLANNEL_SUBNET!.replace(/\/\d+$/, ''));
    // On a quiet machine (flanneld idle, nothing written yet), the kernel's floor on host b.
    const floorMs = await ipBatchBaseline(lab.host('b'), peers, skip);
    let pid = await nodePid(fl);
    await new Promise((r) => setTimeout(r, 1_000)); // past start-up's garbage
    const idle0 = await memStatus(pid);
    const idleCpu0 = await idleCpuMs(pid);
    await heapSnapshot(pid);

    // ---- a small cluster at rest: `idlePeers` leases, converged, then 20.5 s of nothing
    const small = await agent<BulkResult>(a, 'bulk', { endpoint: etcd.endpoint, prefix: PREFIX, count: idlePeers, first: 0, skip, ttl: 600, 'wait-ms': 60_000 }, 90_000);
    await waitFor(`${idlePeers} routes on flannel.1`, async () => (await routesOn(a)) >= idlePeers, 60_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const idleCpuSmall = await idleCpuMs(pid);

    // ---- 5,000 more leases at once → every route in the kernel
    const total = idlePeers + peers;
    const bulkRun = agent<BulkResult>(a, 'bulk', { endpoint: etcd.endpoint, prefix: PREFIX, count: peers, first: idlePeers, skip, ttl: 600, 'wait-ms': 240_000 }, 300_000);
    let convergedAt = 0;
    let bulkFailed: unknown;
    bulkRun.catch((e: unknown) => (bulkFailed = e));
    await waitFor(
      `${fmt(total)} routes on flannel.1`,
      async () => {
        if (bulkFailed) throw bulkFailed;
        if ((await routesOn(a)) < total) return false;
        convergedAt = Date.now();
        return true;
      },
      240_000,
      100,
    );
    const bulk = await bulkRun;
    const convergeMs = convergedAt - bulk.t0;
    const full = await memStatus(pid);
    const entries = await countEntries(a);
    const idleCpuFull = await idleCpuMs(pid);

    // ---- one lease at a time, then churn
    const rtt = (await agent<{ samples: number[] }>(a, 'rtt', { endpoint: etcd.endpoint, n: 200 }, 60_000)).samples;
    const base = { endpoint: etcd.endpoint, prefix: PREFIX, lease: small.leaseId, gap: 20, skip };
    const seq = await agent<EventsResult>(a, 'events', { ...base, first: total, count: events, mode: 'seq' }, 300_000);
    const churn = await agent<EventsResult>(a, 'events', { ...base, first: total + events, count: events, mode: 'open' }, 300_000);
    if (seq.missing || churn.missing) throw new Error(`routes never appeared: ${seq.missing} one at a time, ${churn.missing} under churn`);
    const after = await memStatus(pid);

    // ---- restart onto an empty kernel with every lease in etcd
    const all = total + 2 * events;
    fl.kill('SIGTERM');
    if (!(await fl.wait(20_000))) await fl.stop(1_000);
    await a.ipCmd(['link', 'del', 'flannel.1']);
    const restartFloorMs = await ipBatchBaseline(lab.host('b'), all, skip);
    const watcher = a.spawn([process.execPath, AGENT, 'converge', `--count=${all}`, '--wait-ms=120000'], { logFile: path.join(a.dir, 'agent-converge.log') });
    await watcher.waitForOutput(/WATCHING/, 20_000, 'out');
    const startedAt = performance.timeOrigin + performance.now();
    fl = flanneld(a, etcd, 'restart');
    const firstRead = await logTime(fl, 'peer leases changed', 60_000);
    await watcher.wait(150_000);
    const line = (await watcher.waitForOutput(/^RESULT /m, 1_000, 'out')).split('\n').find((l) => l.startsWith('RESULT '))!;
    const restart = JSON.parse(line.slice('RESULT '.length)) as { lastRouteAt?: number; routesSeen: number; overflowed: boolean };
    if (restart.lastRouteAt === undefined) throw new Error(`after the restart only ${restart.routesSeen} of ${all} routes appeared`);
    pid = await nodePid(fl);
    await new Promise((r) => setTimeout(r, 1_000));
    const restarted = await memStatus(pid);
    await heapSnapshot(pid);

    if (bulk.overflowed || seq.overflowed || churn.overflowed || restart.overflowed) console.error('controlplane: route notifications overflowed; notification-based figures are partial');
    console.error(`controlplane: routes per second after the first write: ${bulk.perSecond.join(' ')}`);
    console.error(`controlplane: load average at the end ${(await readFile('/proc/loadavg', 'utf8')).split(' ', 3).join(' ')} on ${availableParallelism()} CPUs`);

    const rttP50 = percentile(rtt, 50);
    const rttP99 = percentile(rtt, 99);
    const row = (name: string, value: number, unit: string, baseValue?: number, baseline?: string): BenchResult => ({
      name,
      value,
      unit,
      ...(baseValue !== undefined && baseValue > 0 && { ratio: value / baseValue }),
      ...(baseline && { baseline }),
    });
    const n = fmt(peers);
    const cpu0 = idleCpu0.own + idleCpu0.children;
    return [
      row(`ip/bridge -batch: ${n} × (neigh, fdb, route) by hand (baseline)`, floorMs, 'ms', floorMs),
      row(`flanneld: first lease write → ${n} more routes in the kernel`, convergeMs, 'ms', floorMs, 'ip -batch'),
      row(`  of which writing ${n} leases to etcd`, bulk.writeMs, 'ms', floorMs, 'ip -batch'),
      row(`  last route notification after the first write`, bulk.lastRouteMs ?? NaN, 'ms', floorMs, 'ip -batch'),
      row(`  neighbours on flannel.1 at convergence`, entries.neighs, 'entries', total, 'peers'),
      row(`  FDB entries on flannel.1 at convergence`, entries.fdbs, 'entries', total, 'peers'),
      row(`ip/bridge -batch: ${fmt(all)} × (neigh, fdb, route) by hand (baseline)`, restartFloorMs, 'ms', restartFloorMs),
      row(`flanneld restart, ${fmt(all)} leases: process start → last route`, restart.lastRouteAt - startedAt, 'ms', restartFloorMs, 'ip -batch'),
      row(`  first lease read → last route`, restart.lastRouteAt - firstRead, 'ms', restartFloorMs, 'ip -batch'),
      row('etcd put → watch notification (baseline) p50', rttP50, 'ms', rttP50),
      row('etcd put → watch notification (baseline) p99', rttP99, 'ms', rttP99),
      row(`lease → route, one at a time (${events}) p50`, percentile(seq.latencies, 50), 'ms', rttP50, 'etcd p50'),
      row(`lease → route, one at a time (${events}) p99`, percentile(seq.latencies, 99), 'ms', rttP99, 'etcd p99'),
      row(`lease → route, a lease every 20 ms (${events}) p50`, percentile(churn.latencies, 50), 'ms', rttP50, 'etcd p50'),
      row(`lease → route, a lease every 20 ms (${events}) p99`, percentile(churn.latencies, 99), 'ms', rttP99, 'etcd p99'),
      row('flanneld RSS, 0 peers (baseline)', idle0.rssKiB / 1024, 'MiB', idle0.rssKiB / 1024),
      row(`flanneld RSS, ${fmt(total)} peers (at convergence)`, full.rssKiB / 1024, 'MiB', idle0.rssKiB / 1024, '0 peers'),
      row(`flanneld RSS, ${fmt(all)} peers (end)`, after.rssKiB / 1024, 'MiB', idle0.rssKiB / 1024, '0 peers'),
      row('flanneld peak RSS (VmHWM)', after.hwmKiB / 1024, 'MiB', idle0.rssKiB / 1024, '0 peers'),
      row(`flanneld RSS after the restart, ${fmt(all)} peers`, restarted.rssKiB / 1024, 'MiB', idle0.rssKiB / 1024, '0 peers'),
      row('flanneld CPU while idle for 20.5 s, 0 peers, own + commands (baseline)', cpu0, 'ms', cpu0),
      row(`flanneld CPU while idle for 20.5 s, ${idlePeers} peers, own`, idleCpuSmall.own, 'ms', cpu0, '0 peers'),
      row(`flanneld CPU while idle for 20.5 s, ${idlePeers} peers, commands it ran`, idleCpuSmall.children, 'ms', cpu0, '0 peers'),
      row(`flanneld CPU while idle for 20.5 s, ${fmt(total)} peers, own + commands`, idleCpuFull.own + idleCpuFull.children, 'ms', cpu0, '0 peers'),
    ];
  } finally {
    if (prof && fl) {
      // The profile is written on a clean exit: one SIGTERM to flanneld alone (Proc.stop sends two,
      // and the second, after flanneld's `process.once` handler ran, kills it before it writes one).
      fl.kill('SIGTERM');
      if (!(await fl.wait(20_000))) await fl.stop(1_000);
      for (const tag of ['first', 'restart']) await copyFile(path.join(lab.host('a').dir, `flanneld-${tag}.log`), path.join(path.resolve(prof), `flanneld-${tag}.log`)).catch(() => undefined);
    }
    await etcd?.destroy();
    await lab.destroy();
  }
}
