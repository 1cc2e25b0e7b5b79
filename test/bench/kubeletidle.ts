// The kubelet at rest: one lab host (flanneld, dockerd, the kubelet with its default periods: node
// status every 10 s, PLEG on Docker's events with a relist as the safety net, sync every 10 s,
// static pods re-read every 20 s, on etcd the peer monitor every 5 s) running `pods` busybox pods. After
// they all run and a settle period, the CPU of the kubelet (and what it runs) and of dockerd over
// three 20.5 s windows of nothing changing. KUBELET_IDLE_NODE_ARGS adds node flags to the kubelet (e.g. `--cpu-prof
// --cpu-prof-dir=/tmp/p`; written when it stops). KUBELET_IDLE_ARGS adds kubelet flags.
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { KubeLab } from '../netns/index.js';
import { removeAll, startup } from './kubelet.js';
import { cpuMs, nodePid, treeCpuMs } from './procstat.js';
import type { BenchResult } from './stats.js';

const IDLE_TARGET_MS = 50;
/** After the pods run (KUBELET_IDLE_SETTLE_MS): past V8's collections of the start-up garbage. */
const SETTLE_MS = Number(process.env.KUBELET_IDLE_SETTLE_MS ?? 30_000);
const WINDOW_MS = 20_500;
const WINDOWS = 3;

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
    // Three windows back to back: 61.5 s hold one resync of every pod (each minute by default) and one
    // or two PLEG safety-net relists, so their mean is the steady cost; the worst one shows the resync.
    const kubelet: number[] = [];
    const dockerd: number[] = [];
    let [k0, d0] = await Promise.all([treeCpuMs(kubeletPid), cpuMs(dockerdPid)]);
    for (let w = 0; w < WINDOWS; w++) {
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      const [k1, d1] = await Promise.all([treeCpuMs(kubeletPid), cpuMs(dockerdPid)]);
      kubelet.push(k1 - k0);
      dockerd.push(d1.own - d0.own);
      [k0, d0] = [k1, d1];
    }
    const load = (await readFile('/proc/loadavg', 'utf8')).split(' ', 3).join(' ');
    console.error(`kubeletidle: load average ${load} on ${availableParallelism()} CPUs; kubelet flags: ${args.join(' ') || '(defaults)'}; windows: kubelet ${kubelet.join(' / ')} ms, dockerd ${dockerd.join(' / ')} ms`);
    await removeAll(k, names);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return [
      { name: `kubelet idle CPU with ${pods} pods, per 20.5 s (mean of 3 windows)`, value: mean(kubelet), unit: 'ms', ratio: mean(kubelet) / IDLE_TARGET_MS, baseline: "flanneld's idle target (50 ms)" },
      { name: `kubelet idle CPU, the worst 20.5 s window`, value: Math.max(...kubelet), unit: 'ms' },
      { name: 'dockerd CPU over the same windows, per 20.5 s (mean)', value: mean(dockerd), unit: 'ms' },
    ];
  } finally {
    await k.destroy();
  }
}
