// The proxy's nftables layout, rendered as `nft -f` scripts. Pure.
//
// Everything lives in `table ip kube-proxy`; no other table is ever named. Chains are few and fixed:
// there is no chain per service or per endpoint (chains are what makes kube-proxy's iptables layout
// slow to load), only per *endpoint count*, shared by every service with that many endpoints:
//
//   nat-prerouting / nat-output (dstnat)   jump services
//   services        ip daddr . meta l4proto . th dport vmap @service-ips     (ClusterIP:port → goto pick-tcp-<n>)
//                   fib daddr type local ... meta l4proto . th dport vmap @service-nodeports
//   pick-tcp-<n>    dnat ip to ip daddr . tcp dport . numgen random mod <n> map @endpoints-tcp
//   np-pick-tcp-<n> mark for masquerade; the same through @nodeport-endpoints-tcp (key nodePort . slot)
//   aff-tcp-<n>-<T> session affinity, T seconds: a client remembered in @affinity-<k> for this service
//                   goes to slot k again, else numgen picks a slot; aff-slot-tcp-<k>-<T> remembers, DNATs
//   ext-pick-tcp-<n>  external IPs and LoadBalancer ingress (externalTrafficPolicy Cluster): marked for
//                   masquerade, then as pick-tcp-<n> (the frontend's address keys @endpoints-tcp too)
//   local-pick-tcp-<n>, np-local-pick-tcp-<n>  externalTrafficPolicy Local, for traffic from outside the
//                   pod network (nat-prerouting looks in @external-local-ips / @local-nodeports first):
//                   no mark (the client address is kept), only this node's endpoints
//   (and the same for udp)
//   firewall-check  loadBalancerSourceRanges (those of the table's family): a new connection to a firewalled LoadBalancer frontend
//                   from outside its ranges is dropped
//   filter-prerouting / filter-output      a new connection to a service without endpoints is rejected
//                   (TCP reset, else ICMP port unreachable)
//   mark-hairpin    after DNAT: a pod that reached itself gets the masquerade mark
//   nat-postrouting the mark → masquerade (and the mark bit cleared, so an encapsulating VXLAN packet
//                   that inherits it is not masqueraded again)
//
// Selection: slot = numgen random mod n, n the service's endpoint count, endpoint = @endpoints-<proto>[
// service . slot]. The kernel draws the slot as reciprocal_scale(get_random_u32(), n), so each of the
// n endpoints gets a share within n/2^32 of 1/n: equal shares, with no per-service rule.
//
// A sync is a diff of set and map elements (plus a new pick chain when a new endpoint count shows
// up), written in one `nft -f` transaction; a full sync flushes and refills the maps in one
// transaction, so packets never see a half-written table. The dynamic affinity sets are never flushed.

export const FAMILY = 'ip';
export const TABLE = 'kube-proxy';
/**
 * Dual stack: the same layout again in `table ip6 kube-proxy` (as kube-proxy's nftables mode keeps one
 * table per family): the typed concatenations (ipv4_addr . inet_proto . inet_service) hold one family
 * each, so an inet table would need every set twice anyway, and the v4 table stays as it was.
 */
export type IpFamilyNum = 4 | 6;
export const nftFamily = (f: IpFamilyNum = 4): 'ip' | 'ip6' => (f === 6 ? 'ip6' : 'ip');
const tableOf = (f: IpFamilyNum = 4): string => `${nftFamily(f)} ${TABLE}`;
export const AFFINITY_SET_SIZE = 65_535;

export type Proto = 'tcp' | 'udp';
export const PROTOS: readonly Proto[] = ['tcp', 'udp'];

export const SET = {
  serviceIps: 'service-ips',
  serviceNodePorts: 'service-nodeports',
  endpointsTcp: 'endpoints-tcp',
  endpointsUdp: 'endpoints-udp',
  nodePortEndpointsTcp: 'nodeport-endpoints-tcp',
  nodePortEndpointsUdp: 'nodeport-endpoints-udp',
  noEndpointServices: 'no-endpoint-services',
  noEndpointNodePorts: 'no-endpoint-nodeports',
  clusterIps: 'cluster-ips',
  hairpin: 'hairpin',
  externalLocalIps: 'external-local-ips',
  localNodePorts: 'local-nodeports',
  localEndpointsTcp: 'local-endpoints-tcp',
  localEndpointsUdp: 'local-endpoints-udp',
  localNodePortEndpointsTcp: 'local-nodeport-endpoints-tcp',
  localNodePortEndpointsUdp: 'local-nodeport-endpoints-udp',
  noLocalIps: 'no-local-endpoint-ips',
  noLocalNodePorts: 'no-local-endpoint-nodeports',
  dropServices: 'no-local-endpoint-services',
  firewallIps: 'firewall-ips',
  firewallAllow: 'firewall-allow',
} as const;
export type StaticSet = (typeof SET)[keyof typeof SET];
export const STATIC_SETS: readonly StaticSet[] = Object.values(SET);

export const endpointsMap = (p: Proto): StaticSet => (p === 'tcp' ? SET.endpointsTcp : SET.endpointsUdp);
export const nodePortEndpointsMap = (p: Proto): StaticSet => (p === 'tcp' ? SET.nodePortEndpointsTcp : SET.nodePortEndpointsUdp);
export const localEndpointsMap = (p: Proto): StaticSet => (p === 'tcp' ? SET.localEndpointsTcp : SET.localEndpointsUdp);
export const localNodePortEndpointsMap = (p: Proto): StaticSet => (p === 'tcp' ? SET.localNodePortEndpointsTcp : SET.localNodePortEndpointsUdp);

const SET_DECL: Record<StaticSet, string> = {
  // The slot maps are declared by `typeof`: numgen's integer type has no name to declare it by. One
  // map per protocol, because a typeof with `th dport` cannot be read back from the kernel by nft
  // 1.0.6, and a `tcp dport` in the data makes nft guard the DNAT with `meta l4proto tcp`.
  'service-ips': 'type ipv4_addr . inet_proto . inet_service : verdict ;',
  'service-nodeports': 'type inet_proto . inet_service : verdict ;',
  'endpoints-tcp': 'typeof ip daddr . tcp dport . numgen random mod 1 : ip daddr . tcp dport ;',
  'endpoints-udp': 'typeof ip daddr . udp dport . numgen random mod 1 : ip daddr . udp dport ;',
  'nodeport-endpoints-tcp': 'typeof tcp dport . numgen random mod 1 : ip daddr . tcp dport ;',
  'nodeport-endpoints-udp': 'typeof udp dport . numgen random mod 1 : ip daddr . udp dport ;',
  'no-endpoint-services': 'type ipv4_addr . inet_proto . inet_service ;',
  'no-endpoint-nodeports': 'type inet_proto . inet_service ;',
  'cluster-ips': 'type ipv4_addr ;',
  hairpin: 'type ipv4_addr . ipv4_addr ;',
  'external-local-ips': 'type ipv4_addr . inet_proto . inet_service : verdict ;',
  'local-nodeports': 'type inet_proto . inet_service : verdict ;',
  'local-endpoints-tcp': 'typeof ip daddr . tcp dport . numgen random mod 1 : ip daddr . tcp dport ;',
  'local-endpoints-udp': 'typeof ip daddr . udp dport . numgen random mod 1 : ip daddr . udp dport ;',
  'local-nodeport-endpoints-tcp': 'typeof tcp dport . numgen random mod 1 : ip daddr . tcp dport ;',
  'local-nodeport-endpoints-udp': 'typeof udp dport . numgen random mod 1 : ip daddr . udp dport ;',
  'no-local-endpoint-ips': 'type ipv4_addr . inet_proto . inet_service ;',
  'no-local-endpoint-nodeports': 'type inet_proto . inet_service ;',
  'no-local-endpoint-services': 'type ipv4_addr . inet_proto . inet_service ;',
  'firewall-ips': 'type ipv4_addr . inet_proto . inet_service ;',
  // The source ranges of each frontend: an interval on the last field of the concatenation.
  'firewall-allow': 'type ipv4_addr . inet_proto . inet_service . ipv4_addr ; flags interval ;',
};

export const affinitySet = (slot: number): string => `affinity-${slot}`;
const AFFINITY_RE = /^affinity-(\d+)$/;
export const isAffinitySet = (name: string): boolean => AFFINITY_RE.test(name);

export function setDecl(name: string, family: IpFamilyNum = 4): string {
  let d: string | undefined = SET_DECL[name as StaticSet];
  if (isAffinitySet(name)) d = `type ipv4_addr . ipv4_addr . inet_proto . inet_service ; flags dynamic,timeout ; size ${AFFINITY_SET_SIZE} ;`;
  if (!d) throw new RangeError(`unknown set ${name}`);
  // The v6 declarations are the v4 ones with the address type and the address expression of ip6.
  return family === 6 ? d.replaceAll('ipv4_addr', 'ipv6_addr').replaceAll('ip daddr', 'ip6 daddr') : d;
}

export const isMap = (name: string): boolean =>
  name === SET.serviceIps || name === SET.serviceNodePorts || name === SET.externalLocalIps || name === SET.localNodePorts || /endpoints-(tcp|udp)$/.test(name);

export interface RulesetConfig {
  /** The masquerade mark bit, e.g. 0x4000 (flanneld's ip-masq leaves traffic with it alone). */
  readonly masqMark: number;
  /** Traffic to a ClusterIP from outside this CIDR (the pod network) is masqueraded. */
  readonly clusterCIDR?: string;
  /** The table's family: 4 (`table ip`, the default) or 6 (`table ip6`); clusterCIDR must be of it. */
  readonly family?: IpFamilyNum;
}

export interface ChainDef {
  readonly name: string;
  /** Base chain: `type … hook … priority …`. */
  readonly hook?: string;
  readonly rules: readonly string[];
}

const hex = (n: number): string => `0x${n.toString(16)}`;
const frontendOf = (l3: string): string => `${l3} daddr . meta l4proto . th dport`;
const clientOf = (l3: string): string => `${l3} saddr . ${l3} daddr . meta l4proto . th dport`;

export const BASE_CHAINS = ['services', 'reject-chain', 'firewall-check', 'nat-prerouting', 'nat-output', 'nat-postrouting', 'filter-prerouting', 'filter-output', 'mark-hairpin'] as const;

/** The fixed chains, in creation order (regular chains before the base chains that jump to them). */
export function baseChains(cfg: RulesetConfig): ChainDef[] {
  const mark = hex(cfg.masqMark);
  const setMark = `meta mark set meta mark | ${mark}`;
  const L = nftFamily(cfg.family);
  const FRONTEND = frontendOf(L);
  // Traffic from pods to an external frontend of a Local service takes the cluster-wide path, as in kube-proxy.
  const outside = cfg.clusterCIDR ? `${L} saddr != ${cfg.clusterCIDR} ` : '';
  const nodePortDst = `fib daddr type local ${L} daddr != ${cfg.family === 6 ? '::1' : '127.0.0.0/8'} meta l4proto . th dport`;
  const noEndpoints = [
    `ct state new ${FRONTEND} @${SET.noEndpointServices} goto reject-chain`,
    `ct state new fib daddr type local meta l4proto . th dport @${SET.noEndpointNodePorts} goto reject-chain`,
    `ct state new ${FRONTEND} @${SET.dropServices} drop`,
  ];
  return [
    {
      name: 'services',
      rules: [
        ...(cfg.clusterCIDR ? [`${L} saddr != ${cfg.clusterCIDR} ${L} daddr @${SET.clusterIps} ${setMark}`] : []),
        `${FRONTEND} vmap @${SET.serviceIps}`,
        `${nodePortDst} vmap @${SET.serviceNodePorts}`,
      ],
    },
    { name: 'reject-chain', rules: ['meta l4proto tcp reject with tcp reset', 'reject'] },
    { name: 'firewall-check', rules: [`${FRONTEND} . ${L} saddr @${SET.firewallAllow} return`, 'drop'] },
    {
      name: 'nat-prerouting',
      hook: 'type nat hook prerouting priority dstnat ; policy accept ;',
      rules: [`${outside}${FRONTEND} vmap @${SET.externalLocalIps}`, `${outside}${nodePortDst} vmap @${SET.localNodePorts}`, 'jump services'],
    },
    // The node's own connections to a ClusterIP are masqueraded, so replies from a pod on another
    // node come back through the overlay rather than straight to the node's underlay address.
    { name: 'nat-output', hook: 'type nat hook output priority -100 ; policy accept ;', rules: [`${L} daddr @${SET.clusterIps} ${setMark}`, 'jump services'] },
    {
      name: 'nat-postrouting',
      hook: 'type nat hook postrouting priority srcnat ; policy accept ;',
      rules: [`meta mark & ${mark} == 0 return`, `meta mark set meta mark ^ ${mark}`, 'masquerade fully-random'],
    },
    {
      name: 'filter-prerouting',
      hook: 'type filter hook prerouting priority -110 ; policy accept ;',
      rules: [
        `ct state new ${FRONTEND} @${SET.firewallIps} jump firewall-check`,
        ...noEndpoints,
        `ct state new ${outside}${FRONTEND} @${SET.noLocalIps} drop`,
        `ct state new ${outside}fib daddr type local meta l4proto . th dport @${SET.noLocalNodePorts} drop`,
      ],
    },
    { name: 'filter-output', hook: 'type filter hook output priority -110 ; policy accept ;', rules: noEndpoints },
    { name: 'mark-hairpin', hook: 'type filter hook prerouting priority -90 ; policy accept ;', rules: [`ct state new ct status dnat ${L} saddr . ${L} daddr @${SET.hairpin} ${setMark}`] },
  ];
}

/**
 * Which frontends a pick chain serves: a ClusterIP ('cluster'), an external IP or LoadBalancer address
 * ('ext': masqueraded), or only this node's endpoints for externalTrafficPolicy Local ('local': not
 * masqueraded); `nodePort` keys the endpoints by node port instead of address and port.
 */
export type PickMode = 'cluster' | 'ext' | 'local';

/** What a pick chain does, parsed from its name. */
export type PickChain =
  | { readonly kind: 'pick'; readonly nodePort: boolean; readonly mode: PickMode; readonly proto: Proto; readonly n: number }
  | { readonly kind: 'aff'; readonly nodePort: boolean; readonly mode: PickMode; readonly proto: Proto; readonly n: number; readonly timeout: number }
  | { readonly kind: 'aff-slot'; readonly nodePort: boolean; readonly mode: PickMode; readonly proto: Proto; readonly slot: number; readonly timeout: number };

const PICK_RE = /^(np-)?(ext-|local-)?(?:pick-(tcp|udp)-(\d+)|aff-(tcp|udp)-(\d+)-(\d+)|aff-slot-(tcp|udp)-(\d+)-(\d+))$/;

export function parsePickChain(name: string): PickChain | undefined {
  const m = PICK_RE.exec(name);
  if (!m) return undefined;
  const nodePort = m[1] !== undefined;
  const mode: PickMode = m[2] === 'ext-' ? 'ext' : m[2] === 'local-' ? 'local' : 'cluster';
  // A node port is already external; local chains have no affinity.
  if (nodePort && mode === 'ext') return undefined;
  if (m[3] !== undefined) return { kind: 'pick', nodePort, mode, proto: m[3] as Proto, n: Number(m[4]) };
  if (mode === 'local') return undefined;
  if (m[5] !== undefined) return { kind: 'aff', nodePort, mode, proto: m[5] as Proto, n: Number(m[6]), timeout: Number(m[7]) };
  return { kind: 'aff-slot', nodePort, mode, proto: m[8] as Proto, slot: Number(m[9]), timeout: Number(m[10]) };
}

const prefixOf = (nodePort: boolean, mode: PickMode): string => `${nodePort ? 'np-' : ''}${mode === 'cluster' ? '' : `${mode}-`}`;

/** The chain a service port's frontend jumps to, for n ≥ 1 endpoints. */
export function pickChainName(n: number, nodePort: boolean, proto: Proto, affinityTimeout?: number, mode: PickMode = 'cluster'): string {
  if (n < 1) throw new RangeError(`pick chain for ${n} endpoints`);
  if (nodePort && mode === 'ext') throw new RangeError('a node port pick chain is cluster or local');
  const pre = prefixOf(nodePort, mode);
  return affinityTimeout === undefined || mode === 'local' ? `${pre}pick-${proto}-${n}` : `${pre}aff-${proto}-${n}-${affinityTimeout}`;
}

function pickChainRules(p: PickChain, cfg: RulesetConfig): string[] {
  const marks = p.mode === 'ext' || (p.nodePort && p.mode === 'cluster');
  const markRule = marks ? [`meta mark set meta mark | ${hex(cfg.masqMark)}`] : [];
  const local = p.mode === 'local';
  const L = nftFamily(cfg.family);
  const CLIENT = clientOf(L);
  const [key, map] = p.nodePort
    ? [`${p.proto} dport`, local ? localNodePortEndpointsMap(p.proto) : nodePortEndpointsMap(p.proto)]
    : [`${L} daddr . ${p.proto} dport`, local ? localEndpointsMap(p.proto) : endpointsMap(p.proto)];
  const pre = prefixOf(p.nodePort, p.mode);
  switch (p.kind) {
    case 'pick':
      return [...markRule, `dnat ${L} to ${key} . numgen random mod ${p.n} map @${map}`];
    case 'aff': {
      const slot = (k: number) => `${pre}aff-slot-${p.proto}-${k}-${p.timeout}`;
      const known = Array.from({ length: p.n }, (_, k) => `${CLIENT} @${affinitySet(k)} goto ${slot(k)}`);
      const choice = Array.from({ length: p.n }, (_, k) => `${k} : goto ${slot(k)}`).join(', ');
      return [...markRule, ...known, `numgen random mod ${p.n} vmap { ${choice} }`];
    }
    case 'aff-slot':
      // `numgen random mod 1 offset k` is the constant k: nft takes no literal inside this concatenation.
      return [
        `update @${affinitySet(p.slot)} { ${CLIENT} timeout ${p.timeout}s }`,
        `dnat ${L} to ${key} . numgen random mod 1 offset ${p.slot} map @${map}`,
      ];
  }
}

export function chainDef(name: string, cfg: RulesetConfig): ChainDef {
  const base = baseChains(cfg).find((c) => c.name === name);
  if (base) return base;
  const p = parsePickChain(name);
  if (!p) throw new RangeError(`unknown chain ${name}`);
  return { name, rules: pickChainRules(p, cfg) };
}

/** Chains and sets a pick chain refers to (which must exist before it). */
export function chainDeps(name: string): { chains: string[]; sets: string[] } {
  const p = parsePickChain(name);
  if (!p || p.kind === 'pick') return { chains: [], sets: [] };
  const pre = prefixOf(p.nodePort, p.mode);
  if (p.kind === 'aff-slot') return { chains: [], sets: [affinitySet(p.slot)] };
  const ks = Array.from({ length: p.n }, (_, k) => k);
  return { chains: ks.map((k) => `${pre}aff-slot-${p.proto}-${k}-${p.timeout}`), sets: ks.map(affinitySet) };
}

/** `name` and everything it needs, dependencies first. */
export function withDeps(names: Iterable<string>): { chains: string[]; sets: string[] } {
  const chains = new Set<string>();
  const sets = new Set<string>();
  const visit = (n: string): void => {
    if (chains.has(n)) return;
    const d = chainDeps(n);
    d.sets.forEach((s) => sets.add(s));
    d.chains.forEach(visit);
    chains.add(n);
  };
  for (const n of names) visit(n);
  return { chains: [...chains], sets: [...sets] };
}

// ---------------------------------------------------------------- element keys

export const frontendKey = (ip: string, proto: string, port: number): string => `${ip} . ${proto} . ${port}`;
export const nodePortKey = (proto: string, nodePort: number): string => `${proto} . ${nodePort}`;
/** Keys of the per-protocol slot maps: `<ClusterIP> . <port> . <slot>` and `<nodePort> . <slot>`. */
export const slotKey = (ipOrNone: string | undefined, port: number, slot: number): string => (ipOrNone ? `${ipOrNone} . ${port} . ${slot}` : `${port} . ${slot}`);
export const endpointValue = (ip: string, port: number): string => `${ip} . ${port}`;
export const gotoValue = (chain: string): string => `goto ${chain}`;
export const hairpinKey = (ip: string): string => `${ip} . ${ip}`;
/** A frontend and one of its allowed source ranges (firewall-allow). */
export const firewallKey = (ip: string, proto: string, port: number, cidr: string): string => `${frontendKey(ip, proto, port)} . ${cidr}`;

// ---------------------------------------------------------------- scripts

/** Elements per `add element` statement: long enough to be fast, short enough to name a bad line. */
const BATCH = 500;

function elementLines(T: string, verb: 'add' | 'delete', set: string, items: readonly (readonly [string, string])[] | readonly string[]): string[] {
  const out: string[] = [];
  const map = isMap(set) && verb === 'add';
  for (let i = 0; i < items.length; i += BATCH) {
    const chunk = items.slice(i, i + BATCH).map((it) => (typeof it === 'string' ? it : map ? `${it[0]} : ${it[1]}` : it[0]));
    out.push(`${verb} element ${T} ${set} { ${chunk.join(', ')} }`);
  }
  return out;
}

function chainLines(T: string, c: ChainDef): string[] {
  return [`add chain ${T} ${c.name}${c.hook ? ` { ${c.hook} }` : ''}`];
}
const ruleLines = (T: string, c: ChainDef): string[] => c.rules.map((r) => `add rule ${T} ${c.name} ${r}`);

export interface FullSyncInput {
  /** Every chain: the base chains and the pick chains in use, dependencies first. */
  readonly chains: readonly ChainDef[];
  /** Affinity sets in use (the static sets are always declared). */
  readonly affinitySets: readonly string[];
  readonly elements: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Delete the table first (after a full sync failed, e.g. on a table left by an incompatible version). */
  readonly recreate: boolean;
  readonly family?: IpFamilyNum;
}

/**
 * Declares every set and chain, flushes the chains and the static sets, and writes all rules and
 * elements: the kernel ends up with exactly this state, in one transaction.
 */
export function renderFullSync(inp: FullSyncInput): string {
  const T = tableOf(inp.family);
  const lines: string[] = [`add table ${T}`];
  if (inp.recreate) lines.push(`delete table ${T}`, `add table ${T}`);
  for (const s of [...STATIC_SETS, ...inp.affinitySets]) lines.push(`add ${isMap(s) ? 'map' : 'set'} ${T} ${s} { ${setDecl(s, inp.family)} }`);
  for (const c of inp.chains) lines.push(...chainLines(T, c));
  for (const c of inp.chains) lines.push(`flush chain ${T} ${c.name}`);
  for (const s of STATIC_SETS) lines.push(`flush ${isMap(s) ? 'map' : 'set'} ${T} ${s}`);
  for (const c of inp.chains) lines.push(...ruleLines(T, c));
  for (const s of STATIC_SETS) {
    const els = inp.elements.get(s);
    if (els && els.size) lines.push(...elementLines(T, 'add', s, [...els]));
  }
  return `${lines.join('\n')}\n`;
}

export interface PartialSyncInput {
  readonly newSets: readonly string[];
  /** New pick chains, dependencies first. */
  readonly newChains: readonly ChainDef[];
  readonly deletes: ReadonlyMap<string, readonly string[]>;
  readonly adds: ReadonlyMap<string, readonly (readonly [string, string])[]>;
  readonly family?: IpFamilyNum;
}

/** New chains, then element deletions, then additions (a changed value is a delete plus an add). */
export function renderPartialSync(inp: PartialSyncInput): string {
  const T = tableOf(inp.family);
  const lines: string[] = [];
  for (const s of inp.newSets) lines.push(`add set ${T} ${s} { ${setDecl(s, inp.family)} }`);
  for (const c of inp.newChains) lines.push(...chainLines(T, c), ...ruleLines(T, c));
  for (const [s, keys] of inp.deletes) if (keys.length) lines.push(...elementLines(T, 'delete', s, keys));
  for (const [s, items] of inp.adds) if (items.length) lines.push(...elementLines(T, 'add', s, items));
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** Removes pick chains and affinity sets nothing refers to any more (dispatch chains before slot chains). */
export function renderCleanup(chains: readonly string[], sets: readonly string[], family?: IpFamilyNum): string {
  const T = tableOf(family);
  const order = (n: string) => (parsePickChain(n)?.kind === 'aff-slot' ? 1 : 0);
  const lines = [...chains].sort((a, b) => order(a) - order(b)).map((c) => `delete chain ${T} ${c}`);
  for (const s of sets) lines.push(`delete set ${T} ${s}`);
  return lines.length ? `${lines.join('\n')}\n` : '';
}
