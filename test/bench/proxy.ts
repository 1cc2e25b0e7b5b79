// The service proxy's rule syncs beside kube-proxy's iptables layout, and the share each endpoint
// gets, all inside lab namespaces (never the caller's):
//
//   ours           the proxier (table ip kube-proxy: maps + numgen, no chain per service) through nft/:
//                  full syncs by `nft -f`, element changes through its long-lived `nft -i`; and once more
//                  with a process per change (`nft -f` only), to show what the long-lived process saves
//   iptables       kube-proxy's iptables layout, a KUBE-SVC-* chain per service and a KUBE-SEP-* chain
//                  per endpoint, written as kube-proxy writes it (iptables-restore --noflush), through
//                  iptables-legacy-restore and iptables-nft-restore (Debian's default)
//
// Each layout loads 10,000 services x 5 endpoints into an empty namespace of its own (full sync),
// then one service is added and one endpoint removed (incremental syncs; for iptables a partial
// restore as kube-proxy's partial sync writes it: the whole KUBE-SERVICES chain plus the changed
// service's chains). iptables-nft-restore needs minutes for the full 10,000 (the issue measured
// ~620 s): it is run with a time limit (PROXY_BENCH_NFT_TIMEOUT_S, default 120 s) and reported as a
// lower bound if it does not finish; its figures at 2,000 services are measured in full, and the
// growth from 1,000 to 2,000 gives the extrapolation printed beside them.
//
// Shares: 10,000 real TCP connections from a pod to a ClusterIP with 5 pod endpoints, through the
// kernel's numgen. Prints its figures; throws if a measurement cannot be made.
import { createHash } from 'node:crypto';
import type { Endpoints, Service } from '../../cluster/index.js';
import { FlannelError, silentLogger } from '../../common/index.js';
import { NftCli, Proxier, type NftPort } from '../../proxy/index.js';
import { connectMany, type Host, Lab, runCommand, startTcpEcho } from '../netns/index.js';
import { percentile, type BenchResult } from './stats.js';

export class ProxyBenchError extends FlannelError {
  readonly code = 'BENCH_PROXY';
}

export interface ProxyBenchOptions {
  readonly services?: number;
  readonly endpointsPer?: number;
  /** Incremental syncs per kind (the median is reported). */
  readonly rounds?: number;
  /** The iptables-nft-restore full load of `services` is abandoned after this long. */
  readonly nftTimeoutS?: number;
  /** Connections for the share measurement. */
  readonly flows?: number;
}

interface Workload {
  readonly services: Map<string, Service>;
  readonly endpoints: Map<string, Endpoints>;
}

const svcIp = (i: number) => `10.254.${(i >> 8) & 255}.${i & 255}`;
const epIp = (i: number, k: number, per: number) => {
  const n = i * per + k;
  return `10.${100 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
};

function workload(count: number, per: number, from = 0): Workload {
  const services = new Map<string, Service>();
  const endpoints = new Map<string, Endpoints>();
  for (let i = from; i < from + count; i++) {
    const name = `s${i}`;
    services.set(`bench/${name}`, { metadata: { name, namespace: 'bench' }, spec: { clusterIP: svcIp(i), selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
    endpoints.set(`bench/${name}`, epObj(name, Array.from({ length: per }, (_, k) => epIp(i, k, per))));
  }
  return { services, endpoints };
}

function epObj(name: string, ips: readonly string[]): Endpoints {
  return { metadata: { name, namespace: 'bench' }, subsets: [{ addresses: ips.map((ip) => ({ ip, nodeName: 'elsewhere' })), ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }] };
}

// ---------------------------------------------------------------- kube-proxy's iptables layout

/** kube-proxy's chain names: a hash of the service port (or endpoint) identity, base32, 16 chars. */
function chainHash(prefix: string, id: string): string {
  const b32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const h = createHash('sha256').update(id).digest();
  let out = '';
  for (let i = 0; out.length < 16; i++) out += b32[h[i]! & 31];
  return `${prefix}-${out}`;
}

interface IptService {
  readonly name: string;
  readonly ip: string;
  readonly eps: readonly string[];
}

const svcChain = (s: IptService) => chainHash('KUBE-SVC', `bench/${s.name}:http/tcp`);
const sepChain = (s: IptService, ep: string) => chainHash('KUBE-SEP', `bench/${s.name}:http/tcp/${ep}:8080`);

function servicesRules(svcs: readonly IptService[]): string[] {
  const out = svcs.map((s) => `-A KUBE-SERVICES -d ${s.ip}/32 -p tcp -m comment --comment "bench/${s.name}:http cluster IP" -m tcp --dport 80 -j ${svcChain(s)}`);
  out.push('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS');
  return out;
}

function serviceChainLines(s: IptService): { decl: string[]; rules: string[] } {
  const decl = [`:${svcChain(s)} - [0:0]`, ...s.eps.map((e) => `:${sepChain(s, e)} - [0:0]`)];
  const c = svcChain(s);
  const rules = [`-A ${c} ! -s 10.5.0.0/16 -d ${s.ip}/32 -p tcp -m comment --comment "bench/${s.name}:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ`];
  s.eps.forEach((e, k) => {
    const left = s.eps.length - k;
    const stat = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}` : '';
    rules.push(`-A ${c} -m comment --comment "bench/${s.name}:http -> ${e}:8080"${stat} -j ${sepChain(s, e)}`);
  });
  for (const e of s.eps) {
    const sep = sepChain(s, e);
    rules.push(`-A ${sep} -s ${e}/32 -m comment --comment "bench/${s.name}:http" -j KUBE-MARK-MASQ`, `-A ${sep} -p tcp -m comment --comment "bench/${s.name}:http" -m tcp -j DNAT --to-destination ${e}:8080`);
  }
  return { decl, rules };
}

/** The whole nat table as kube-proxy's full sync writes it. */
function iptablesFull(svcs: readonly IptService[]): string {
  const decl = [':KUBE-SERVICES - [0:0]', ':KUBE-NODEPORTS - [0:0]', ':KUBE-POSTROUTING - [0:0]', ':KUBE-MARK-MASQ - [0:0]'];
  const rules = [
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
  ];
  for (const s of svcs) {
    const c = serviceChainLines(s);
    decl.push(...c.decl);
    rules.push(...c.rules);
  }
  rules.push(...servicesRules(svcs));
  return ['*nat', ...decl, ...rules, 'COMMIT', ''].join('\n');
}

/** kube-proxy's partial sync: KUBE-SERVICES rewritten whole, plus the changed service's chains. */
function iptablesPartial(all: readonly IptService[], changed: IptService, removedEps: readonly string[] = []): string {
  const c = serviceChainLines(changed);
  const deleted = removedEps.map((e) => sepChain(changed, e));
  return ['*nat', ':KUBE-SERVICES - [0:0]', ...c.decl, ...deleted.map((d) => `:${d} - [0:0]`), ...servicesRules(all), ...c.rules, ...deleted.map((d) => `-X ${d}`), 'COMMIT', ''].join('\n');
}

async function restore(h: Host, bin: string, text: string, timeoutMs: number): Promise<{ ms: number; timedOut: boolean }> {
  const r = await runCommand(['nsenter', `--net=${h.nsPath}`, '--', bin, '--noflush'], { input: text, timeoutMs });
  if (r.timedOut) return { ms: r.ms, timedOut: true };
  if (r.code !== 0) throw new ProxyBenchError(`${bin} in ${h.name}: exit ${r.code}: ${r.stderr.trim().slice(0, 400)}`);
  return { ms: r.ms, timedOut: false };
}

async function iptablesRun(h: Host, bin: string, n: number, per: number, rounds: number, timeoutMs: number): Promise<{ full: number | undefined; add: number[]; remove: number[] }> {
  const svcs: IptService[] = Array.from({ length: n }, (_, i) => ({ name: `s${i}`, ip: svcIp(i), eps: Array.from({ length: per }, (_, k) => epIp(i, k, per)) }));
  const full = await restore(h, bin, iptablesFull(svcs), timeoutMs);
  if (full.timedOut) return { full: undefined, add: [], remove: [] };
  const add: number[] = [];
  const remove: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const extra: IptService = { name: `new${r}`, ip: svcIp(20_000 + r), eps: Array.from({ length: per }, (_, k) => epIp(60_000 + r, k, per)) };
    svcs.push(extra);
    add.push((await restore(h, bin, iptablesPartial(svcs, extra), 60_000)).ms);
    const victim = svcs[r * 7]!;
    const gone = victim.eps[victim.eps.length - 1]!;
    const shrunk: IptService = { ...victim, eps: victim.eps.slice(0, -1) };
    svcs[r * 7] = shrunk;
    remove.push((await restore(h, bin, iptablesPartial(svcs, shrunk, [gone]), 60_000)).ms);
  }
  return { full: full.ms, add, remove };
}

// ---------------------------------------------------------------- ours

/** Times each nft transaction the proxier runs. */
class TimedNft implements NftPort {
  readonly runs: { ms: number; bytes: number }[] = [];
  constructor(private readonly inner: NftPort) {}
  async run(script: string): Promise<void> {
    const t0 = performance.now();
    await this.inner.run(script);
    this.runs.push({ ms: performance.now() - t0, bytes: script.length });
  }
  listChains(): Promise<string[]> {
    return this.inner.listChains();
  }
}

/** `interactive: false`: every change through its own `nft -f` process (as before nft/ kept an `nft -i`). */
export async function oursRun(h: Host, n: number, per: number, rounds: number, o: { interactive?: boolean } = {}): Promise<{ full: number; fullNft: number; resync: number; add: number[]; remove: number[]; addNft: number[]; removeNft: number[] }> {
  const cli = new NftCli({ argv: ['nsenter', `--net=${h.nsPath}`, '--', 'nft'], timeoutMs: 300_000, interactive: o.interactive ?? true });
  const nft = new TimedNft(cli);
  const p = new Proxier({ nodeName: h.name, ruleset: { masqMark: 0x4000, clusterCIDR: '10.5.0.0/16' }, minSyncMs: 0, syncPeriodMs: 3_600_000 }, { nft, conntrack: { flush: async () => 0 }, log: silentLogger });
  const w = workload(n, per);
  p.resetServices(w.services);
  p.resetEndpoints(w.endpoints);
  p.setSynced('services');
  p.setSynced('endpoints');
  const timed = async (): Promise<[number, number]> => {
    const before = nft.runs.length;
    const t0 = performance.now();
    await p.sync();
    return [performance.now() - t0, nft.runs.slice(before).reduce((s, r) => s + r.ms, 0)];
  };
  const [full, fullNft] = await timed();
  const add: number[] = [];
  const addNft: number[] = [];
  const remove: number[] = [];
  const removeNft: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const extra = workload(1, per, 20_000 + r);
    for (const [k, v] of extra.services) p.updateService(k, v);
    for (const [k, v] of extra.endpoints) p.updateEndpoints(k, v);
    const [a, an] = await timed();
    add.push(a);
    addNft.push(an);
    const i = r * 7;
    p.updateEndpoints(`bench/s${i}`, epObj(`s${i}`, Array.from({ length: per - 1 }, (_, k) => epIp(i, k, per))));
    const [d, dn] = await timed();
    remove.push(d);
    removeNft.push(dn);
  }
  p.requestFullSync();
  const [resync] = await timed();
  cli.close();
  return { full, fullNft, resync, add, remove, addNft, removeNft };
}

// ---------------------------------------------------------------- shares

async function shares(lab: Lab, per: number, flows: number): Promise<Record<string, number>> {
  const h = lab.host('s');
  const pods = [];
  for (let k = 0; k < per; k++) {
    const pod = await h.addPod(`e${k}`, { cidr: '10.6.1.1/24' });
    await startTcpEcho(pod, { port: 8080, label: `e${k}` });
    pods.push(pod);
  }
  const client = await h.addPod('cl', { cidr: '10.6.1.1/24' });
  const nft = new NftCli({ argv: ['nsenter', `--net=${h.nsPath}`, '--', 'nft'] });
  const p = new Proxier({ nodeName: 's', ruleset: { masqMark: 0x4000 }, minSyncMs: 0, syncPeriodMs: 3_600_000 }, { nft, conntrack: { flush: async () => 0 }, log: silentLogger });
  p.resetServices(new Map([['bench/share', { metadata: { name: 'share' }, spec: { clusterIP: '10.254.0.10', ports: [{ name: 'http', port: 80 }] } }]]));
  p.resetEndpoints(new Map([['bench/share', epObj('share', pods.map((x) => x.ip))]]));
  p.setSynced('services');
  p.setSynced('endpoints');
  await p.sync();
  // The client's source ports come from the ephemeral range: widen it and let TIME_WAIT sockets be reused.
  await client.run(['sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=10000 65000', 'net.ipv4.tcp_tw_reuse=1']);
  const r = await connectMany(client, '10.254.0.10', 80, flows, { conc: 32, timeoutMs: 5_000 });
  if (Object.keys(r.errors).length) throw new ProxyBenchError(`share connections failed: ${JSON.stringify(r.errors)}`);
  return r.counts;
}

// ---------------------------------------------------------------- the benchmark

export async function benchProxy(o: ProxyBenchOptions = {}): Promise<BenchResult[]> {
  const n = o.services ?? 10_000;
  const per = o.endpointsPer ?? 5;
  const rounds = o.rounds ?? 5;
  const nftTimeoutS = o.nftTimeoutS ?? Number(process.env.PROXY_BENCH_NFT_TIMEOUT_S ?? 120);
  const flows = o.flows ?? 10_000;
  const small = 2_000;
  const lab = await Lab.create({ hosts: ['ours', 'oursf', 'ours2k', 'legacy', 'leg2k', 'nft1k', 'nft2k', 'nft', 's'] });
  try {
    const med = (xs: number[]) => percentile(xs, 50);
    const log = (s: string) => console.log(`  ${s}`);
    log(`ours: ${n} x ${per} ...`);
    const ours = await oursRun(lab.host('ours'), n, per, rounds);
    const oursF = await oursRun(lab.host('oursf'), n, per, rounds, { interactive: false });
    const ours2k = await oursRun(lab.host('ours2k'), small, per, rounds);
    log('iptables-legacy-restore ...');
    const legacy = await iptablesRun(lab.host('legacy'), 'iptables-legacy-restore', n, per, rounds, 600_000);
    const legacy2k = await iptablesRun(lab.host('leg2k'), 'iptables-legacy-restore', small, per, rounds, 600_000);
    log('iptables-nft-restore at 1,000 and 2,000 ...');
    const nft1k = await iptablesRun(lab.host('nft1k'), 'iptables-nft-restore', 1_000, per, 1, 600_000);
    const nft2k = await iptablesRun(lab.host('nft2k'), 'iptables-nft-restore', small, per, rounds, 600_000);
    log(`iptables-nft-restore at ${n} (limit ${nftTimeoutS} s) ...`);
    const nftFull = await iptablesRun(lab.host('nft'), 'iptables-nft-restore', n, per, rounds, nftTimeoutS * 1000);
    log(`shares over ${flows} connections ...`);
    const counts = await shares(lab, per, flows);
    if (legacy.full === undefined || legacy2k.full === undefined || nft1k.full === undefined || nft2k.full === undefined) throw new ProxyBenchError('a bounded iptables load timed out');

    // Growth exponent from 1,000 to 2,000 services, for the extrapolation to n.
    const k = Math.log(nft2k.full / nft1k.full) / Math.log(2);
    const nftExtrapolated = nft2k.full * (n / small) ** k;
    const lf = legacy.full;
    const la = med(legacy.add);
    const lr = med(legacy.remove);
    const rows: BenchResult[] = [
      { name: `full sync ${n}x${per}: iptables-legacy-restore (baseline)`, value: lf / 1000, unit: 's', ratio: 1 },
      { name: `full sync ${n}x${per}: ours, nft -f (maps)`, value: ours.full / 1000, unit: 's', ratio: ours.full / lf, baseline: 'legacy' },
      { name: `  of which nft -f`, value: ours.fullNft / 1000, unit: 's' },
      nftFull.full === undefined
        ? { name: `full sync ${n}x${per}: iptables-nft-restore, NOT FINISHED within (lower bound)`, value: nftTimeoutS, unit: 's', ratio: (nftTimeoutS * 1000) / lf, baseline: 'legacy' }
        : { name: `full sync ${n}x${per}: iptables-nft-restore`, value: nftFull.full / 1000, unit: 's', ratio: nftFull.full / lf, baseline: 'legacy' },
      { name: `  iptables-nft-restore extrapolated from 1k/2k (exponent ${k.toFixed(2)})`, value: nftExtrapolated / 1000, unit: 's', ratio: nftExtrapolated / lf, baseline: 'legacy' },
      { name: `full resync over the loaded table: ours`, value: ours.resync / 1000, unit: 's', ratio: ours.resync / lf, baseline: 'legacy' },
      { name: `add 1 service: iptables-legacy-restore (baseline)`, value: la, unit: 'ms p50', ratio: 1 },
      { name: `add 1 service: ours`, value: med(ours.add), unit: 'ms p50', ratio: med(ours.add) / la, baseline: 'legacy' },
      { name: `  of which nft (element change: the long-lived nft -i)`, value: med(ours.addNft), unit: 'ms p50' },
      { name: `add 1 service: ours, a process per change (nft -f)`, value: med(oursF.add), unit: 'ms p50', ratio: med(oursF.add) / la, baseline: 'legacy' },
      ...(nftFull.full !== undefined ? [{ name: `add 1 service: iptables-nft-restore`, value: med(nftFull.add), unit: 'ms p50', ratio: med(nftFull.add) / la, baseline: 'legacy' }] : []),
      { name: `remove 1 endpoint: iptables-legacy-restore (baseline)`, value: lr, unit: 'ms p50', ratio: 1 },
      { name: `remove 1 endpoint: ours`, value: med(ours.remove), unit: 'ms p50', ratio: med(ours.remove) / lr, baseline: 'legacy' },
      { name: `  of which nft (element change: the long-lived nft -i)`, value: med(ours.removeNft), unit: 'ms p50' },
      { name: `remove 1 endpoint: ours, a process per change (nft -f)`, value: med(oursF.remove), unit: 'ms p50', ratio: med(oursF.remove) / lr, baseline: 'legacy' },
      ...(nftFull.full !== undefined ? [{ name: `remove 1 endpoint: iptables-nft-restore`, value: med(nftFull.remove), unit: 'ms p50', ratio: med(nftFull.remove) / lr, baseline: 'legacy' }] : []),
      { name: `full sync ${small}x${per}: iptables-legacy-restore (baseline)`, value: legacy2k.full / 1000, unit: 's', ratio: 1 },
      { name: `full sync ${small}x${per}: ours`, value: ours2k.full / 1000, unit: 's', ratio: ours2k.full / legacy2k.full, baseline: 'legacy' },
      { name: `full sync ${small}x${per}: iptables-nft-restore`, value: nft2k.full / 1000, unit: 's', ratio: nft2k.full / legacy2k.full, baseline: 'legacy' },
      { name: `full sync 1000x${per}: iptables-nft-restore`, value: nft1k.full / 1000, unit: 's' },
      { name: `add 1 service at ${small}: iptables-legacy-restore (baseline)`, value: med(legacy2k.add), unit: 'ms p50', ratio: 1 },
      { name: `add 1 service at ${small}: ours`, value: med(ours2k.add), unit: 'ms p50', ratio: med(ours2k.add) / med(legacy2k.add), baseline: 'legacy' },
      { name: `add 1 service at ${small}: iptables-nft-restore`, value: med(nft2k.add), unit: 'ms p50', ratio: med(nft2k.add) / med(legacy2k.add), baseline: 'legacy' },
      { name: `remove 1 endpoint at ${small}: iptables-legacy-restore (baseline)`, value: med(legacy2k.remove), unit: 'ms p50', ratio: 1 },
      { name: `remove 1 endpoint at ${small}: ours`, value: med(ours2k.remove), unit: 'ms p50', ratio: med(ours2k.remove) / med(legacy2k.remove), baseline: 'legacy' },
      { name: `remove 1 endpoint at ${small}: iptables-nft-restore`, value: med(nft2k.remove), unit: 'ms p50', ratio: med(nft2k.remove) / med(legacy2k.remove), baseline: 'legacy' },
    ];
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const expect = 1 / per;
    let maxDev = 0;
    for (let e = 0; e < per; e++) {
      const share = (counts[`e${e}`] ?? 0) / total;
      maxDev = Math.max(maxDev, Math.abs(share - expect));
      rows.push({ name: `share of endpoint e${e} over ${total} connections (ideal ${(100 * expect).toFixed(1)} %)`, value: 100 * share, unit: '%', ratio: share / expect, baseline: 'ideal' });
    }
    const sd = Math.sqrt((expect * (1 - expect)) / total);
    rows.push({ name: 'largest deviation from the ideal share', value: 100 * maxDev, unit: 'pp' });
    rows.push({ name: `  binomial sd of one share at ${total} connections`, value: 100 * sd, unit: 'pp' });
    rows.push({ name: '  design bound of numgen random mod n: n / 2^32', value: (per / 2 ** 32) * 1e9, unit: 'parts per 10^9' });
    return rows;
  } finally {
    await lab.destroy();
  }
}
