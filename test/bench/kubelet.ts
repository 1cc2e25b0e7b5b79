// Pod startup latency (the Kubernetes SLI "pod startup latency, excluding image pulls": 5 s at p99):
// from the moment a pod is written to etcd until a watch sees its status Running with a podIP, on one
// lab host running flanneld (vxlan), dockerd and the kubelet, with the image present.
//
//   one after another  each pod written once the previous one runs (how Kubernetes measures the SLI:
//                      latency pods, one busybox container each)
//   paced  `pods` pods written one every `gapMs` (open loop)
//   burst  `pods` pods written at once (queueing in dockerd: this is throughput, not the SLI)
//   baselines, same run, same dockerd and image: `docker run -d` (the CLI, sequential, whose own start
//   dominates), one container through the Docker API (create + start + inspect, the kubelet's own
//   client): a pod needs two of those (pause and app) plus its etcd writes; and 2 × `pods` such
//   containers started at once, the most the burst can expect from this dockerd.
// The watch runs in this process and reaches etcd through the lab's bridge (see test/netns/kubelet.ts).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Pod, keys, parsePodObject } from '../../cluster/index.js';
import { DockerClient } from '../../kubelet/index.js';
import { BUSYBOX_IMAGE, KubeLab, waitFor } from '../netns/index.js';
import { idleCpuMs, nodePid } from './procstat.js';
import { type BenchResult, percentile } from './stats.js';

const NS = 'bench';
const SLO_MS = 5_000;
/** Issue 18's idle budget for flanneld with 100 peers, the yardstick here too. */
const IDLE_TARGET_MS = 50;

function benchPod(name: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, uid: `00000000-0000-4000-8000-${name.replace(/\D/g, '').padStart(12, '0')}` },
    spec: { nodeName: 'a', terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: BUSYBOX_IMAGE, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] },
  };
}

/**
 * Writes the pods, returns each one's write → Running-with-podIP latency seen by a watch. `gapMs`:
 * the pause between writes; 'sequential': each pod is written once the previous one runs.
 */
export async function startup(k: KubeLab, names: readonly string[], gapMs: number | 'sequential'): Promise<number[]> {
  const written = new Map<string, number>();
  const seen = new Map<string, number>();
  const ac = new AbortController();
  const { revision } = await k.store.list(keys.pods(NS), parsePodObject);
  const watching = (async () => {
    for await (const b of k.store.watch(keys.pods(NS), parsePodObject, revision + 1n, ac.signal)) {
      if (b.kind !== 'events') continue;
      const now = Date.now();
      for (const e of b.events) {
        if (e.type !== 'put') continue;
        const p = e.item.obj;
        if (p.status?.phase === 'Running' && p.status.podIP && !seen.has(p.metadata.name)) seen.set(p.metadata.name, now);
      }
      if (seen.size >= names.length) break;
    }
  })();
  try {
    for (const n of names) {
      written.set(n, Date.now());
      void k.store.put(keys.pod(NS, n), benchPod(n));
      if (gapMs === 'sequential') await waitFor(`${n} Running`, () => seen.has(n), 60_000, 5);
      else if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    }
    await waitFor(`${names.length} pods Running`, () => seen.size >= names.length, 180_000, 100);
  } finally {
    ac.abort();
    await watching.catch(() => undefined);
  }
  return names.map((n) => seen.get(n)! - written.get(n)!);
}

export async function removeAll(k: KubeLab, names: readonly string[]): Promise<void> {
  await Promise.all(names.map((n) => k.store.delete(keys.pod(NS, n))));
  await waitFor('bench pods removed', async () => (await k.containers('a', names[0]!)).length === 0 && (await k.node('a').dockerd.docker(['ps', '-aq'])).trim() === '', 120_000, 250);
}

export async function benchKubelet(pods = 50, gapMs = 500): Promise<BenchResult[]> {
  const k = await KubeLab.start({ hosts: ['a'], kubeletArgs: ['--node-status-update-frequency=1s', '--node-monitor-grace-period=5s'] });
  try {
    const d = k.node('a').dockerd;
    // Warm-up (excluded): the pause image is made, the first sandbox and container are created.
    await startup(k, ['warm0'], 0);
    await removeAll(k, ['warm0']);

    // Baselines on the same dockerd, same image.
    const cli: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = Date.now();
      await d.docker(['run', '-d', '--name', `base${i}`, BUSYBOX_IMAGE, 'sleep', '3600']);
      cli.push(Date.now() - t0);
    }
    await d.docker(['rm', '-f', ...cli.map((_, i) => `base${i}`)], { timeoutMs: 60_000 });
    const api: number[] = [];
    let apiBurst: number[] = [];
    let apiBurstS = 0;
    const client = new DockerClient({ socketPath: d.socket });
    try {
      for (let i = 0; i < 20; i++) {
        const t0 = Date.now();
        const id = await client.createContainer(`api${i}`, { Image: BUSYBOX_IMAGE, Cmd: ['sleep', '3600'] });
        await client.startContainer(id);
        await client.inspectContainer(id);
        api.push(Date.now() - t0);
      }
      await Promise.all(api.map((_, i) => client.removeContainer(`api${i}`)));
      // The burst baseline: as many containers as the pod burst needs (pause + app), all at once.
      const t0 = Date.now();
      apiBurst = await Promise.all(
        Array.from({ length: 2 * pods }, async (_, i) => {
          const t = Date.now();
          const id = await client.createContainer(`apib${i}`, { Image: BUSYBOX_IMAGE, Cmd: ['sleep', '3600'] });
          await client.startContainer(id);
          await client.inspectContainer(id);
          return Date.now() - t;
        }),
      );
      apiBurstS = (Date.now() - t0) / 1000;
      await Promise.all(apiBurst.map((_, i) => client.removeContainer(`apib${i}`)));
    } finally {
      client.close();
    }

    const seq = Array.from({ length: pods }, (_, i) => `seq${i}`);
    const seqMs = await startup(k, seq, 'sequential');
    await removeAll(k, seq);
    const paced = Array.from({ length: pods }, (_, i) => `paced${i}`);
    const pacedMs = await startup(k, paced, gapMs);
    await removeAll(k, paced);
    const burst = Array.from({ length: pods }, (_, i) => `burst${i}`);
    const t0 = Date.now();
    const burstMs = await startup(k, burst, 0);
    const burstS = (Date.now() - t0) / 1000;
    // Idle with the pods running: what the kubelet (its PLEG relists, status heartbeats, file source,
    // probes of none) and the dockerd it asks cost while nothing changes.
    const dockerdPid = Number((await readFile(path.join(d.dir, 'dockerd.pid'), 'utf8')).trim());
    const kubeletPid = await nodePid(k.node('a').kubelet);
    const [kubeletIdle, dockerdIdle] = await Promise.all([idleCpuMs(kubeletPid), idleCpuMs(dockerdPid)]);
    await removeAll(k, burst);

    const apiP50 = percentile(api, 50);
    const vsRun = (name: string, v: number): BenchResult => ({ name, value: v, unit: 'ms', ratio: v / apiP50, baseline: 'one docker run (API) p50' });
    const vsSlo = (name: string, v: number): BenchResult => ({ name, value: v, unit: 'ms', ratio: v / SLO_MS, baseline: 'the 5 s SLO' });
    const burstBase = percentile(apiBurst, 99);
    return [
      { name: 'baseline: docker run -d (CLI) p50', value: percentile(cli, 50), unit: 'ms' },
      { name: 'baseline: docker run -d (CLI) p99', value: percentile(cli, 99), unit: 'ms' },
      { name: 'baseline: one docker run (API create+start+inspect) p50', value: apiP50, unit: 'ms', ratio: 1, baseline: 'one docker run (API) p50' },
      { name: `baseline: ${2 * pods} docker runs (API) at once, p99`, value: burstBase, unit: 'ms' },
      { name: `baseline: ${2 * pods} docker runs (API) at once: containers per second`, value: (2 * pods) / apiBurstS, unit: '/s' },
      vsRun(`pod startup, ${pods} pods one after another, p50`, percentile(seqMs, 50)),
      vsRun(`pod startup, ${pods} pods one after another, p99`, percentile(seqMs, 99)),
      vsSlo(`pod startup, ${pods} pods one after another, p99 vs SLO`, percentile(seqMs, 99)),
      vsRun(`pod startup, ${pods} pods at ${(1000 / gapMs).toFixed(0)}/s, p50`, percentile(pacedMs, 50)),
      vsRun(`pod startup, ${pods} pods at ${(1000 / gapMs).toFixed(0)}/s, p99`, percentile(pacedMs, 99)),
      vsSlo(`pod startup, ${pods} pods at ${(1000 / gapMs).toFixed(0)}/s, p99 vs SLO`, percentile(pacedMs, 99)),
      vsRun(`pod startup, burst of ${pods}, p50`, percentile(burstMs, 50)),
      { name: `pod startup, burst of ${pods}, p99`, value: percentile(burstMs, 99), unit: 'ms', ratio: percentile(burstMs, 99) / burstBase, baseline: `${2 * pods} docker runs at once p99` },
      vsSlo(`pod startup, burst of ${pods}, p99 vs SLO`, percentile(burstMs, 99)),
      { name: `burst of ${pods}: pods Running per second`, value: pods / burstS, unit: 'pods/s' },
      { name: `kubelet idle CPU with ${pods} pods, per 20.5 s`, value: kubeletIdle.own + kubeletIdle.children, unit: 'ms', ratio: (kubeletIdle.own + kubeletIdle.children) / IDLE_TARGET_MS, baseline: "flanneld's idle target (50 ms)" },
      { name: `dockerd CPU over the same window (the kubelet's relists)`, value: dockerdIdle.own, unit: 'ms' },
    ];
  } finally {
    await k.destroy();
  }
}
