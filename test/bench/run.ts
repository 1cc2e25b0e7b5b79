// `npm run bench [name...]`: runs the named benchmarks (all by default) and prints each figure with
// its ratio to a baseline measured in the same run.
import { benchApiServer } from './apiserver.js';
import { benchColdStart } from './coldstart.js';
import { benchCni } from './cni.js';
import { benchDataplane } from './dataplane.js';
import { benchDns } from './dns.js';
import { benchExec } from './exec.js';
import { benchControlPlane } from './controlplane.js';
import { benchConverge } from './converge.js';
import { benchConcurrentAcquire } from './leases.js';
import { benchKubelet } from './kubelet.js';
import { benchKubeletIdle } from './kubeletidle.js';
import { benchNetpol } from './netpol.js';
import { benchNetpolThroughput } from './netpol-throughput.js';
import { benchProxy } from './proxy.js';
import { benchProxyIdle } from './proxyidle.js';
import { benchScheduler } from './scheduler.js';
import { printResults, type BenchResult } from './stats.js';

const benches: Record<string, { title: string; run: () => Promise<BenchResult[]> }> = {
  leases: { title: 'Lease acquisition, 1,000 nodes, one etcd', run: () => benchConcurrentAcquire(1000) },
  coldstart: { title: 'flanneld cold start', run: () => benchColdStart(9) },
  dataplane: { title: 'Data plane: iperf3 TCP and ping, pod to pod over vxlan, udp and host-gw vs the underlay and vs routes set by hand', run: () => benchDataplane({ rounds: 3, seconds: 5, pings: 20 }) },
  controlplane: { title: 'Control plane: 5,000 peer leases, one flanneld (vxlan)', run: () => benchControlPlane(5000, 200) },
  converge: { title: 'Convergence onto an empty kernel: flanneld (vxlan) restarted with 5,000 peer leases, 3 rounds', run: () => benchConverge(5000, 3) },
  kubelet: { title: 'kubelet: pod startup latency (etcd write → Running with podIP), 50 pods, image present', run: () => benchKubelet(50, 500) },
  kubeletidle: { title: 'kubelet at rest: 50 pods, default periods, CPU of the kubelet and dockerd over 20.5 s', run: () => benchKubeletIdle(50) },
  cni: { title: 'CNI ADD/DEL latency, one and 40 at once: flannel -> bridge -> our host-local (shims -> daemon, and daemon off) vs bridge + Debian host-local', run: () => benchCni(30, 40, 5) },
  apiserver: { title: 'kube-apiserver: 10,000 pod creates at concurrency 50 vs etcd, kubectl get pods, one change to 100 watchers, RSS', run: () => benchApiServer() },
  scheduler: { title: 'kube-scheduler: 10,000 pending pods onto 1,000 nodes (binds/s vs creates/s, spread), an RC scaled 0→500', run: () => benchScheduler() },
  dns: { title: 'Cluster DNS: service names over UDP, kube-dns vs dnsmasq (same names, same load generator); kubectl exec POD -- true vs docker exec', run: async () => [...(await benchDns()), ...(await benchExec(30))] },
  exec: { title: 'kubectl exec POD -- true vs docker exec of the same container (SPDY and WebSocket kubectls)', run: () => benchExec(30) },
  netpol: { title: 'NetworkPolicy rule syncs: 1,000 policies over 5,000 pods, netpol-agent vs a chain per pod and rule; pod->pod iperf3 with 1,000 policies vs none', run: async () => [...(await benchNetpol()), ...(process.env.NETPOL_BENCH_THROUGHPUT === '0' ? [] : await benchNetpolThroughput({ rounds: 32, seconds: 2 }))] },
  proxyidle: { title: 'kube-proxy at rest: 100 services x 3 endpoints on etcd, CPU of the daemon and its nft over 20.5 s; a hand-deleted table healed', run: () => benchProxyIdle(100, 3) },
  proxy: { title: 'Service proxy: rule syncs, 10,000 services x 5 endpoints, vs kube-proxy iptables layout; endpoint shares', run: () => benchProxy() },
};

const wanted = process.argv.slice(2);
for (const name of wanted.length ? wanted : Object.keys(benches)) {
  const b = benches[name];
  if (!b) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  printResults(b.title, await b.run());
}
