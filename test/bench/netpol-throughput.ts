// Pod-to-pod TCP throughput with netpol-agent's ruleset for 1,000 policies loaded, against the same path
// with no policy table at all, in the same run.
//
// Two host pairs with the same pods, addresses and routes: i, j with the policies, k, l without. On each
// pair a pod on each host's cni0 and a route to the other's pod subnet via its underlay address (host-gw's
// path, as the dataplane bench's "hand routes"): every pod packet crosses the forward hook of both hosts,
// where the agent's base chains are. On i and j an agent (nodeName = the host) is fed the
// same view: namespace `tput` with the client, the server, a third pod on i (`other`) and 20 more client
// pods elsewhere (so the peer sets are not trivial); 1,000 policies, all selecting the client and the
// server, each admitting ingress from the client role on TCP 5201 and a port of its own and egress to the
// server role (or an ipBlock with an except) on TCP 5201. So the server's ingress (judged on j) and the
// client's egress (judged on i) each go through a chain of 1,000 policies; ICMP is denied, which is how the
// bench proves the policies are enforced before it measures. As in the kernel, only a connection's first
// packet walks the policy chains; the rest pass `ct state established` (the cost measured is the table's).
// Rounds alternate the two pairs (order swapped each round); each figure is the median.
import { silentLogger } from '../../common/index.js';
import { Agent, cleanupScript } from '../../netpol/index.js';
import { NftCli } from '../../proxy/index.js';
import { type Endpoint, type Host, Lab, PING, type Pod } from '../netns/index.js';
import { DataplaneBenchError, iperf3, pingRtts } from './dataplane.js';
import { percentile, type BenchResult } from './stats.js';

export interface NetpolThroughputOptions {
  /** Rounds; each measures with the policies and without. Default 7. */
  readonly rounds?: number;
  /** iperf3 -t, seconds. Default 2. */
  readonly seconds?: number;
  /** Policies. Default 1,000. */
  readonly policies?: number;
}

type Obj = Record<string, unknown>;
const NS = 'tput';
const NETS = { i: '10.8.1.1/24', j: '10.8.2.1/24' } as const;

const podObj = (name: string, node: string, ip: string, role: string, app = 'iperf'): Obj => ({
  metadata: { namespace: NS, name, labels: { app, role } },
  spec: { nodeName: node, containers: [{ name: 'c', ports: [{ name: 'iperf', containerPort: 5201 }] }] },
  status: { phase: 'Running', podIP: ip },
});

const policyObj = (k: number): Obj => ({
  metadata: { namespace: NS, name: `pol${k}` },
  spec: {
    podSelector: { matchLabels: { app: 'iperf' } },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 5201 }, { port: 10_000 + k }] }],
    egress: [{ to: k % 4 === 0 ? [{ ipBlock: { cidr: '10.8.0.0/16', except: [`10.8.${100 + (k % 100)}.0/24`] } }] : [{ podSelector: { matchLabels: { role: 'server' } } }], ports: [{ protocol: 'TCP', port: 5201 }] }],
  },
});

/** True if `from` gets no ping reply from `to` in a second or two. */
async function pingDenied(from: Endpoint, to: Endpoint): Promise<boolean> {
  const r = await from.exec([...PING, '-c', '2', '-i', '0.2', '-w', '2', to.ip], { timeoutMs: 6_000 });
  return !/seq=\d+ ttl=/.test(r.stdout);
}

/** A pod on cni0 of each host, a second one on `a`, and routes to each other's pod subnet via the underlay. */
async function routedPair(a: Host, b: Host, mtu: number): Promise<{ client: Pod; other: Pod; server: Pod }> {
  const client = await a.addPod('p1', { cidr: NETS.i, mtu });
  const other = await a.addPod('p2', { cidr: NETS.i, mtu });
  const server = await b.addPod('p1', { cidr: NETS.j, mtu });
  await a.ipCmd(['route', 'add', NETS.j.replace(/\.1\/24$/, '.0/24'), 'via', b.ip, 'dev', 'eth0']);
  await b.ipCmd(['route', 'add', NETS.i.replace(/\.1\/24$/, '.0/24'), 'via', a.ip, 'dev', 'eth0']);
  for (const [x, y] of [[client, server], [other, server]] as const) await pingRtts(x, y, 2);
  return { client, other, server };
}

const nftIn = (h: Host): NftCli => new NftCli({ argv: ['nsenter', `--net=${h.nsPath}`, '--', 'nft'], timeoutMs: 120_000, interactive: false });

export async function benchNetpolThroughput(o: NetpolThroughputOptions = {}): Promise<BenchResult[]> {
  const rounds = o.rounds ?? 7;
  const seconds = o.seconds ?? 2;
  const policies = o.policies ?? 1000;
  const log = (s: string) => console.log(`  ${s}`);
  const lab = await Lab.create({ hosts: ['i', 'j', 'k', 'l'] });
  try {
    const [i, j] = [lab.host('i'), lab.host('j')];
    const { client, other, server } = await routedPair(i, j, lab.mtu);
    const bare = await routedPair(lab.host('k'), lab.host('l'), lab.mtu);

    const pods = [podObj('client', 'i', client.ip, 'client'), podObj('other', 'i', other.ip, 'other', 'none'), podObj('server', 'j', server.ip, 'server')];
    for (let n = 0; n < 20; n++) pods.push(podObj(`c${n}`, 'x', `10.9.${Math.floor(n / 250)}.${(n % 250) + 2}`, 'client'));
    const nss: [string, Obj][] = [[NS, { metadata: { name: NS } }]];
    const pols = Array.from({ length: policies }, (_, k) => [`${NS}/pol${k}`, policyObj(k)] as [string, Obj]);
    const agents = ([['i', i], ['j', j]] as const).map(([node, h]) => {
      const cli = nftIn(h);
      const agent = new Agent({ nodeName: node, minSyncMs: 0, syncPeriodMs: 3_600_000 }, { nft: cli, log: silentLogger });
      agent.resetPods(pods.map((p) => [NS, (p.metadata as { name: string }).name, p] as [string, string, Obj]));
      agent.resetNamespaces(nss);
      agent.resetPolicies(pols);
      return { cli, agent };
    });

    // Enforced before measured: with the rules, ICMP is denied both ways it is judged (the client's egress
    // on i; the server's ingress on j, from a pod no policy selects) while iperf3's TCP 5201 passes.
    const t0 = performance.now();
    for (const a of agents) await a.agent.sync();
    log(`${policies} policies loaded on i and j in ${(performance.now() - t0).toFixed(0)} ms; k and l have no policy table`);
    for (const [a, b, what] of [[client, server, 'client egress'], [other, server, 'server ingress']] as const) {
      if (!(await pingDenied(a, b))) throw new DataplaneBenchError(`policies loaded but ${a.name} -> ${b.name} ping was answered: ${what} not enforced`);
    }
    await pingRtts(bare.client, bare.server, 2);

    const paths = { loaded: { from: client, to: server }, none: { from: bare.client, to: bare.server } };
    const bps = { loaded: [] as number[], none: [] as number[] };
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const order: ('loaded' | 'none')[] = r % 2 === 0 ? ['loaded', 'none'] : ['none', 'loaded'];
      const line: string[] = [];
      for (const k of order) {
        const v = await iperf3(paths[k].from, paths[k].to, seconds);
        bps[k].push(v);
        line.push(`${k} ${(v / 1e9).toFixed(2)} Gbit/s`);
      }
      ratios.push(bps.loaded.at(-1)! / bps.none.at(-1)!);
      log(`round ${r + 1}/${rounds}: ${line.join(', ')}`);
    }
    for (const a of agents) {
      await a.cli.run(cleanupScript());
      a.cli.close();
    }
    const loaded = percentile(bps.loaded, 50) / 1e9;
    const none = percentile(bps.none, 50) / 1e9;
    const runs = `Gbit/s median of ${rounds}`;
    return [
      { name: `pod->pod iperf3 TCP ${seconds}s, two hosts (routed), no policy table (baseline)`, value: none, unit: runs, ratio: 1 },
      { name: `pod->pod, ${policies} policies selecting both pods loaded on both hosts`, value: loaded, unit: runs, ratio: loaded / none, baseline: 'none' },
      // Less swayed by the machine's load, which changes between rounds more than within one.
      { name: '  loaded / none, median of the rounds\' own ratios', value: percentile(ratios, 50), unit: 'x' },
    ];
  } finally {
    await lab.destroy();
  }
}
