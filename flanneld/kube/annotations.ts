// The Kubernetes subnet manager's data, pure: a Node is a lease when flanneld has annotated it (its
// subnet is spec.podCIDR/podCIDRs, its attributes the flannel.alpha.coreos.com/* annotations), and the
// annotations flanneld writes on its own Node are computed from the backend's attributes. Names,
// formats and the public-ip-overwrite rule follow flannel's pkg/subnet/kube.
import { FlannelError, type Cidr, contains, formatCidr, formatIp, networkOf, parseCidr, parseIp } from '../../core/index.js';
import type { Lease, LeaseAttrs, NetworkConfig } from '../../ipam/index.js';

export const DEFAULT_ANNOTATION_PREFIX = 'flannel.alpha.coreos.com';

export interface AnnotationNames {
  readonly managed: string;
  readonly backendType: string;
  readonly backendData: string;
  readonly backendV6Data: string;
  readonly publicIP: string;
  readonly publicIPv6: string;
  readonly publicIPOverwrite: string;
  readonly publicIPv6Overwrite: string;
}

export class AnnotationPrefixError extends FlannelError {
  readonly code = 'ANNOTATION_PREFIX';
  constructor(
    readonly prefix: string,
    reason: string,
  ) {
    super(`--kube-annotation-prefix ${JSON.stringify(prefix)}: ${reason}`);
  }
}

/** `--kube-annotation-prefix` → the annotation keys; a prefix without "/" gets one, one with a name part a "-". */
export function annotationNames(prefix: string = DEFAULT_ANNOTATION_PREFIX): AnnotationNames {
  const slashes = prefix.split('/').length - 1;
  if (slashes > 1) throw new AnnotationPrefixError(prefix, 'can contain at most one "/"');
  let p = slashes === 0 ? `${prefix}/` : prefix;
  if (!p.endsWith('/') && !p.endsWith('-')) p += '-';
  if (!/^(?:[a-z0-9_-]+\.)+[a-z0-9_-]+\/(?:[a-z0-9_-]+-)?$/.test(p)) throw new AnnotationPrefixError(prefix, 'must be a domain name, optionally followed by "/" and a name (fqdn/[a-z0-9_-]*)');
  return {
    managed: `${p}kube-subnet-manager`,
    backendType: `${p}backend-type`,
    backendData: `${p}backend-data`,
    backendV6Data: `${p}backend-v6-data`,
    publicIP: `${p}public-ip`,
    publicIPv6: `${p}public-ipv6`,
    publicIPOverwrite: `${p}public-ip-overwrite`,
    publicIPv6Overwrite: `${p}public-ipv6-overwrite`,
  };
}

/** The fields of a Node this module reads. */
export interface NodeView {
  readonly metadata: { readonly name: string; readonly annotations?: Readonly<Record<string, string>> };
  readonly spec: { readonly podCIDR?: string; readonly podCIDRs?: readonly string[] };
}

/** A Node whose subnet or annotations cannot be used; the peer is skipped (and our own node not leased). */
export class NodeLeaseError extends FlannelError {
  readonly code = 'NODE_LEASE';
  constructor(
    readonly node: string,
    readonly reason: string,
  ) {
    super(`node "${node}": ${reason}`);
  }
}

/** spec.podCIDRs (else spec.podCIDR) → at most one subnet per family; undefined when the node has none yet. */
export function podCidrsOf(n: NodeView): { v4?: Cidr; v6?: Cidr } | undefined {
  const name = n.metadata.name;
  const list = n.spec.podCIDRs && n.spec.podCIDRs.length > 0 ? n.spec.podCIDRs : n.spec.podCIDR ? [n.spec.podCIDR] : [];
  if (list.length === 0) return undefined;
  if (list.length > 2) throw new NodeLeaseError(name, `spec.podCIDRs ${JSON.stringify(list)}: at most one IPv4 and one IPv6 CIDR`);
  const out: { v4?: Cidr; v6?: Cidr } = {};
  for (const s of list) {
    let c: Cidr;
    try {
      c = networkOf(parseCidr(s));
    } catch {
      throw new NodeLeaseError(name, `pod CIDR ${JSON.stringify(s)} is not a CIDR`);
    }
    const fam = c.addr.family === 4 ? 'v4' : 'v6';
    if (out[fam]) throw new NodeLeaseError(name, `spec.podCIDRs ${JSON.stringify(list)}: two IPv${c.addr.family} CIDRs`);
    out[fam] = c;
  }
  return out;
}

/** The subnets this node's lease has under `cfg`: each enabled family's pod CIDR, inside the network. */
export function leaseSubnets(n: NodeView, cfg: NetworkConfig): { subnet?: Cidr; ipv6Subnet?: Cidr } | undefined {
  const cidrs = podCidrsOf(n);
  if (!cidrs) return undefined;
  const name = n.metadata.name;
  const pick = (net: Cidr | undefined, c: Cidr | undefined, family: 4 | 6): Cidr | undefined => {
    if (!net) return undefined;
    if (!c) throw new NodeLeaseError(name, `no IPv${family} pod CIDR (spec.podCIDRs ${JSON.stringify(n.spec.podCIDRs ?? [n.spec.podCIDR])}) while the network config has an IPv${family} network`);
    if (c.prefix < net.prefix || !contains(net, c.addr)) throw new NodeLeaseError(name, `pod CIDR ${formatCidr(c)} is not inside the network ${formatCidr(net)} of the net-conf.json`);
    return c;
  };
  const subnet = pick(cfg.v4?.network, cidrs.v4, 4);
  const ipv6Subnet = pick(cfg.v6?.network, cidrs.v6, 6);
  return { ...(subnet && { subnet }), ...(ipv6Subnet && { ipv6Subnet }) };
}

/** Whether flanneld manages this node: it annotated it (`kube-subnet-manager: "true"`). */
export const isManaged = (n: NodeView, a: AnnotationNames): boolean => n.metadata.annotations?.[a.managed] === 'true';

/**
 * A peer's lease from its Node, or undefined when flanneld does not manage it (yet). A node with an
 * unusable pod CIDR, public IP or backend data is a NodeLeaseError, for the caller to log and skip.
 */
export function nodeToLease(n: NodeView, a: AnnotationNames, cfg: NetworkConfig): Lease | undefined {
  if (!isManaged(n, a)) return undefined;
  const name = n.metadata.name;
  const ann = n.metadata.annotations ?? {};
  const subnets = leaseSubnets(n, cfg);
  if (!subnets) throw new NodeLeaseError(name, 'annotated by flanneld but has no spec.podCIDR');
  const ip = (key: string, family: 4 | 6): string => {
    const v = ann[key] ?? '';
    try {
      const addr = parseIp(v);
      if (addr.family === family) return formatIp(addr);
    } catch {
      // named below
    }
    throw new NodeLeaseError(name, `annotation ${key} ${JSON.stringify(v)} is not an IPv${family} address`);
  };
  const data = (key: string): unknown => {
    const v = ann[key];
    if (v === undefined || v === '' || v === 'null') return undefined;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      throw new NodeLeaseError(name, `annotation ${key} is not JSON: ${JSON.stringify(v.slice(0, 100))}`);
    }
  };
  const backendType = ann[a.backendType] || undefined;
  const v4 = cfg.v4 ? { publicIP: ip(a.publicIP, 4), backendData: data(a.backendData) } : undefined;
  const v6 = cfg.v6 ? { publicIPv6: ip(a.publicIPv6, 6), backendV6Data: data(a.backendV6Data) } : undefined;
  const attrs: LeaseAttrs = {
    ...(v4 && { publicIP: v4.publicIP }),
    ...(v6 && { publicIPv6: v6.publicIPv6 }),
    ...(backendType !== undefined && { backendType }),
    ...(v4?.backendData !== undefined && { backendData: v4.backendData }),
    ...(v6?.backendV6Data !== undefined && { backendV6Data: v6.backendV6Data }),
  };
  return { ...subnets, attrs, reservation: false };
}

/**
 * The annotations to merge into our own Node for `attrs` (the backend's, with this host's public
 * addresses), or undefined when the Node already carries them. A `public-ip-overwrite` a user set wins
 * over the detected address: that is what the peers then send to.
 */
export function ownAnnotations(n: NodeView, a: AnnotationNames, attrs: LeaseAttrs, cfg: NetworkConfig): Record<string, string> | undefined {
  const cur = n.metadata.annotations ?? {};
  const want: Record<string, string> = { [a.managed]: 'true', [a.backendType]: attrs.backendType ?? '' };
  if (cfg.v4 && attrs.publicIP) {
    want[a.backendData] = JSON.stringify(attrs.backendData ?? null);
    want[a.publicIP] = cur[a.publicIPOverwrite] || attrs.publicIP;
  }
  if (cfg.v6 && attrs.publicIPv6) {
    want[a.backendV6Data] = JSON.stringify(attrs.backendV6Data ?? null);
    want[a.publicIPv6] = cur[a.publicIPv6Overwrite] || attrs.publicIPv6;
  }
  const changed = Object.fromEntries(Object.entries(want).filter(([k, v]) => cur[k] !== v));
  return Object.keys(changed).length > 0 ? changed : undefined;
}

/** The NodeCondition flannel sets once the network is up, as a strategic-merge patch of nodes/status. */
export function networkUpPatch(now: Date): { status: { conditions: Record<string, string>[] } } {
  // metav1.Time is RFC 3339 to the second.
  const t = now.toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    status: {
      conditions: [{ type: 'NetworkUnavailable', status: 'False', reason: 'FlannelIsUp', message: 'Flannel is running on this node', lastTransitionTime: t, lastHeartbeatTime: t }],
    },
  };
}
