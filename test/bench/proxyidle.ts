// kube-proxy at rest: the real daemon in a lab host's namespace, on the lab's etcd, with `services`
// Services (explicit ClusterIPs, no selector) and an Endpoints object of `endpointsPer` addresses each,
// synced into `table ip kube-proxy` by the real nft. After the first sync and a settle period, the CPU
// of the daemon and of everything it runs (its nft processes, the long-lived `nft -i` included) over
// 20.5 s of nothing changing. Then the table is deleted by hand and the time until it is back is taken.
// PROXY_IDLE_NODE_ARGS adds node flags (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`; written on stop);
// PROXY_IDLE_KEEP_LOG=<file> keeps the daemon's log.
import { copyFile, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { EtcdServer } from '../harness/index.js';
import { endpointsKey, type Host, KUBE_PROXY, Lab, type Proc, putService, startLabEtcd, waitFor } from '../netns/index.js';
import { idleTreeCpuMs, nodePid } from './procstat.js';
import type { BenchResult } from './stats.js';

const IDLE_TARGET_MS = 50;
/**
 * After the first sync (PROXY_IDLE_SETTLE_MS): V8 collects start-up garbage for a while after the
 * allocations stop (with 5 s, 100-120 ms of the window were those collections; with 30 s, 10 ms).
 */
const SETTLE_MS = Number(process.env.PROXY_IDLE_SETTLE_MS ?? 30_000);

function proxy(h: Host, etcd: EtcdServer): Proc {
  const extra = (process.env.PROXY_IDLE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return h.spawn([process.execPath, ...extra, KUBE_PROXY, `--etcd-endpoints=${etcd.endpoint}`, `--hostname-override=${h.name}`, '--healthz-bind-address=127.0.0.1', '--cluster-cidr=10.5.0.0/16'], {
    logFile: path.join(h.dir, 'kube-proxy.log'),
  });
}

const svcIp = (i: number) => `10.254.${1 + (i >> 8)}.${i & 255}`;

async function tableThere(h: Host): Promise<boolean> {
  const r = await h.exec(['nft', 'list', 'table', 'ip', 'kube-proxy'], { timeoutMs: 5_000 });
  return r.code === 0 && r.stdout.includes('service-ips');
}

/** Counts the elements of @service-ips (one per service port). */
async function serviceIpElements(h: Host): Promise<number> {
  const r = await h.exec(['nft', '-j', 'list', 'map', 'ip', 'kube-proxy', 'service-ips'], { timeoutMs: 5_000 });
  if (r.code !== 0) return 0;
  const j = JSON.parse(r.stdout) as { nftables: { map?: { elem?: unknown[] } }[] };
  return j.nftables.reduce((s, o) => s + (o.map?.elem?.length ?? 0), 0);
}

export async function benchProxyIdle(services = 100, endpointsPer = 3): Promise<BenchResult[]> {
  const lab = await Lab.create({ hosts: ['a'] });
  let etcd: EtcdServer | undefined;
  let kp: Proc | undefined;
  try {
    etcd = await startLabEtcd(lab);
    const a = lab.host('a');
    for (let i = 0; i < services; i++) {
      const name = `s${i}`;
      await putService(etcd, name, { clusterIP: svcIp(i), ports: [{ name: 'http', port: 80, targetPort: 8080 }] }, 'bench');
      const addresses = Array.from({ length: endpointsPer }, (_, k) => ({ ip: `10.5.${1 + (i % 200)}.${10 + k}`, nodeName: 'elsewhere' }));
      const ep = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace: 'bench' }, subsets: [{ addresses, ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }] };
      await etcd.ctl(['put', endpointsKey('bench', name), JSON.stringify(ep)]);
    }
    kp = proxy(a, etcd);
    await waitFor(`${services} services in table ip kube-proxy`, async () => (await serviceIpElements(a)) >= services, 60_000, 250);
    const pid = await nodePid(kp);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const idle = await idleTreeCpuMs(pid);
    const load = (await readFile('/proc/loadavg', 'utf8')).split(' ', 3).join(' ');

    // Healing: the whole table deleted by hand comes back (and with every service in it).
    await a.run(['nft', 'delete', 'table', 'ip', 'kube-proxy']);
    const t0 = Date.now();
    await waitFor('table ip kube-proxy back', async () => (await tableThere(a)) && (await serviceIpElements(a)) >= services, 60_000, 50);
    const healMs = Date.now() - t0;
    console.error(`proxyidle: load average ${load} on ${availableParallelism()} CPUs`);
    return [
      { name: `kube-proxy idle CPU (with its nft), ${services} services x ${endpointsPer} endpoints, per 20.5 s`, value: idle, unit: 'ms', ratio: idle / IDLE_TARGET_MS, baseline: "flanneld's idle target (50 ms)" },
      { name: 'table ip kube-proxy deleted by hand → back with every service', value: healMs, unit: 'ms' },
    ];
  } catch (e) {
    const log = await readFile(path.join(lab.host('a').dir, 'kube-proxy.log'), 'utf8').catch(() => '');
    console.error(`proxyidle: kube-proxy's log ends:\n${log.slice(-3000)}`);
    throw e;
  } finally {
    await kp?.stop(20_000).catch(() => undefined);
    if (process.env.PROXY_IDLE_KEEP_LOG) await copyFile(path.join(lab.host('a').dir, 'kube-proxy.log'), process.env.PROXY_IDLE_KEEP_LOG).catch(() => undefined);
    await etcd?.destroy();
    await lab.destroy();
  }
}
