// Pod-to-pod TCP throughput through netpol-agent's ruleset for 1,000 policies, against the same hosts with
// no policy, in the same run, the states switched between samples without reloading anything.
//
// Pairs of hosts P (i, j) and Q (k, l): a pod on each host's cni0 and a route to the other's pod subnet via
// its underlay address (host-gw's path, as the dataplane bench's "hand routes"), so every pod packet crosses
// the forward hook of both hosts, where the agent's base chains are. Three tables are written on each of
// the four by the agent's own code (the agent writes `kube-network-policies`; the other two are the same
// scripts with the table renamed), and exactly one is awake at a time on a pair (the others `flags
// dormant`: their base chains are off the hooks):
//
//   policies     1,000 policies, all selecting the client and the server, each admitting ingress from the
//                client role on TCP 5201 and a port of its own and egress to the server role (or an
//                ipBlock with an except) on TCP 5201: the server's ingress (judged on the server's host)
//                and the client's egress (judged on the client's) each go through a chain of 1,000
//                policies; ICMP is denied, which is how the bench proves the table is enforced
//   unselected   the same 1,000 policies, the measured pods relabelled so that none selects them
//   none         the agent's table with no policy (its base chains and empty maps): "no policies" on a node
//                that runs the agent, and the baseline of the target (≥ 0.95×)
//
// and a pair R (m, n), the same pods and routes with no nft table at all (conntrack never enabled there),
// which shows what conntrack and the two base chains cost, not the policies: a node with kube-proxy or
// flanneld's --ip-masq tracks connections anyway. As in the kernel, only a connection's first packet walks
// the policy chains; the rest pass `ct state established` (checked to be each base chain's first rule).
//
// The machine is shared: its throughput moves by ×1.5 within a minute, more than between the states, so a
// figure is never one state measured after another. Each round runs two iperf3 at once, one per pair, the
// two states compared (`policies` on P and `none` on Q, then the other way round, so the pairs' own
// difference cancels), both clients pinned to CPU 0 and both servers to CPU 1 (iperf3 -A): the two
// sending paths share one core under the same load at the same instant, and the sender's core is where a
// veth path's forwarding work runs (in the sender's softirq, charged to it: this kernel has no IRQ time
// accounting), so the throughput ratio of a round is the inverse ratio of the per-byte costs. The figure
// is the median of the rounds' ratios, with a distribution-free 95 % interval of that median.
import { readFile } from 'node:fs/promises';
import { silentLogger } from '../../common/index.js';
import { Agent, cleanupScript, FAMILY, TABLE } from '../../netpol/index.js';
import { NftCli, type NftPort } from '../../proxy/index.js';
import { type Endpoint, type Host, Lab, PING, type Pod } from '../netns/index.js';
import { DataplaneBenchError, iperf3, pingRtts } from './dataplane.js';
import { medianCi, percentile, type BenchResult } from './stats.js';

export interface NetpolThroughputOptions {
  /** Rounds: two iperf3 at once, two states compared; half of them policies against none. Default 32. */
  readonly rounds?: number;
  /** iperf3 -t, seconds, after a second of -O (omitted, while both start). Default 2. */
  readonly seconds?: number;
  /** Policies. Default 1,000. */
  readonly policies?: number;
}

type Obj = Record<string, unknown>;
const NS = 'tput';
const NETS = { i: '10.8.1.1/24', j: '10.8.2.1/24' } as const;
type State = 'policies' | 'unselected' | 'none' | 'no table';
/** The table each state of hosts i and j wakes. */
const TABLES: Record<Exclude<State, 'no table'>, string> = { policies: TABLE, unselected: 'np-bench-unselected', none: 'np-bench-none' };

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

/** The agent's scripts written into another table (the agent's own is the measured one). */
class RenamedTable implements NftPort {
  constructor(
    private readonly inner: NftPort,
    private readonly table: string,
  ) {}
  run(script: string): Promise<void> {
    return this.inner.run(this.table === TABLE ? script : script.replaceAll(`${FAMILY} ${TABLE}`, `${FAMILY} ${this.table}`));
  }
  listChains(): Promise<string[]> {
    return Promise.resolve([]);
  }
}

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
const nftOut = async (h: Host, args: readonly string[]): Promise<string> => {
  const r = await h.exec(['nft', ...args], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new DataplaneBenchError(`nft ${args.join(' ')} on ${h.name}: ${r.stderr.trim()}`);
  return r.stdout;
};
/** Wakes one table of a host and puts the others to sleep, in one transaction. */
const wake = (cli: NftCli, table: string): Promise<void> => cli.run(`${Object.values(TABLES).map((t) => `add table ${FAMILY} ${t}${t === table ? '' : ' { flags dormant ; }'}`).join('\n')}\n`);

/** Connections the host's conntrack holds (0 when conntrack never started in its namespace). */
const conntrackCount = async (h: Host): Promise<number> => Number((await h.exec(['cat', '/proc/sys/net/netfilter/nf_conntrack_count'], { timeoutMs: 5_000 })).stdout.trim() || 0);

/** Packets that went through the forward and prerouting hooks of a host while `fn` ran (a counting table, then removed). */
async function hookWalks(hosts: readonly Host[], fn: () => Promise<unknown>): Promise<Map<string, { forward: number; prerouting: number }>> {
  const t = `${FAMILY} np-bench-count`;
  const script = `add table ${t}\nadd chain ${t} cfwd { type filter hook forward priority -400 ; }\nadd chain ${t} cpre { type filter hook prerouting priority -400 ; }\nadd rule ${t} cfwd ip saddr 10.8.0.0/16 counter\nadd rule ${t} cpre ip saddr 10.8.0.0/16 counter\n`;
  for (const h of hosts) {
    const r = await h.exec(['nft', '-f', '-'], { input: script, timeoutMs: 30_000 });
    if (r.code !== 0) throw new DataplaneBenchError(`counting table on ${h.name}: ${r.stderr.trim()}`);
  }
  await fn();
  const out = new Map<string, { forward: number; prerouting: number }>();
  for (const h of hosts) {
    const text = await nftOut(h, ['list', 'table', 'inet', 'np-bench-count']);
    const n = (chain: string): number => Number(new RegExp(`chain ${chain} \\{[^}]*?counter packets (\\d+)`).exec(text)?.[1] ?? NaN);
    out.set(h.name, { forward: n('cfwd'), prerouting: n('cpre') });
    await nftOut(h, ['delete', 'table', 'inet', 'np-bench-count']);
  }
  return out;
}

const loadAvg = async (): Promise<string> => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');

/** Round kinds: which state on which pair, each pair against the other; policies against none half the time. */
const KINDS: readonly (readonly [Pair, State, Pair, State])[] = [
  ['P', 'policies', 'Q', 'none'],
  ['P', 'none', 'Q', 'policies'],
  ['P', 'unselected', 'Q', 'none'],
  ['P', 'none', 'Q', 'unselected'],
  ['P', 'policies', 'Q', 'none'],
  ['P', 'none', 'Q', 'policies'],
  ['P', 'none', 'R', 'no table'],
  ['Q', 'none', 'R', 'no table'],
];
type Pair = 'P' | 'Q' | 'R';

export async function benchNetpolThroughput(o: NetpolThroughputOptions = {}): Promise<BenchResult[]> {
  const rounds = o.rounds ?? 32;
  const seconds = o.seconds ?? 2;
  const policies = o.policies ?? 1000;
  const log = (s: string) => console.log(`  ${s}`);
  const lab = await Lab.create({ hosts: ['i', 'j', 'k', 'l', 'm', 'n'] });
  try {
    const pairs = {
      P: { hosts: [lab.host('i'), lab.host('j')] as const, ...(await routedPair(lab.host('i'), lab.host('j'), lab.mtu)) },
      Q: { hosts: [lab.host('k'), lab.host('l')] as const, ...(await routedPair(lab.host('k'), lab.host('l'), lab.mtu)) },
      R: { hosts: [lab.host('m'), lab.host('n')] as const, ...(await routedPair(lab.host('m'), lab.host('n'), lab.mtu)) },
    };
    // The same pod addresses on every pair (the same routes), so one view serves both nodes of each.
    const { client, other, server } = pairs.P;
    for (const p of [pairs.Q, pairs.R]) if (p.client.ip !== client.ip || p.other.ip !== other.ip || p.server.ip !== server.ip) throw new DataplaneBenchError(`the pairs' pods differ: ${p.client.ip} ${p.other.ip} ${p.server.ip} vs ${client.ip} ${other.ip} ${server.ip}`);
    const view = (app: string): Obj[] => {
      const pods = [podObj('client', 'c', client.ip, 'client', app), podObj('other', 'c', other.ip, 'other', 'none'), podObj('server', 's', server.ip, 'server', app)];
      for (let n = 0; n < 20; n++) pods.push(podObj(`c${n}`, 'x', `10.9.${Math.floor(n / 250)}.${(n % 250) + 2}`, 'client'));
      return pods;
    };
    const nss: [string, Obj][] = [[NS, { metadata: { name: NS } }]];
    const pols = Array.from({ length: policies }, (_, k) => [`${NS}/pol${k}`, policyObj(k)] as [string, Obj]);
    const clis = new Map<Host, NftCli>();
    const t0 = performance.now();
    for (const pair of [pairs.P, pairs.Q]) {
      for (const [node, h] of [['c', pair.hosts[0]], ['s', pair.hosts[1]]] as const) {
        const cli = nftIn(h);
        clis.set(h, cli);
        for (const [state, table] of Object.entries(TABLES)) {
          const agent = new Agent({ nodeName: node, minSyncMs: 0, syncPeriodMs: 3_600_000 }, { nft: new RenamedTable(cli, table), log: silentLogger });
          agent.resetPods(view(state === 'unselected' ? 'unselected' : 'iperf').map((p) => [NS, (p.metadata as { name: string }).name, p] as [string, string, Obj]));
          agent.resetNamespaces(nss);
          agent.resetPolicies(state === 'none' ? [] : pols);
          await agent.sync();
        }
      }
    }
    log(`three tables on each host of P and Q (${policies} policies selecting both pods, the same selecting neither, none) in ${(performance.now() - t0).toFixed(0)} ms; R has no table`);

    // The per-packet path: each base chain of the measured table starts with the established check.
    for (const h of clis.keys()) {
      for (const chain of ['egress', 'ingress']) {
        const first = /\n\t\t(?!type )(\S[^\n]*)/.exec(await nftOut(h, ['list', 'chain', FAMILY, TABLE, chain]))?.[1]?.trim();
        if (first !== 'ct state established,related accept') throw new DataplaneBenchError(`${h.name}: the first rule of ${chain} is "${first}", not the established check`);
      }
    }
    log('both base chains start with `ct state established,related accept` on every host');

    const setState = async (p: Pair, s: State): Promise<void> => {
      if (s === 'no table') return;
      for (const h of pairs[p].hosts) await wake(clis.get(h)!, TABLES[s]);
    };
    // Each state enforced as it says before it is measured: with the policies ICMP is denied both ways it
    // is judged (the client's egress; the server's ingress, from a pod no policy selects); with the
    // other two it passes.
    for (const p of ['P', 'Q'] as const) {
      for (const s of ['policies', 'unselected', 'none'] as const) {
        await setState(p, s);
        for (const [a, b, what] of [[pairs[p].client, pairs[p].server, 'client egress'], [pairs[p].other, pairs[p].server, 'server ingress']] as const) {
          if ((await pingDenied(a, b)) !== (s === 'policies')) throw new DataplaneBenchError(`${p}: table "${s}" awake but ${a.name} -> ${b.name} ping was ${s === 'policies' ? 'answered' : 'refused'}: ${what}`);
        }
      }
    }
    await pingRtts(pairs.R.client, pairs.R.server, 2);
    log('on P and Q: ping refused with the policies awake, answered with the other two tables');

    // Each packet walks each hook once (br_netfilter hands a bridged frame to the IP hooks, but one
    // routed off the bridge is not walked again): 10 pings are 20 packets on each host.
    const walks = await hookWalks(pairs.P.hosts, () => pingRtts(pairs.P.client, pairs.P.server, 10));
    for (const [h, w] of walks) if (w.forward !== 20 || w.prerouting !== 20) throw new DataplaneBenchError(`10 pings client -> server: ${h} walked forward ${w.forward} and prerouting ${w.prerouting} times, not 20`);
    log('10 pings client -> server: 20 packets through forward and 20 through prerouting on each host of P (each hook walked once per packet)');

    const ratios: Record<'policies' | 'unselected' | 'no table', number[]> = { policies: [], unselected: [], 'no table': [] };
    const bps: Record<State, number[]> = { policies: [], unselected: [], none: [], 'no table': [] };
    const extra = ['-A', '0,1', '-O', '1'];
    log(`load average before: ${await loadAvg()}`);
    for (let r = 0; r < rounds; r++) {
      const [pa, sa, pb, sb] = KINDS[r % KINDS.length]!;
      await setState(pa, sa);
      await setState(pb, sb);
      const [va, vb] = await Promise.all([iperf3(pairs[pa].client, pairs[pa].server, seconds, extra), iperf3(pairs[pb].client, pairs[pb].server, seconds, extra)]);
      bps[sa].push(va);
      bps[sb].push(vb);
      // Each kind has `none` on one side: the other state over none.
      const [x, ratio] = sa === 'none' ? [sb, vb / va] : [sa, va / vb];
      ratios[x as keyof typeof ratios].push(x === 'no table' ? 1 / ratio : ratio);
      log(`round ${r + 1}/${rounds} (Gbit/s, at once): ${pa} ${sa} ${(va / 1e9).toFixed(2)} | ${pb} ${sb} ${(vb / 1e9).toFixed(2)}`);
    }
    log(`load average after: ${await loadAvg()}`);
    const tracked = { P: await conntrackCount(pairs.P.hosts[0]), R: await conntrackCount(pairs.R.hosts[0]) };
    log(`conntrack entries: i ${tracked.P}, m ${tracked.R}${tracked.R === 0 ? ' (never enabled on R)' : ''}`);
    for (const cli of clis.values()) {
      await cli.run(Object.values(TABLES).map((t) => cleanupScript().replaceAll(`${FAMILY} ${TABLE}`, `${FAMILY} ${t}`)).join(''));
      cli.close();
    }

    const gbps = (s: State): number => percentile(bps[s], 50) / 1e9;
    const ci = (xs: number[]): string => medianCi(xs).map((x) => x.toFixed(3)).join('–');
    const row = (name: string, xs: number[]): BenchResult => ({ name, value: percentile(xs, 50), unit: `x, median of ${xs.length} rounds' ratios (95 % ${ci(xs)})` });
    return [
      { name: `pod->pod iperf3 TCP ${seconds}s, two at once on one core, each through two routed hosts: the agent's table with no policy`, value: gbps('none'), unit: `Gbit/s median of ${bps.none.length}` },
      row(`  ${policies} policies selecting both pods (loaded on both hosts) / none, at once`, ratios.policies),
      row(`  the same ${policies} policies selecting neither pod / none, at once`, ratios.unselected),
      row('  none / no nft table at all (conntrack off): conntrack and two base chains', ratios['no table']),
    ];
  } finally {
    await lab.destroy();
  }
}
