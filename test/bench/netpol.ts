// NetworkPolicy rule syncs: netpol-agent's layout (sets per peer, a verdict map per pod, a chain per policy)
// beside the naive layout (a chain per pod and rule, a rule per peer, a jump per isolated pod), the same
// resolved policies written into lab namespaces of their own (never the caller's) with nft (ours through
// nft/: full syncs by `nft -f`, element changes as one netlink batch; again with them through the long-lived
// `nft -i`, and with `nft -f` only).
//
// Workload: 50 namespaces x 100 pods = 5,000 pods, all on the measured node (the worst case: every policy
// selects pods here); 20 policies per namespace = 1,000, each selecting the 5 pods of one app, admitting
// TCP 80 and 8080-8090 from one role of its namespace (20 pods) and the app's pods of the two namespaces of
// one team (10 pods), every fourth one also restricting egress to an ipBlock with an except. Measured: the
// full sync (compile + nft), then one pod's labels changed (its role, which 20 policies' peer sets name),
// end to end (plan + nft), median of rounds; for the naive layout the rewrite of the chains of the
// policies that change.
import { silentLogger } from '../../common/index.js';
import type { ElementChange, ElementPort } from '../../nft/index.js';
import { Agent, mergeRanges, parsePod, parsePolicy, type PodInfo, type Policy, policyConcerns, PolicyState, rangeElement, resolvePolicy, type ResolvedPolicy } from '../../netpol/index.js';
import { NftCli, type NftPort } from '../../proxy/index.js';
import { type Host, Lab } from '../netns/index.js';
import { percentile, type BenchResult } from './stats.js';

const NS = 50;
const PER_NS = 100;
const POL_PER_NS = 20;
const NODE = 'n';

type Obj = Record<string, unknown>;
const podIp = (n: number, i: number): string => `10.${100 + Math.floor(n / 2)}.${(n % 2) * 128 + Math.floor(i / 100)}.${(i % 100) + 2}`;
const podObj = (n: number, i: number, role = `r-${i % 5}`): Obj => ({
  metadata: { namespace: `ns${n}`, name: `p${i}`, labels: { app: `app-${i % POL_PER_NS}`, role } },
  spec: { nodeName: NODE, containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80 }] }] },
  status: { phase: 'Running', podIP: podIp(n, i) },
});
const policyObj = (n: number, j: number): Obj => ({
  metadata: { namespace: `ns${n}`, name: `pol${j}` },
  spec: {
    podSelector: { matchLabels: { app: `app-${j}` } },
    policyTypes: j % 4 === 0 ? ['Ingress', 'Egress'] : ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { role: `r-${j % 5}` } } }, { namespaceSelector: { matchLabels: { team: `t-${(n + j) % 25}` } }, podSelector: { matchLabels: { app: `app-${j}` } } }], ports: [{ port: 80 }, { port: 8080, endPort: 8090 }] }],
    ...(j % 4 === 0 && { egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: [`10.${100 + n}.0.0/16`] } }] }] }),
  },
});

class TimedNft implements NftPort, ElementPort {
  readonly runs: number[] = [];
  constructor(private readonly inner: NftCli) {}
  async run(script: string): Promise<void> {
    const t0 = performance.now();
    await this.inner.run(script);
    this.runs.push(performance.now() - t0);
  }
  async runElements(changes: readonly ElementChange[], script: string): Promise<'netlink' | 'nft'> {
    const t0 = performance.now();
    const via = await this.inner.runElements(changes, script);
    this.runs.push(performance.now() - t0);
    return via;
  }
  prepareElements(): void {
    this.inner.prepareElements();
  }
  listChains(): Promise<string[]> {
    return this.inner.listChains();
  }
}

const nftIn = (h: Host, interactive = true, netlink = true): NftCli => new NftCli({ argv: ['nsenter', `--net=${h.nsPath}`, '--', 'nft'], timeoutMs: 1_200_000, interactive, netlink });

// ---------------------------------------------------------------- the naive layout

const T = 'inet naive-policies';
const id = (ip: string): string => ip.replace(/\./g, '_');

/** The chains of one policy: one per selected pod and rule, a rule per peer (address or range). */
function naivePolicyChains(rp: ResolvedPolicy): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const d of ['ingress', 'egress'] as const) {
    const rules = rp[d];
    if (!rules) continue;
    const field = d === 'ingress' ? 'ip saddr' : 'ip daddr';
    for (const ip of rp.selected) {
      rules.forEach((r, i) => {
        const ports = r.ports === 'all' ? [''] : r.ports.numeric.map((p) => `${p.proto} dport ${p.from === p.to ? p.from : `${p.from}-${p.to}`} `);
        const peers = r.peers === 'all' ? [''] : [...r.peers.ips.map((x) => `${field} ${x} `), ...mergeRanges(r.peers.ranges).map((x) => `${field} ${rangeElement(x)} `)];
        out.set(`np-${id(ip)}-${rp.policy.hash}-${d[0]}${i}`, peers.flatMap((p) => ports.map((q) => `${p}${q}accept`)));
      });
    }
  }
  return out;
}

function naiveFull(rps: readonly ResolvedPolicy[]): string {
  const lines = [`add table ${T}`, `delete table ${T}`, `add table ${T}`];
  const perPod = { ingress: new Map<string, string[]>(), egress: new Map<string, string[]>() };
  const chains = new Map<string, string[]>();
  for (const rp of rps) {
    for (const [n, r] of naivePolicyChains(rp)) chains.set(n, r);
    for (const d of ['ingress', 'egress'] as const) {
      if (!rp[d]) continue;
      for (const ip of rp.selected) {
        const l = perPod[d].get(ip) ?? [];
        rp[d].forEach((_r, i) => l.push(`jump np-${id(ip)}-${rp.policy.hash}-${d[0]}${i}`));
        perPod[d].set(ip, l);
      }
    }
  }
  for (const d of ['ingress', 'egress'] as const) {
    lines.push(`add chain ${T} ${d} { type filter hook forward priority filter ; policy accept ; }`, `add rule ${T} ${d} ct state established,related accept`);
    for (const [ip, jumps] of perPod[d]) {
      const pc = `pod-${d[0]}-${id(ip)}`;
      chains.set(pc, [...jumps, 'reject']);
      lines.push(`add chain ${T} ${pc}`);
    }
  }
  for (const n of chains.keys()) if (!n.startsWith('pod-')) lines.push(`add chain ${T} ${n}`);
  for (const d of ['ingress', 'egress'] as const) {
    const field = d === 'ingress' ? 'ip daddr' : 'ip saddr';
    for (const ip of perPod[d].keys()) lines.push(`add rule ${T} ${d} ${field} ${ip} jump pod-${d[0]}-${id(ip)}`);
  }
  for (const [n, rules] of chains) for (const r of rules) lines.push(`add rule ${T} ${n} ${r}`);
  return `${lines.join('\n')}\n`;
}

/** The naive partial sync of changed policies: each of their chains flushed and written again. */
function naiveRewrite(rps: readonly ResolvedPolicy[]): string {
  const lines: string[] = [];
  for (const rp of rps) for (const [n, rules] of naivePolicyChains(rp)) lines.push(`flush chain ${T} ${n}`, ...rules.map((r) => `add rule ${T} ${n} ${r}`));
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------- the benchmark

/** The agent's full sync, then `rounds` relabellings of one pod; the times of each sync and of its nft part. */
async function agentRun(cli: NftCli, pods: Obj[], nss: [string, Obj][], pols: [string, Obj][], rounds: number, log: (s: string) => void, what: string): Promise<{ full: number; fullNft: number; change: number[]; changeNft: number[]; viaNetlink: number }> {
  const nft = new TimedNft(cli);
  const agent = new Agent({ nodeName: NODE, minSyncMs: 0, syncPeriodMs: 3_600_000 }, { nft, log: silentLogger });
  agent.resetPods(pods.map((p) => { const m = p.metadata as { namespace: string; name: string }; return [m.namespace, m.name, p]; }));
  agent.resetNamespaces(nss);
  agent.resetPolicies(pols);
  log(`${what}: full sync ...`);
  let t0 = performance.now();
  await agent.sync();
  const full = performance.now() - t0;
  const fullNft = nft.runs.at(-1)!;
  log(`${what}: full sync ${full.toFixed(0)} ms (nft ${fullNft.toFixed(0)} ms)`);
  const change: number[] = [];
  const changeNft: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const before = nft.runs.length;
    agent.updatePod('ns0', 'p7', podObj(0, 7, r % 2 === 0 ? 'r-3' : 'r-2'));
    t0 = performance.now();
    await agent.sync();
    change.push(performance.now() - t0);
    changeNft.push(nft.runs.slice(before).reduce((a, b) => a + b, 0));
  }
  log(`${what}: one pod relabelled, ${rounds} rounds: ${change.map((x) => x.toFixed(1)).join(' ')} ms`);
  cli.close();
  return { full, fullNft, change, changeNft, viaNetlink: cli.elementStats.netlink };
}

export async function benchNetpol(o: { rounds?: number } = {}): Promise<BenchResult[]> {
  const rounds = o.rounds ?? 21;
  const lab = await Lab.create({ hosts: ['ours', 'oursi', 'oursf', 'naive'] });
  const log = (s: string) => console.log(`  ${s}`);
  try {
    const pods = Array.from({ length: NS }, (_, n) => Array.from({ length: PER_NS }, (_x, i) => podObj(n, i))).flat();
    const nss = Array.from({ length: NS }, (_, n) => [`ns${n}`, { metadata: { name: `ns${n}`, labels: { team: `t-${n % 25}` } } }] as [string, Obj]);
    const pols = Array.from({ length: NS }, (_, n) => Array.from({ length: POL_PER_NS }, (_x, j) => [`ns${n}/pol${j}`, policyObj(n, j)] as [string, Obj])).flat();

    // Ours: the agent, as it runs (compile + nft): element changes as one netlink batch; again through
    // the long-lived nft -i (netlink off), and with a process per change (nft -f only).
    const ours = await agentRun(nftIn(lab.host('ours')), pods, nss, pols, rounds, log, 'ours');
    if (ours.viaNetlink !== rounds) throw new Error(`${rounds - ours.viaNetlink} of ${rounds} changes did not go through netlink`);
    const oursI = await agentRun(nftIn(lab.host('oursi'), true, false), pods, nss, pols, rounds, log, 'ours, nft -i');
    const oursF = await agentRun(nftIn(lab.host('oursf'), false, false), pods, nss, pols, rounds, log, 'ours, nft -f per change');
    const [oursFull, oursFullNft, change, changeNft] = [ours.full, ours.fullNft, ours.change, ours.changeNft];
    let t0: number;

    // Naive: the same resolved policies.
    const st = new PolicyState(NODE);
    st.resetPods(pods.map((p) => { const x = parsePod(p)!; return [x.namespace, x.name, x] as [string, string, PodInfo]; }));
    st.resetNamespaces(nss.map(([n, o2]) => [n, (o2.metadata as { labels: Record<string, string> }).labels]));
    const parsed = pols.map(([k, p]) => [k, parsePolicy(p)] as [string, Policy]);
    st.resetPolicies(parsed);
    log('naive: full sync ...');
    t0 = performance.now();
    const rps = parsed.map(([, p]) => resolvePolicy(p, st.view));
    const naiveScript = naiveFull(rps);
    const naiveNft = nftIn(lab.host('naive'));
    await naiveNft.run(naiveScript);
    const naiveFullMs = performance.now() - t0;
    log(`naive: full sync ${naiveFullMs.toFixed(0)} ms`);
    const naiveRules = naiveScript.split('\n').filter((l) => l.startsWith('add rule')).length;
    const naiveChange: number[] = [];
    for (let r = 0; r < rounds; r++) {
      t0 = performance.now();
      const pod = parsePod(podObj(0, 7, r % 2 === 0 ? 'r-3' : 'r-2'))!;
      const old = st.view.pods.get('ns0')!.get('p7')!;
      st.setPod('ns0', 'p7', pod);
      // The policies whose chains change: those that name the pod before or after (the same test ours uses).
      const touched = parsed.filter(([, p]) => policyConcerns(p, old, st.view, NODE) || policyConcerns(p, pod, st.view, NODE)).map(([, p]) => resolvePolicy(p, st.view));
      await naiveNft.run(naiveRewrite(touched));
      naiveChange.push(performance.now() - t0);
    }
    const med = (xs: number[]) => percentile(xs, 50);
    return [
      { name: `full sync, ${pols.length} policies over ${pods.length} pods: naive, a chain per pod and rule (${naiveRules} rules) (baseline)`, value: naiveFullMs / 1000, unit: 's', ratio: 1 },
      { name: `full sync: ours (sets + verdict maps)`, value: oursFull / 1000, unit: 's', ratio: oursFull / naiveFullMs, baseline: 'naive' },
      { name: '  of which nft -f', value: oursFullNft / 1000, unit: 's' },
      { name: 'one pod relabelled: naive, the changed chains rewritten (baseline)', value: med(naiveChange), unit: 'ms p50', ratio: 1 },
      { name: 'one pod relabelled: ours, compile + netlink batch', value: med(change), unit: 'ms p50', ratio: med(change) / med(naiveChange), baseline: 'naive' },
      { name: '  p90', value: percentile(change, 90), unit: 'ms p90' },
      { name: '  of which the netlink batch (no ruleset fetched)', value: med(changeNft), unit: 'ms p50' },
      { name: 'one pod relabelled: ours, compile + the long-lived nft -i', value: med(oursI.change), unit: 'ms p50', ratio: med(oursI.change) / med(naiveChange), baseline: 'naive' },
      { name: '  p90', value: percentile(oursI.change, 90), unit: 'ms p90' },
      { name: '  of which nft -i', value: med(oursI.changeNft), unit: 'ms p50' },
      { name: 'one pod relabelled: ours, a process per change (nft -f)', value: med(oursF.change), unit: 'ms p50', ratio: med(oursF.change) / med(naiveChange), baseline: 'naive' },
    ];
  } finally {
    await lab.destroy();
  }
}
