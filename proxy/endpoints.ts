// What the endpoints maintainer writes for a Service: its pods (same namespace, labels matching the
// selector, with an IP, not finished), ready ones under `addresses` and the others under
// `notReadyAddresses`, grouped into subsets by their resolved ports (a named targetPort is looked up
// among each pod's container ports, so pods of different versions may serve it on different numbers).
// Pure.
import type { EndpointAddress, EndpointPort, Endpoints, Pod, Service, ServicePort } from '../cluster/index.js';

export function selectorOf(svc: Service): Record<string, string> | undefined {
  const sel = svc.spec?.selector;
  if (!sel || typeof sel !== 'object' || Object.keys(sel).length === 0) return undefined;
  return sel;
}

export function selectorMatches(sel: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>> | undefined): boolean {
  for (const [k, v] of Object.entries(sel)) if (labels?.[k] !== v) return false;
  return true;
}

/** The pod's Ready condition is True. */
export function podReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** A pod that can be an endpoint at all (ready or not): it has an IP and has not finished. */
export function podEligible(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return typeof pod.status?.podIP === 'string' && pod.status.podIP !== '' && phase !== 'Succeeded' && phase !== 'Failed';
}

/** The pod's port for a service port; undefined when a named targetPort is not among its container ports. */
export function resolveTargetPort(pod: Pod, sp: ServicePort): number | undefined {
  const tp = sp.targetPort;
  if (tp === undefined || tp === '') return sp.port;
  if (typeof tp === 'number') return tp;
  if (/^\d+$/.test(tp)) return Number(tp);
  const proto = sp.protocol ?? 'TCP';
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === tp && (p.protocol ?? 'TCP') === proto) return p.containerPort;
  }
  return undefined;
}

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly pod: Pod;
}

/** The Endpoints object for a service with a selector, from the candidate pods (any namespace; filtered here). */
export function computeEndpoints(namespace: string, name: string, svc: Service, pods: Iterable<PodRef>): Endpoints & { subsets: NonNullable<Endpoints['subsets']> } {
  const sel = selectorOf(svc) ?? {};
  const ports = svc.spec?.ports ?? [];
  const groups = new Map<string, { ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }>();
  for (const { namespace: ns, name: podName, pod } of pods) {
    if (ns !== namespace || !selectorMatches(sel, pod.metadata?.labels) || !podEligible(pod)) continue;
    const eps: EndpointPort[] = [];
    for (const sp of ports) {
      const port = resolveTargetPort(pod, sp);
      if (port === undefined) continue;
      eps.push({ ...(sp.name ? { name: sp.name } : {}), port, protocol: sp.protocol ?? 'TCP' });
    }
    if (eps.length === 0 && ports.length > 0) continue;
    const gk = JSON.stringify(eps);
    let g = groups.get(gk);
    if (!g) groups.set(gk, (g = { ports: eps, ready: [], notReady: [] }));
    const addr: EndpointAddress = {
      ip: pod.status!.podIP!,
      ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
      targetRef: { kind: 'Pod', namespace: ns, name: podName, ...(pod.metadata?.uid ? { uid: pod.metadata.uid } : {}) },
    };
    (podReady(pod) && !pod.metadata?.deletionTimestamp ? g.ready : g.notReady).push(addr);
  }
  const byIp = (a: EndpointAddress, b: EndpointAddress) => ipNum(a.ip) - ipNum(b.ip) || (a.targetRef?.name ?? '').localeCompare(b.targetRef?.name ?? '');
  const subsets = [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, g]) => ({
      ...(g.ready.length ? { addresses: g.ready.sort(byIp) } : {}),
      ...(g.notReady.length ? { notReadyAddresses: g.notReady.sort(byIp) } : {}),
      ports: g.ports,
    }));
  return { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace }, subsets };
}

/** Two Endpoints objects carry the same addresses and ports (metadata aside). */
export function sameEndpoints(a: Endpoints | undefined, b: Endpoints | undefined): boolean {
  return JSON.stringify(a?.subsets ?? null) === JSON.stringify(b?.subsets ?? null);
}

function ipNum(ip: string): number {
  return ip.split('.').reduce((n, p) => n * 256 + Number(p), 0);
}
