// Control-plane benchmark for leases, against a real etcd on loopback:
//  - baseline: one etcd round trip (a linearizable get), measured in this run;
//  - 1,000 simulated nodes acquiring leases at once (distinct public IPs, 10 etcd clients);
//  - one flanneld cold start to subnet.env, inside a lab namespace (see cold-start in run.ts).
// Figures are reported as ratios to the baseline, since the machines are noisy.
import type { Etcd3 } from 'etcd3';
import { createEtcdClient } from '../../common/index.js';
import { EtcdRegistry, LeaseManager, formatCidr, parseNetworkConfig } from '../../ipam/index.js';
import { EtcdServer } from '../harness/index.js';
import { percentile, type BenchResult } from './stats.js';

export async function benchEtcdRoundTrip(client: Etcd3, n = 300): Promise<number[]> {
  await client.put('/bench/rtt').value('x');
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await client.get('/bench/rtt').string();
    samples.push(performance.now() - t);
  }
  return samples;
}

export async function benchConcurrentAcquire(nodes = 1000): Promise<BenchResult[]> {
  const etcd = await EtcdServer.start();
  const clients = Array.from({ length: 10 }, () => createEtcdClient({ endpoints: [etcd.endpoint] }));
  try {
    const rtt = await benchEtcdRoundTrip(clients[0]!);
    const rttP50 = percentile(rtt, 50);
    // A /12 holds 4,095 /24s: room for 1,000 nodes without the range itself being the bottleneck.
    const cfg = parseNetworkConfig('{"Network":"10.0.0.0/12","Backend":{"Type":"alloc"}}');
    let retries = 0;
    const perNode: number[] = [];
    const t0 = performance.now();
    const got = await Promise.all(
      Array.from({ length: nodes }, async (_, i) => {
        const reg = new EtcdRegistry(clients[i % clients.length]!, '/bench/network');
        const mgr = new LeaseManager({ registry: reg, maxAttempts: 1000 });
        const start = performance.now();
        const l = await mgr.acquire(cfg, { publicIP: `172.16.${i >> 8}.${i & 255}`, backendType: 'alloc' });
        retries += l.attempts - 1;
        perNode.push(performance.now() - start);
        return formatCidr(l.lease.subnet!);
      }),
    );
    const total = performance.now() - t0;
    if (new Set(got).size !== nodes) throw new Error(`duplicate subnets handed out: ${nodes - new Set(got).size}`);
    return [
      { name: 'etcd round trip (baseline)', value: rttP50, unit: 'ms p50', ratio: 1 },
      { name: `${nodes} nodes acquire concurrently: total`, value: total, unit: 'ms', ratio: total / rttP50 },
      { name: `${nodes} nodes: per-node latency p50`, value: percentile(perNode, 50), unit: 'ms', ratio: percentile(perNode, 50) / rttP50 },
      { name: `${nodes} nodes: per-node latency p99`, value: percentile(perNode, 99), unit: 'ms', ratio: percentile(perNode, 99) / rttP50 },
      { name: `${nodes} nodes: lost races retried`, value: retries, unit: 'retries', ratio: retries / nodes },
    ];
  } finally {
    for (const c of clients) c.close();
    await etcd.destroy();
  }
}
