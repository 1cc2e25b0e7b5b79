// ServiceLB (k3s's answer to type LoadBalancer without a cloud), its pure part: a LoadBalancer service's
// ingress points are the InternalIP addresses of the nodes that serve it — every Ready node, or with
// externalTrafficPolicy Local only the Ready nodes holding a ready endpoint, since the others drop
// outside traffic. kube-proxy on each node then answers those addresses on the service ports.
//
// Node addresses rather than a MetalLB-style layer-2 pool: announcing pool addresses means answering ARP
// and NDP for them (raw sockets Node does not have), while node addresses already route on the underlay
// and need nothing from the operator; the cost is that the service ports are taken on the node addresses.

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export interface LbIngress {
  readonly ip: string;
  readonly ipMode: 'VIP';
}

/** A service this controller provides for: type LoadBalancer without a loadBalancerClass (that names another implementation). */
export function isOurs(svc: Obj): boolean {
  const spec = isObj(svc.spec) ? svc.spec : {};
  return spec.type === 'LoadBalancer' && (spec.loadBalancerClass === undefined || spec.loadBalancerClass === null || spec.loadBalancerClass === '');
}

/** A Ready node's InternalIP addresses of the service's families (IPv4 unless ipFamilies says otherwise). */
function nodeAddresses(node: Obj, families: ReadonlySet<string>): string[] {
  const status = isObj(node.status) ? node.status : {};
  const ready = arr(status.conditions).some((c) => isObj(c) && c.type === 'Ready' && c.status === 'True');
  const spec = isObj(node.spec) ? node.spec : {};
  if (!ready || spec.unschedulable === true) return [];
  return arr(status.addresses)
    .filter((a): a is Obj => isObj(a) && a.type === 'InternalIP' && typeof a.address === 'string')
    .map((a) => a.address as string)
    .filter((ip) => families.has(ip.includes(':') ? 'IPv6' : 'IPv4'));
}

/** The nodes holding a ready endpoint of the service (Endpoints' addresses[].nodeName). */
export function endpointNodes(endpoints: Obj | undefined): Set<string> {
  const out = new Set<string>();
  for (const s of arr(endpoints?.subsets)) for (const a of arr(isObj(s) ? s.addresses : undefined)) if (isObj(a) && typeof a.nodeName === 'string') out.add(a.nodeName);
  return out;
}

/** The ingress points the service should have, sorted; undefined for a service that is not ours. */
export function desiredIngress(svc: Obj, nodes: readonly Obj[], endpoints: Obj | undefined): LbIngress[] | undefined {
  if (!isOurs(svc)) return undefined;
  const spec = isObj(svc.spec) ? svc.spec : {};
  const fam = arr(spec.ipFamilies).filter((f): f is string => typeof f === 'string');
  const families = new Set(fam.length ? fam : ['IPv4']);
  const only = spec.externalTrafficPolicy === 'Local' ? endpointNodes(endpoints) : undefined;
  const ips = new Set<string>();
  for (const n of nodes) {
    const name = isObj(n.metadata) ? n.metadata.name : undefined;
    if (only && (typeof name !== 'string' || !only.has(name))) continue;
    for (const ip of nodeAddresses(n, families)) ips.add(ip);
  }
  return [...ips].sort(compareIps).map((ip) => ({ ip, ipMode: 'VIP' }));
}

/** The ingress the service's status holds now (ip-only view, for comparison). */
export function currentIngress(svc: Obj): string[] {
  const status = isObj(svc.status) ? svc.status : {};
  const lb = isObj(status.loadBalancer) ? status.loadBalancer : {};
  return arr(lb.ingress).map((i) => (isObj(i) && typeof i.ip === 'string' ? i.ip : ''));
}

export const sameIngress = (svc: Obj, want: readonly LbIngress[]): boolean => {
  const cur = currentIngress(svc);
  return cur.length === want.length && cur.every((ip, i) => ip === want[i]!.ip);
};

function compareIps(a: string, b: string): number {
  const v4 = (s: string) => (s.includes(':') ? 1 : 0);
  if (v4(a) !== v4(b)) return v4(a) - v4(b);
  if (!a.includes(':')) {
    const n = (s: string) => s.split('.').reduce((x, p) => x * 256 + Number(p), 0);
    return n(a) - n(b);
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
