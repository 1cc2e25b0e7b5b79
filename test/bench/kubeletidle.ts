// The kubelet at rest: one lab host (flanneld, dockerd, the kubelet with its default periods: node
// status every 10 s, PLEG on Docker's events with a relist as the safety net, sync every 10 s,
// static pods re-read every 20 s, on etcd the peer monitor every 5 s) running `pods` busybox pods. After
// they all run and a settle period, the CPU of the kubelet (and what it runs) and of dockerd over
// 20.5 s of nothing changing. KUBELET_IDLE_NODE_ARGS adds node flags to the kubelet (e.g. `--cpu-prof
// --cpu-prof-dir=/tmp/p`; written when it stops). KUBELET_IDLE_ARGS adds kubelet flags.
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { KubeLab } from '../netns/index.js';
import { removeAll, startup } from './kubelet.js';
import { cpuMs, nodePid, treeCpuMs } from './procstat.js';
import type { BenchResult } from './stats.js';

const IDLE_TARGET_MS = 50;
const SETTLE_MS = 5_000;
const WINDOW_MS = 20_500;

export async function benchKubeletIdle(pods = 50): Promise<BenchResult[]> {
  const nodeArgs = (process.env.KUBELET_IDLE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const args = (process.env.KUBELET_IDLE_ARGS ?? '').split(' ').filter(Boolean);
  const k = await KubeLab.start({ hosts: ['a'], kubeletArgs: args, ...(nodeArgs.length && { kubeletNodeArgs: nodeArgs }) });
  try {
    const names = Array.from({ length: pods }, (_, i) => `idle${i}`);
    await startup(k, names, 0);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const d = k.node('a').dockerd;
    const dockerdPid = Number((await readFile(path.join(d.dir, 'dockerd.pid'), 'utf8')).trim());
    const kubeletPid = await nodePid(k.node('a').kubelet);
    const [k0, d0] = await Promise.all([treeCpuMs(kubeletPid), cpuMs(dockerdPid)]);
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const [k1, d1] = await Promise.all([treeCpuMs(kubeletPid), cpuMs(dockerdPid)]);
    const load = (await readFile('/proc/loadavg', 'utf8')).split(' ', 3).join(' ');
    console.error(`kubeletidle: load average ${load} on ${availableParallelism()} CPUs; kubelet flags: ${args.join(' ') || '(defaults)'}`);
    await removeAll(k, names);
    const kubelet = k1 - k0;
    return [
      { name: `kubelet idle CPU with ${pods} pods, per 20.5 s`, value: kubelet, unit: 'ms', ratio: kubelet / IDLE_TARGET_MS, baseline: "flanneld's idle target (50 ms)" },
      { name: 'dockerd CPU over the same window', value: d1.own - d0.own, unit: 'ms' },
    ];
  } finally {
    await k.destroy();
  }
}
