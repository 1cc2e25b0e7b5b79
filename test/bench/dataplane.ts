// The data plane: iperf3 TCP and ping between pods on two hosts over the project's VXLAN (flannel.1,
// programmed by flanneld), against two baselines measured in the same run on the same underlay:
//
//   underlay    host a eth0 -> host b eth0, no overlay at all
//   hand-made   pods on hosts c and d over a VXLAN set up by hand with `ip` (vxlan42, VNI 42, port
//               4789, nolearning, static FDB/neighbour/onlink route, MTU underlay - 50, pods on cni0)
//   project     pods on hosts a and b over flannel.1 (VNI 1, port 8472) as flanneld programmed it
//   hand routes pods on hosts i and j on cni0, a route to the other's pod subnet via its underlay
//               address set by hand: host-gw's path with nothing of ours, the limit of every pod→pod
//               figure (the pods' veth and bridge hops included), so each backend is also given
//               against it
//
// Both overlays are the kernel's vxlan driver, so the project's figure should match the hand-made
// one; the underlay shows what encapsulation costs. The machine is noisy: each figure is the median
// of several rounds, the three paths alternating (rotated order) within each round.
// Prints its figures; throws if a measurement cannot be made.
import { FlannelError } from '../../common/index.js';
import type { EtcdServer } from '../harness/index.js';
import {
  type Endpoint,
  type Host,
  Lab,
  PING,
  type Pod,
  readEnvFile,
  startFlanneld,
  startLabEtcd,
  subnetFileOf,
  waitFor,
} from '../netns/index.js';
import { percentile, type BenchResult } from './stats.js';

export class DataplaneBenchError extends FlannelError {
  readonly code = 'BENCH_DATAPLANE';
}

export interface DataplaneOptions {
  /** Rounds; each measures every path once. Default 3. */
  readonly rounds?: number;
  /** iperf3 -t, seconds. Default 5. */
  readonly seconds?: number;
  /** Pings per path per round (busybox ping, 0.05 s apart). Default 20. */
  readonly pings?: number;
}

const IPERF_PORT = 5201;
const ROUTED = { i: '10.8.1.1/24', j: '10.8.2.1/24' } as const;
const HAND = { dev: 'vxlan42', vni: 42, port: 4789, subnets: { c: '10.6.1.1/24', d: '10.6.2.1/24' }, macs: { c: '0a:58:0a:06:01:00', d: '0a:58:0a:06:02:00' } } as const;

interface Path {
  readonly name: string;
  readonly from: Endpoint;
  readonly to: Endpoint;
}

/** One iperf3 TCP run from `from` to `to` (server `iperf3 -s -1` in `to`); receiver bits/s. */
export async function iperf3(from: Endpoint, to: Endpoint, seconds: number, extra: readonly string[] = []): Promise<number> {
  const server = to.spawn(['iperf3', '-s', '-1', '-p', String(IPERF_PORT), '--forceflush', '--idle-timeout', String(seconds + 20)]);
  try {
    await server.waitForOutput(/Server listening on/, 5_000, 'out');
    const argv = ['iperf3', '-c', to.ip, '-p', String(IPERF_PORT), '-t', String(seconds), '-P', '1', '-J', '--connect-timeout', '3000', ...extra];
    const r = await from.exec(argv, { timeoutMs: (seconds + 15) * 1000 });
    let j: { error?: string; end?: { sum_received?: { bits_per_second?: number } } };
    try {
      j = JSON.parse(r.stdout) as typeof j;
    } catch {
      throw new DataplaneBenchError(`iperf3 ${from.name} -> ${to.name} (${to.ip}): no JSON (exit ${r.code}${r.timedOut ? ', timed out' : ''}): ${(r.stderr || r.stdout).trim().slice(0, 300)}`);
    }
    const bps = j.end?.sum_received?.bits_per_second;
    if (j.error || r.code !== 0 || !bps || !(bps > 0)) {
      throw new DataplaneBenchError(`iperf3 ${from.name} -> ${to.name} (${to.ip}) failed: ${j.error ?? `exit ${r.code}, no throughput`}`);
    }
    return bps;
  } finally {
    await server.stop(1000);
  }
}

/** Per-packet round trips (ms) of `count` busybox pings 0.05 s apart; throws if none came back. */
export async function pingRtts(from: Endpoint, to: Endpoint, count: number): Promise<number[]> {
  const argv = [...PING, '-c', String(count), '-i', '0.05', '-w', String(Math.ceil(count * 0.05) + 3), to.ip];
  const r = await from.exec(argv, { timeoutMs: (Math.ceil(count * 0.05) + 6) * 1000 });
  const rtts = [...r.stdout.matchAll(/seq=\d+ ttl=\d+ time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  if (rtts.length === 0) throw new DataplaneBenchError(`ping ${from.name} -> ${to.name} (${to.ip}): no reply: ${(r.stdout + r.stderr).trim().slice(-300)}`);
  if (rtts.length < count) console.log(`  (ping ${from.name} -> ${to.ip}: ${rtts.length}/${count} replies)`);
  return rtts;
}

/** vxlan42 between c and d, programmed by hand the way flanneld programs flannel.1, and a pod on each. */
async function handMadeVxlan(lab: Lab, mtu: number): Promise<{ c: Pod; d: Pod }> {
  const c = lab.host('c');
  const d = lab.host('d');
  const peers: [Host, Host, 'c' | 'd', 'c' | 'd'][] = [
    [c, d, 'c', 'd'],
    [d, c, 'd', 'c'],
  ];
  for (const [self, peer, s, p] of peers) {
    const peerNet = HAND.subnets[p].replace(/\.1\/24$/, '.0');
    const ownVtep = HAND.subnets[s].replace(/\.1\/24$/, '.0');
    const steps = [
      ['link', 'add', HAND.dev, 'type', 'vxlan', 'id', String(HAND.vni), 'dstport', String(HAND.port), 'local', self.ip, 'dev', 'eth0', 'nolearning'],
      ['link', 'set', HAND.dev, 'mtu', String(mtu), 'address', HAND.macs[s]],
      ['addr', 'add', `${ownVtep}/32`, 'dev', HAND.dev],
      ['link', 'set', HAND.dev, 'up'],
      ['neigh', 'replace', peerNet, 'lladdr', HAND.macs[p], 'dev', HAND.dev, 'nud', 'permanent'],
      ['route', 'replace', `${peerNet}/24`, 'via', peerNet, 'dev', HAND.dev, 'onlink'],
    ];
    for (const argv of steps) await self.ipCmd(argv);
    await self.run(['bridge', 'fdb', 'replace', HAND.macs[p], 'dev', HAND.dev, 'dst', peer.ip, 'self', 'permanent']);
  }
  return {
    c: await c.addPod('p1', { cidr: HAND.subnets.c, mtu }),
    d: await d.addPod('p1', { cidr: HAND.subnets.d, mtu }),
  };
}

/** The vxlan attributes that matter for the data path, from `ip -d -j link show`. */
async function vxlanInfo(h: Host, dev: string): Promise<string> {
  const [l] = JSON.parse(await h.ipCmd(['-d', '-j', 'link', 'show', dev])) as { mtu: number; linkinfo: { info_data: Record<string, unknown> } }[];
  const d = l!.linkinfo.info_data;
  const keys = ['id', 'port', 'learning', 'udp_csum', 'ttl', 'tos', 'df', 'l2miss', 'l3miss', 'gbp'];
  return [`mtu ${l!.mtu}`, ...keys.filter((k) => k in d).map((k) => `${k} ${JSON.stringify(d[k])}`)].join(', ');
}

/** The filter rules a host's forwarded packets pass (flanneld adds flannel's FLANNEL-FWD accept rules). */
async function forwardRules(h: Host): Promise<string> {
  const r = await h.exec(['iptables', '-S']);
  if (r.code !== 0) return 'unknown (iptables -S failed)';
  const rules = r.stdout.split('\n').filter((l) => l.startsWith('-A '));
  return rules.length ? `${rules.length} iptables rules (${[...new Set(rules.map((l) => l.split(' ')[1]))].join(', ')})` : 'no iptables rules';
}

const gbit = (bps: number): number => bps / 1e9;

/** Pods on hosts i and j with `<peer pod subnet> via <peer underlay IP>` routes set by hand (no overlay, no flanneld). */
async function handRoutedPods(lab: Lab): Promise<{ from: Pod; to: Pod }> {
  const i = lab.host('i');
  const j = lab.host('j');
  const from = await i.addPod('p1', { cidr: ROUTED.i, mtu: lab.mtu });
  const to = await j.addPod('p1', { cidr: ROUTED.j, mtu: lab.mtu });
  await i.ipCmd(['route', 'add', ROUTED.j.replace(/\.1\/24$/, '.0/24'), 'via', j.ip, 'dev', 'eth0']);
  await j.ipCmd(['route', 'add', ROUTED.i.replace(/\.1\/24$/, '.0/24'), 'via', i.ip, 'dev', 'eth0']);
  return { from, to };
}

/** Two hosts running flanneld with `config` under `prefix`, a pod on each, and a route between them. */
async function flannelPair(lab: Lab, etcd: EtcdServer, names: [string, string], prefix: string, config: string): Promise<{ from: Pod; to: Pod }> {
  await etcd.ctl(['put', `${prefix}/config`, config]);
  const hosts = names.map((n) => lab.host(n));
  for (const h of hosts) startFlanneld(h, etcd, { args: ['--iface=eth0', `--etcd-prefix=${prefix}`] });
  const envs = await Promise.all(hosts.map((h) => waitFor(`subnet.env on ${h.name}`, () => readEnvFile(subnetFileOf(h)), 20_000)));
  const pods = await Promise.all(hosts.map((h, i) => h.addPod('p1', { cidr: envs[i]!.FLANNEL_SUBNET!, mtu: Number(envs[i]!.FLANNEL_MTU) })));
  await waitFor(`${prefix}: ${names[0]} reaches ${names[1]}`, async () => (await pingRtts(pods[0]!, pods[1]!, 1).catch(() => [])).length > 0, 20_000, 500);
  return { from: pods[0]!, to: pods[1]! };
}

export async function benchDataplane(opts: DataplaneOptions = {}): Promise<BenchResult[]> {
  const rounds = opts.rounds ?? 3;
  const seconds = opts.seconds ?? 5;
  const pings = opts.pings ?? 20;
  const lab = await Lab.create({ hosts: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'] });
  try {
    const etcd = await startLabEtcd(lab);
    try {
      await etcd.ctl(['put', '/coreos.com/network/config', '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}']);
      const a = lab.host('a');
      const b = lab.host('b');
      for (const h of [a, b]) startFlanneld(h, etcd, { args: ['--iface=eth0'] });
      const envs = await Promise.all([a, b].map((h) => waitFor(`subnet.env on ${h.name}`, () => readEnvFile(subnetFileOf(h)), 20_000)));
      const [envA, envB] = envs as [Record<string, string>, Record<string, string>];
      const mtu = Number(envA.FLANNEL_MTU);
      if (mtu !== lab.mtu - 50) throw new DataplaneBenchError(`FLANNEL_MTU is ${envA.FLANNEL_MTU}, expected underlay ${lab.mtu} - 50`);
      const pa = await a.addPod('p1', { cidr: envA.FLANNEL_SUBNET!, mtu });
      const pb = await b.addPod('p1', { cidr: envB.FLANNEL_SUBNET!, mtu: Number(envB.FLANNEL_MTU) });
      const bNet = envB.FLANNEL_SUBNET!.replace(/\.1\/24$/, '.0/24');
      await waitFor('a route to b over flannel.1', async () => {
        const routes = JSON.parse((await a.ipCmd(['-j', 'route', 'show', 'dev', 'flannel.1'])) || '[]') as { dst: string }[];
        return routes.some((r) => r.dst === bNet);
      }, 15_000);
      const hand = await handMadeVxlan(lab, lab.mtu - 50);
      // The other backends, each on its own pair of hosts and its own etcd prefix and network.
      const udp = await flannelPair(lab, etcd, ['e', 'f'], '/udp/network', '{"Network":"10.6.0.0/16","Backend":{"Type":"udp"}}');
      const hostgw = await flannelPair(lab, etcd, ['g', 'h'], '/hostgw/network', '{"Network":"10.7.0.0/16","Backend":{"Type":"host-gw"}}');
      const routed = await handRoutedPods(lab);

      const paths: Path[] = [
        { name: 'underlay', from: a, to: b },
        { name: 'hand-made', from: hand.c, to: hand.d },
        { name: 'project', from: pa, to: pb },
        { name: 'udp', from: udp.from, to: udp.to },
        { name: 'host-gw', from: hostgw.from, to: hostgw.to },
        { name: 'hand routes', from: routed.from, to: routed.to },
      ];
      // Every path must work before anything is measured (and this warms ARP and the caches).
      for (const p of paths) await pingRtts(p.from, p.to, 2);
      console.log(`  flannel.1 (a): ${await vxlanInfo(a, 'flannel.1')}`);
      console.log(`  vxlan42   (c): ${await vxlanInfo(lab.host('c'), HAND.dev)}`);
      console.log(`  filter: a ${await forwardRules(a)}; c ${await forwardRules(lab.host('c'))}`);

      const bps = new Map<string, number[]>(paths.map((p) => [p.name, []]));
      const rtt = new Map<string, number[]>(paths.map((p) => [p.name, []]));
      for (let i = 0; i < rounds; i++) {
        const order = [...paths.slice(i % paths.length), ...paths.slice(0, i % paths.length)];
        const line: string[] = [];
        for (const p of order) {
          const v = await iperf3(p.from, p.to, seconds);
          bps.get(p.name)!.push(v);
          const rs = await pingRtts(p.from, p.to, pings);
          rtt.get(p.name)!.push(...rs);
          line.push(`${p.name} ${gbit(v).toFixed(2)} Gbit/s ${Math.round(percentile(rs, 50) * 1000)} µs`);
        }
        console.log(`  round ${i + 1}/${rounds}: ${line.join(', ')}`);
      }

      const med = (m: Map<string, number[]>, k: string): number => percentile(m.get(k)!, 50);
      const names = ['underlay', 'hand-made', 'project', 'udp', 'host-gw', 'hand routes'];
      const [under, handV, proj, udpV, hgV, routedV] = names.map((k) => gbit(med(bps, k))) as [number, number, number, number, number, number];
      const [uRtt, hRtt, pRtt, udpRtt, hgRtt, rRtt] = names.map((k) => med(rtt, k) * 1000) as [number, number, number, number, number, number];
      const runs = `median of ${rounds}`;
      return [
        { name: `underlay host->host eth0, iperf3 TCP ${seconds}s (baseline)`, value: under, unit: `Gbit/s ${runs}`, ratio: 1 },
        { name: 'hand-made vxlan42 pod->pod', value: handV, unit: `Gbit/s ${runs}`, ratio: handV / under, baseline: 'underlay' },
        { name: 'project flannel.1 pod->pod', value: proj, unit: `Gbit/s ${runs}`, ratio: proj / under, baseline: 'underlay' },
        { name: 'project flannel.1 pod->pod', value: proj, unit: `Gbit/s ${runs}`, ratio: proj / handV, baseline: 'hand-made vxlan' },
        { name: 'project udp (flannel0) pod->pod', value: udpV, unit: `Gbit/s ${runs}`, ratio: udpV / under, baseline: 'underlay' },
        { name: 'project udp (flannel0) pod->pod', value: udpV, unit: `Gbit/s ${runs}`, ratio: udpV / proj, baseline: 'project vxlan' },
        { name: 'project host-gw pod->pod', value: hgV, unit: `Gbit/s ${runs}`, ratio: hgV / under, baseline: 'underlay' },
        { name: 'pod->pod over routes set by hand (baseline)', value: routedV, unit: `Gbit/s ${runs}`, ratio: 1 },
        { name: 'project host-gw pod->pod', value: hgV, unit: `Gbit/s ${runs}`, ratio: hgV / routedV, baseline: 'hand routes' },
        { name: 'project flannel.1 pod->pod', value: proj, unit: `Gbit/s ${runs}`, ratio: proj / routedV, baseline: 'hand routes' },
        { name: 'project udp (flannel0) pod->pod', value: udpV, unit: `Gbit/s ${runs}`, ratio: udpV / routedV, baseline: 'hand routes' },
        { name: `underlay ping host->host (baseline)`, value: uRtt, unit: `µs p50 of ${rtt.get('underlay')!.length}`, ratio: 1 },
        { name: 'hand-made vxlan42 ping pod->pod', value: hRtt, unit: `µs p50 of ${rtt.get('hand-made')!.length}`, ratio: hRtt / uRtt, baseline: 'underlay' },
        { name: 'project flannel.1 ping pod->pod', value: pRtt, unit: `µs p50 of ${rtt.get('project')!.length}`, ratio: pRtt / uRtt, baseline: 'underlay' },
        { name: 'project flannel.1 ping pod->pod', value: pRtt, unit: `µs p50 of ${rtt.get('project')!.length}`, ratio: pRtt / hRtt, baseline: 'hand-made vxlan' },
        { name: 'project udp ping pod->pod', value: udpRtt, unit: `µs p50 of ${rtt.get('udp')!.length}`, ratio: udpRtt / uRtt, baseline: 'underlay' },
        { name: 'project host-gw ping pod->pod', value: hgRtt, unit: `µs p50 of ${rtt.get('host-gw')!.length}`, ratio: hgRtt / uRtt, baseline: 'underlay' },
        { name: 'ping pod->pod over routes set by hand (baseline)', value: rRtt, unit: `µs p50 of ${rtt.get('hand routes')!.length}`, ratio: 1 },
        { name: 'project host-gw ping pod->pod', value: hgRtt, unit: `µs p50 of ${rtt.get('host-gw')!.length}`, ratio: hgRtt / rRtt, baseline: 'hand routes' },
        { name: 'project flannel.1 ping pod->pod', value: pRtt, unit: `µs p50 of ${rtt.get('project')!.length}`, ratio: pRtt / rRtt, baseline: 'hand routes' },
        { name: 'project udp ping pod->pod', value: udpRtt, unit: `µs p50 of ${rtt.get('udp')!.length}`, ratio: udpRtt / rRtt, baseline: 'hand routes' },
      ];
    } finally {
      await etcd.destroy();
    }
  } finally {
    await lab.destroy();
  }
}
