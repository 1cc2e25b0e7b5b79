// Convergence onto an empty kernel, repeated: the restart figure of controlplane.ts alone, `rounds`
// times in one run, so a change to flanneld's per-peer path can be measured (and profiled) without
// the rest of that benchmark's twelve minutes of idle and event phases.
//
//   each round   flanneld stopped (cleanly: SIGTERM, its exit awaited), flannel.1 deleted, the kernel's
//                floor measured on host b (`ip -batch` / `bridge -batch` of the same entries), then
//                flanneld started with every lease in etcd: process start → last peer route announced,
//                flanneld's first lease read (its `peer leases changed` log line) → the same, and the
//                CPU flanneld had used by then (utime + stime of its /proc stat).
//
// `CONVERGE_CPU_PROF=<dir>` runs flanneld with `--cpu-prof` (one profile per round, written at its
// clean exit) and copies its logs there; `CONVERGE_NODE_ARGS` adds other node flags (`--trace-gc`).
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EtcdServer } from '../harness/index.js';
import { FLANNELD, type Host, Lab, type Proc, readEnvFile, startLabEtcd, subnetFileOf, waitFor } from '../netns/index.js';
import { ipBatchBaseline } from './controlplane.js';
import { peerSlot } from './controlplane-agent.js';
import { memStatus, nodePid } from './procstat.js';
import { percentile, type BenchResult } from './stats.js';

const PREFIX = '/coreos.com/network';
const AGENT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'controlplane-agent.js');
/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on every Linux we run on). */
const USER_HZ = 100;
const RSS_SETTLE_MS = 5_000;

function flanneld(h: Host, etcd: EtcdServer, tag: string): Proc {
  const prof = process.env.CONVERGE_CPU_PROF;
  const extra = (process.env.CONVERGE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const nodeArgs = [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(prof)}`, `--cpu-prof-name=flanneld-${tag}.cpuprofile`] : []), ...extra];
  return h.spawn([process.execPath, ...nodeArgs, FLANNELD, `--etcd-endpoints=${etcd.endpoint}`, `--subnet-file=${subnetFileOf(h)}`, '--iface=eth0'], {
    logFile: path.join(h.dir, `flanneld-${tag}.log`),
  });
}

async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / USER_HZ; // utime, stime (fields 14 and 15)
}

async function logTime(fl: Proc, msg: string, timeoutMs: number): Promise<number> {
  const text = await fl.waitForOutput(new RegExp(`"msg":"${msg}"`), timeoutMs, 'both');
  const line = text.split('\n').find((l) => l.includes(`"msg":"${msg}"`))!;
  return (JSON.parse(line) as { time: number }).time;
}

async function agentResult<T>(h: Host, job: string, opts: Record<string, string | number>, timeoutMs: number): Promise<T> {
  const r = await h.exec([process.execPath, AGENT, job, ...Object.entries(opts).map(([k, v]) => `--${k}=${v}`)], { timeoutMs });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.code !== 0 || r.timedOut || !line) throw new Error(`agent ${job} failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${r.stderr.trim().slice(-2000)}`);
  return JSON.parse(line.slice('RESULT '.length)) as T;
}

/**
 * Stops flanneld and insists on a clean exit: a profile is only written then. One SIGTERM, to flanneld
 * alone: Proc.stop signals the group and the process, and flanneld's handler is a `process.once`, so
 * a second SIGTERM arriving after the first was handled kills it mid-shutdown (no profile).
 */
async function stopClean(fl: Proc): Promise<void> {
  fl.kill('SIGTERM');
  const exit = (await fl.wait(20_000)) ?? (await fl.stop(1_000));
  if (!exit || exit.code !== 0) throw new Error(`flanneld did not exit cleanly on SIGTERM: ${JSON.stringify(exit)}`);
}

export async function benchConverge(peers = 5000, rounds = 3): Promise<BenchResult[]> {
  const lab = await Lab.create({ hosts: ['a', 'b'] });
  let etcd: EtcdServer | undefined;
  let fl: Proc | undefined;
  const prof = process.env.CONVERGE_CPU_PROF;
  if (prof) await mkdir(path.resolve(prof), { recursive: true });
  try {
    etcd = await startLabEtcd(lab);
    const a = lab.host('a');
    const b = lab.host('b');
    await etcd.ctl(['put', `${PREFIX}/config`, '{"Network":"10.0.0.0/8","Backend":{"Type":"vxlan"}}']);
    fl = flanneld(a, etcd, 'setup');
    const env = await waitFor('flanneld subnet.env', () => readEnvFile(subnetFileOf(a)), 30_000);
    const skip = peerSlot(env.FLANNEL_SUBNET!.replace(/\/\d+$/, ''));
    await agentResult(a, 'bulk', { endpoint: etcd.endpoint, prefix: PREFIX, count: peers, first: 0, skip, ttl: 3600, 'wait-ms': 240_000 }, 300_000);

    const rows: { floor: number; fromStart: number; fromRead: number; cpu: number; rss: number; hwm: number }[] = [];
    for (let r = 1; r <= rounds; r++) {
      await stopClean(fl);
      fl = undefined;
      await a.ipCmd(['link', 'del', 'flannel.1']);
      const floor = await ipBatchBaseline(b, peers, skip);
      const watcher = a.spawn([process.execPath, AGENT, 'converge', `--count=${peers}`, '--wait-ms=120000'], { logFile: path.join(a.dir, `agent-converge-${r}.log`) });
      await watcher.waitForOutput(/WATCHING/, 20_000, 'out');
      const startedAt = performance.timeOrigin + performance.now();
      fl = flanneld(a, etcd, `round${r}`);
      const firstRead = await logTime(fl, 'peer leases changed', 60_000);
      await watcher.wait(150_000);
      const line = (await watcher.waitForOutput(/^RESULT /m, 1_000, 'out')).split('\n').find((l) => l.startsWith('RESULT '))!;
      const res = JSON.parse(line.slice('RESULT '.length)) as { lastRouteAt?: number; routesSeen: number };
      if (res.lastRouteAt === undefined) throw new Error(`round ${r}: only ${res.routesSeen} of ${peers} routes appeared`);
      const pid = await nodePid(fl);
      const cpu = await cpuMsOf(pid);
      // The memory a converged daemon keeps: read after the resync that follows the bulk write has run.
      await new Promise((r) => setTimeout(r, RSS_SETTLE_MS));
      const mem = await memStatus(pid);
      rows.push({ floor, fromStart: res.lastRouteAt - startedAt, fromRead: res.lastRouteAt - firstRead, cpu, rss: mem.rssKiB / 1024, hwm: mem.hwmKiB / 1024 });
      console.error(
        `converge round ${r}: ip -batch ${floor.toFixed(0)} ms; start → last route ${(res.lastRouteAt - startedAt).toFixed(0)} ms (x${((res.lastRouteAt - startedAt) / floor).toFixed(2)}); ` +
          `first read → last route ${(res.lastRouteAt - firstRead).toFixed(0)} ms (x${((res.lastRouteAt - firstRead) / floor).toFixed(2)}); flanneld CPU ${cpu} ms; RSS ${(mem.rssKiB / 1024).toFixed(1)} MiB ${RSS_SETTLE_MS / 1000} s later (peak ${(mem.hwmKiB / 1024).toFixed(1)}); load ${(await readFile('/proc/loadavg', 'utf8')).split(' ', 3).join(' ')}`,
      );
    }
    await stopClean(fl);
    fl = undefined;
    const med = (k: keyof (typeof rows)[number]): number => percentile(rows.map((x) => x[k]), 50);
    const ratios = (k: 'fromStart' | 'fromRead'): number => percentile(rows.map((x) => x[k] / x.floor), 50);
    const n = peers.toLocaleString('en-US');
    return [
      { name: `ip/bridge -batch: ${n} × (neigh, fdb, route), median of ${rounds} (baseline)`, value: med('floor'), unit: 'ms', ratio: 1 },
      { name: `flanneld start → ${n} routes, median`, value: med('fromStart'), unit: 'ms', ratio: ratios('fromStart'), baseline: 'ip -batch (median of per-round ratios)' },
      { name: `flanneld first lease read → ${n} routes, median`, value: med('fromRead'), unit: 'ms', ratio: ratios('fromRead'), baseline: 'ip -batch (median of per-round ratios)' },
      { name: `flanneld CPU, start → converged, median`, value: med('cpu'), unit: 'ms' },
      { name: `flanneld RSS ${RSS_SETTLE_MS / 1000} s after converging, median`, value: med('rss'), unit: 'MiB' },
      { name: `flanneld peak RSS (VmHWM), median`, value: med('hwm'), unit: 'MiB' },
    ];
  } finally {
    if (fl) await fl.stop(20_000);
    if (prof) {
      for (let r = 0; r <= rounds; r++) {
        const tag = r === 0 ? 'setup' : `round${r}`;
        await copyFile(path.join(lab.host('a').dir, `flanneld-${tag}.log`), path.join(path.resolve(prof), `flanneld-${tag}.log`)).catch(() => undefined);
      }
    }
    await etcd?.destroy();
    await lab.destroy();
  }
}
