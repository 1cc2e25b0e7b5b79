// The agent's nftables layout, in `table inet kube-network-policies`. Pure.
//
// Two base chains on the forward hook, where every packet of a pod of this node passes whatever the
// backend (vxlan, host-gw and udp route it; between two pods of one node the bridge hands it to the
// forward hook through br_netfilter): `egress` (priority filter - 1) judges what this node's pods send,
// `ingress` (priority filter) what they receive. The forward hook runs after prerouting, so kube-proxy's
// DNAT (`nat-prerouting`, priority dstnat) has already turned a ClusterIP into the pod it reaches, and
// traffic to a service is judged against that pod. Pods are matched by address, not by veth name: the
// address is what a policy's peers are, and a bridged packet's input device is the bridge port, which
// would tie the layout to one CNI plugin.
//
//   egress / ingress   ct state established,related accept       (replies, and connections already let in)
//                      ip saddr . ip daddr @self accept           (a pod reaching itself through a service)
//                      ip saddr vmap @egress-pods / ip daddr vmap @ingress-pods
//                           pod address → goto the chain of the policies selecting it (unselected pods: no entry, accepted)
//   eg-<h> / in-<h>    one per set of policies selecting some pod: jump pol-<p>-eg … ; reject
//   pol-<p>-in/-eg     one per policy and direction: per rule, e.g.
//                      ip saddr @pol-<p>-in-0-pods meta l4proto . th dport { tcp . 80, udp . 53-60 } accept
//
// Per rule, named sets of the peers' addresses (-pods) and of named ports resolved to the pods that have
// them (-named, `ip . proto . port`); the ipBlocks minus their excepts and the port numbers and ranges,
// which the spec alone gives, are anonymous sets in the rule. The rules of a policy's chain depend on its spec only; a pod
// or namespace change is set elements (and, when a pod's set of selecting policies is new, one chain).
// Traffic from this node's own addresses never reaches the forward hook (it leaves through output), so
// the kubelet's probes are never judged. Denied traffic is rejected (ICMP administratively prohibited)
// rather than dropped, so a client learns at once instead of after its timeout.
import { createHash } from 'node:crypto';
import { rangeElement } from './cidr.js';
import type { ResolvedPolicy, ResolvedRule } from './resolve.js';
import type { ChainSpec, Part, SetSpec } from './ruleset.js';

export const MAP = { ingress: 'ingress-pods', egress: 'egress-pods', self: 'self' } as const;
const DENY = 'reject with icmpx type admin-prohibited';

export type Dir = 'ingress' | 'egress';
const short = (d: Dir): string => (d === 'ingress' ? 'in' : 'eg');
export const policyChain = (hash: string, d: Dir): string => `pol-${hash}-${short(d)}`;

const DECL = {
  pods: 'type ipv4_addr ;',
  named: 'type ipv4_addr . inet_proto . inet_service ;',
};

const setOf = (decl: string, keys: Iterable<string>): SetSpec => ({ kind: 'set', decl, elements: new Map([...keys].map((k) => [k, ''])) });

function ruleParts(r: ResolvedRule, d: Dir, prefix: string, sets: Map<string, SetSpec>): string[] {
  const peerField = d === 'ingress' ? 'ip saddr' : 'ip daddr';
  const peers: string[] = [];
  if (r.peers === 'all') peers.push('');
  else {
    const p = r.peers;
    if (r.shape.podPeers) {
      sets.set(`${prefix}-pods`, setOf(DECL.pods, p.ips));
      peers.push(`${peerField} @${prefix}-pods `);
    }
    // The blocks and the port numbers come from the spec alone: anonymous sets in the rule, fewer named
    // sets for nft to read back on every later transaction. An empty one cannot be written: no rule then.
    if (r.shape.cidrPeers && p.ranges.length) peers.push(`${peerField} { ${p.ranges.map(rangeElement).join(', ')} } `);
  }
  const ports: string[] = [];
  if (r.ports === 'all') ports.push('');
  else {
    const p = r.ports;
    if (r.shape.numeric) ports.push(`meta l4proto . th dport { ${p.numeric.map((n) => `${n.proto} . ${n.from === n.to ? n.from : `${n.from}-${n.to}`}`).join(', ')} } `);
    if (r.shape.named) {
      sets.set(`${prefix}-named`, setOf(DECL.named, p.named));
      ports.push(`ip daddr . meta l4proto . th dport @${prefix}-named `);
    }
  }
  return peers.flatMap((a) => ports.map((b) => `${a}${b}accept`));
}

/** A policy's chains and sets. */
export function policyPart(rp: ResolvedPolicy): Part {
  const chains = new Map<string, ChainSpec>();
  const sets = new Map<string, SetSpec>();
  for (const d of ['ingress', 'egress'] as const) {
    const rules = rp[d];
    if (!rules) continue;
    const name = policyChain(rp.policy.hash, d);
    chains.set(name, { rules: rules.flatMap((r, i) => ruleParts(r, d, `${name}-${i}`, sets)) });
  }
  return { chains, sets };
}

/** What the global part needs of a policy: its hash and the pods it isolates in each direction. */
export interface Selection {
  readonly hash: string;
  readonly ingress: readonly string[];
  readonly egress: readonly string[];
}

export const selectionOf = (rp: ResolvedPolicy): Selection => ({ hash: rp.policy.hash, ingress: rp.ingress ? rp.selected : [], egress: rp.egress ? rp.selected : [] });

export const comboName = (d: Dir, hashes: readonly string[]): string => `${short(d)}-${createHash('sha256').update(hashes.join(',')).digest('hex').slice(0, 12)}`;
/** The chain of a set of policies (sorted hashes): the union of their rules, then reject. */
export const comboChain = (d: Dir, sorted: readonly string[]): ChainSpec => ({ rules: [...sorted.map((h) => `jump ${policyChain(h, d)}`), DENY] });
export const MAP_DECL = 'type ipv4_addr : verdict ;';
export const SELF_DECL = 'type ipv4_addr . ipv4_addr ;';

/** The two base chains. */
export function baseChain(d: Dir): ChainSpec {
  const field = d === 'ingress' ? 'ip daddr' : 'ip saddr';
  return {
    hook: `type filter hook forward priority ${d === 'egress' ? 'filter - 1' : 'filter'} ; policy accept ;`,
    rules: ['ct state established,related accept', `ip saddr . ip daddr @${MAP.self} accept`, `${field} vmap @${MAP[d]}`],
  };
}

/** The base chains, the per-pod verdict maps and the chains of the policy sets they point to. */
export function globalPart(selections: Iterable<Selection>): Part {
  const byPod: Record<Dir, Map<string, string[]>> = { ingress: new Map(), egress: new Map() };
  for (const s of selections) {
    for (const d of ['ingress', 'egress'] as const) {
      for (const ip of s[d]) {
        const l = byPod[d].get(ip);
        if (l) l.push(s.hash);
        else byPod[d].set(ip, [s.hash]);
      }
    }
  }
  const chains = new Map<string, ChainSpec>();
  const sets = new Map<string, SetSpec>();
  const self = new Set<string>();
  for (const d of ['egress', 'ingress'] as const) {
    chains.set(d, baseChain(d));
    const els = new Map<string, string>();
    for (const [ip, hs] of byPod[d]) {
      const sorted = [...new Set(hs)].sort();
      const name = comboName(d, sorted);
      if (!chains.has(name)) chains.set(name, comboChain(d, sorted));
      els.set(ip, `goto ${name}`);
      self.add(`${ip} . ${ip}`);
    }
    sets.set(MAP[d], { kind: 'map', decl: MAP_DECL, elements: els });
  }
  sets.set(MAP.self, setOf(SELF_DECL, self));
  return { chains, sets };
}
