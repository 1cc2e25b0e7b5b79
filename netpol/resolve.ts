// Policies resolved against the cluster: which of this node's pods each policy selects, and for each rule
// the peer addresses and the ports it allows. The layout (layout.ts) and the naive layout of the bench both
// render this. Pure.
import { matchesLabels } from '../cluster/index.js';
import { inRanges, ipToNum, mergeRanges, type Range } from './cidr.js';
import type { Peer, PodInfo, Policy, PortSpec, Proto, Rule } from './model.js';

export interface ClusterView {
  /** This node: policies are enforced for its pods. */
  readonly node: string;
  /** namespace → pod name → pod. */
  readonly pods: ReadonlyMap<string, ReadonlyMap<string, PodInfo>>;
  /** namespace → its labels. */
  readonly namespaces: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

export interface NumericPorts {
  readonly proto: Proto;
  readonly from: number;
  readonly to: number;
}

export interface ResolvedRule {
  /** 'all', or the peer pods' addresses and the ipBlocks' ranges. */
  readonly peers: 'all' | { readonly ips: readonly string[]; readonly ranges: readonly Range[] };
  /** 'all', or port numbers and ranges, and named ports resolved to `ip . proto . port` on the pods that have them. */
  readonly ports: 'all' | { readonly numeric: readonly NumericPorts[]; readonly named: readonly string[] };
  /** Which of the above the spec has (what the rule's nft rules refer to, whatever the pods). */
  readonly shape: { readonly podPeers: boolean; readonly cidrPeers: boolean; readonly numeric: boolean; readonly named: boolean };
}

export interface ResolvedPolicy {
  readonly policy: Policy;
  /** The addresses of this node's pods the policy selects. */
  readonly selected: readonly string[];
  readonly ingress?: readonly ResolvedRule[];
  readonly egress?: readonly ResolvedRule[];
}

const nsLabels = (v: ClusterView, ns: string): Readonly<Record<string, string>> => v.namespaces.get(ns) ?? { 'kubernetes.io/metadata.name': ns };

/** The pods a pods-peer names. */
export function peerPods(peer: Extract<Peer, { kind: 'pods' }>, policyNs: string, v: ClusterView): PodInfo[] {
  const out: PodInfo[] = [];
  const take = (ns: string): void => {
    for (const p of v.pods.get(ns)?.values() ?? []) if (matchesLabels(peer.pods, p.labels)) out.push(p);
  };
  if (peer.namespaces === undefined) take(policyNs);
  else for (const ns of v.pods.keys()) if (matchesLabels(peer.namespaces, nsLabels(v, ns))) take(ns);
  return out;
}

/** Could this pod appear anywhere in what the policy resolves to (selected, a peer, a named port's owner)? */
export function policyConcerns(pol: Policy, pod: PodInfo, v: ClusterView, node: string): boolean {
  if (pod.namespace === pol.namespace && pod.node === node && matchesLabels(pol.podSelector, pod.labels)) return true;
  const rules = [...(pol.ingress ?? []), ...(pol.egress ?? [])];
  for (const r of rules) {
    if (r.peers === 'all') {
      if (r.ports !== 'all' && r.ports.some((p) => 'name' in p)) return true;
      continue;
    }
    for (const peer of r.peers) {
      if (peer.kind === 'cidr') {
        // An address block is the same whatever pods it holds, unless a named port is resolved on them.
        if (r.ports !== 'all' && r.ports.some((p) => 'name' in p) && inRanges(ipToNum(pod.ip), peer.ranges)) return true;
        continue;
      }
      const nsOk = peer.namespaces === undefined ? pod.namespace === pol.namespace : matchesLabels(peer.namespaces, nsLabels(v, pod.namespace));
      if (nsOk && matchesLabels(peer.pods, pod.labels)) return true;
    }
  }
  return false;
}

/** Does any of the policy's peers select pods by namespace labels? */
export const usesNamespaceLabels = (pol: Policy): boolean =>
  [...(pol.ingress ?? []), ...(pol.egress ?? [])].some((r) => r.peers !== 'all' && r.peers.some((p) => p.kind === 'pods' && p.namespaces !== undefined));

function allPods(v: ClusterView): PodInfo[] {
  const out: PodInfo[] = [];
  for (const m of v.pods.values()) out.push(...m.values());
  return out;
}

function namedOn(pods: Iterable<PodInfo>, named: readonly Extract<PortSpec, { name: string }>[]): string[] {
  const out = new Set<string>();
  for (const p of pods) for (const n of named) for (const cp of p.ports) if (cp.name === n.name && cp.proto === n.proto) out.add(`${p.ip} . ${cp.proto} . ${cp.port}`);
  return [...out];
}

function resolveRule(r: Rule, pol: Policy, dir: 'ingress' | 'egress', selectedPods: readonly PodInfo[], v: ClusterView): ResolvedRule {
  const podPeers = r.peers !== 'all' && r.peers.some((p) => p.kind === 'pods');
  const cidrPeers = r.peers !== 'all' && r.peers.some((p) => p.kind === 'cidr');
  const named = r.ports === 'all' ? [] : r.ports.filter((p): p is Extract<PortSpec, { name: string }> => 'name' in p);
  const numeric = r.ports === 'all' ? [] : r.ports.filter((p): p is NumericPorts => !('name' in p));
  let peers: ResolvedRule['peers'] = 'all';
  let peerPodList: PodInfo[] | undefined;
  if (r.peers !== 'all') {
    const ips = new Set<string>();
    const ranges: Range[] = [];
    peerPodList = [];
    for (const peer of r.peers) {
      if (peer.kind === 'cidr') ranges.push(...peer.ranges);
      else for (const p of peerPods(peer, pol.namespace, v)) (ips.add(p.ip), peerPodList.push(p));
    }
    peers = { ips: [...ips], ranges: mergeRanges(ranges) };
  }
  let namedEls: string[] = [];
  if (named.length) {
    if (dir === 'ingress') namedEls = namedOn(selectedPods, named);
    else if (peers === 'all') namedEls = namedOn(allPods(v), named);
    else {
      const rs = peers.ranges;
      const inBlocks = rs.length ? allPods(v).filter((p) => inRanges(ipToNum(p.ip), rs)) : [];
      namedEls = namedOn([...peerPodList!, ...inBlocks], named);
    }
  }
  return {
    peers,
    ports: r.ports === 'all' ? 'all' : { numeric, named: namedEls },
    shape: { podPeers, cidrPeers, numeric: numeric.length > 0, named: named.length > 0 },
  };
}

export function resolvePolicy(pol: Policy, v: ClusterView): ResolvedPolicy {
  const selectedPods = [...(v.pods.get(pol.namespace)?.values() ?? [])].filter((p) => p.node === v.node && matchesLabels(pol.podSelector, p.labels));
  const selected = [...new Set(selectedPods.map((p) => p.ip))];
  const res = (dir: 'ingress' | 'egress', rules: readonly Rule[]) => rules.map((r) => resolveRule(r, pol, dir, selectedPods, v));
  return { policy: pol, selected, ...(pol.ingress && { ingress: res('ingress', pol.ingress) }), ...(pol.egress && { egress: res('egress', pol.egress) }) };
}
