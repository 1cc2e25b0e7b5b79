// What the endpoints controller writes for a Service with a selector, pure: the pods of its namespace
// whose labels match, with an IP and not finished (a terminating pod only with
// publishNotReadyAddresses), ready ones under `addresses` and the others under `notReadyAddresses`, each
// service port resolved per pod (a named targetPort is looked up among the pod's container ports by
// name and protocol, so pods of two versions may serve it on different numbers), then repacked as
// Kubernetes' RepackSubsets does: one subset per distinct set of ports, addresses and ports sorted, so
// that equal inputs give equal objects and a rewrite is only done when something changed.
import type { EndpointAddress, EndpointPort, Endpoints, Pod, Service, ServicePort } from '../../cluster/index.js';

/** The annotation with the time of the change that the last write of an Endpoints reflects. */
export const TRIGGER_TIME_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time';
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';

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

/** ShouldPodBeInEndpoints: it has an IP, has not finished, and is not terminating (unless those are wanted too). */
export function podEligible(pod: Pod, includeTerminating = false): boolean {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  if (typeof pod.status?.podIP !== 'string' || pod.status.podIP === '') return false;
  return includeTerminating || !pod.metadata?.deletionTimestamp;
}

/** FindPort: the pod's port for a service port; undefined when a named targetPort is not among its container ports. */
export function resolveTargetPort(pod: Pod, sp: ServicePort): number | undefined {
  const tp = sp.targetPort;
  if (tp === undefined || tp === '' || tp === 0) return sp.port;
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

type Subset = NonNullable<Endpoints['subsets']>[number];

const isV6 = (ip: string): boolean => ip.includes(':');

/**
 * The service's families, as Kubernetes' endpoints controller reads them: spec.ipFamilies, else (an object
 * written before families were defaulted) the ClusterIP's family, else for a headless one the pod's.
 */
export function serviceFamilies(svc: Service, pod: Pod): ('IPv4' | 'IPv6')[] {
  const fams = (svc.spec?.ipFamilies as unknown[] | undefined)?.filter((f): f is 'IPv4' | 'IPv6' => f === 'IPv4' || f === 'IPv6') ?? [];
  if (fams.length) return fams;
  const ip = svc.spec?.clusterIP;
  const probe = ip && ip !== 'None' ? ip : (pod.status?.podIP ?? '');
  return [isV6(probe) ? 'IPv6' : 'IPv4'];
}

/**
 * The pod's addresses for the service: one per service family the pod has an IP of (status.podIPs, else
 * status.podIP). Kubernetes' Endpoints hold only the primary family, its EndpointSlices each family; this
 * cluster serves no EndpointSlices, so a dual-stack service's Endpoints carry both for kube-proxy.
 */
export function podIpsFor(svc: Service, pod: Pod): string[] {
  const ips = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip) => typeof ip === 'string' && ip !== '');
  if (ips.length === 0 && pod.status?.podIP) ips.push(pod.status.podIP);
  const out: string[] = [];
  for (const f of serviceFamilies(svc, pod)) {
    const ip = ips.find((i) => isV6(i) === (f === 'IPv6'));
    if (ip !== undefined) out.push(ip);
  }
  return out;
}

function addressOf(svc: Service, ns: string, name: string, pod: Pod, ip: string): EndpointAddress & { hostname?: string } {
  const spec = pod.spec as { hostname?: unknown; subdomain?: unknown } | undefined;
  const hostname = typeof spec?.hostname === 'string' && spec.hostname !== '' && spec.subdomain === svc.metadata?.name ? spec.hostname : undefined;
  return {
    ip,
    ...(hostname && { hostname }),
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    targetRef: { kind: 'Pod', namespace: ns, name, ...(pod.metadata?.uid ? { uid: pod.metadata.uid } : {}) },
  };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const addrKey = (a: EndpointAddress): string => `${a.ip}\u0000${a.targetRef?.uid ?? a.targetRef?.name ?? ''}`;
const portKey = (p: EndpointPort): string => `${p.name ?? ''}\u0000${p.protocol ?? 'TCP'}\u0000${p.port}`;
const lessAddr = (a: EndpointAddress, b: EndpointAddress): number => cmp(a.ip, b.ip) || cmp(a.targetRef?.uid ?? '', b.targetRef?.uid ?? '');
const lessPort = (a: EndpointPort, b: EndpointPort): number => cmp(a.name ?? '', b.name ?? '') || a.port - b.port || cmp(a.protocol ?? 'TCP', b.protocol ?? 'TCP');

/**
 * RepackSubsets: every (address, port) pair the subsets carry, regrouped so that each subset holds the
 * addresses that share one set of ports; ready and not-ready addresses kept apart. Sorted: addresses by
 * IP then pod UID, ports by name then number, subsets by their first address.
 */
export function repackSubsets(subsets: readonly Subset[]): Subset[] {
  const ports = new Map<string, EndpointPort>();
  // address key → [the address, ready?, its port keys]
  const addrs = new Map<string, { a: EndpointAddress; ready: boolean; ports: Set<string> }>();
  for (const s of subsets) {
    const pks = (s.ports ?? []).map((p) => (ports.set(portKey(p), p), portKey(p)));
    for (const [list, ready] of [
      [s.addresses ?? [], true],
      [s.notReadyAddresses ?? [], false],
    ] as const) {
      for (const a of list) {
        // The same address both ready and not ready for different ports is two entries.
        const k = `${ready ? 'r' : 'n'}${addrKey(a)}`;
        let e = addrs.get(k);
        if (!e) addrs.set(k, (e = { a, ready, ports: new Set() }));
        for (const pk of pks) e.ports.add(pk);
      }
    }
  }
  const groups = new Map<string, { ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }>();
  for (const e of addrs.values()) {
    const pks = [...e.ports].sort();
    const gk = pks.join('\u0001');
    let g = groups.get(gk);
    if (!g) groups.set(gk, (g = { ports: pks.map((k) => ports.get(k)!).sort(lessPort), ready: [], notReady: [] }));
    (e.ready ? g.ready : g.notReady).push(e.a);
  }
  const out = [...groups.values()].map((g) => ({
    ...(g.ready.length ? { addresses: g.ready.sort(lessAddr) } : {}),
    ...(g.notReady.length ? { notReadyAddresses: g.notReady.sort(lessAddr) } : {}),
    ...(g.ports.length ? { ports: g.ports } : {}),
  }));
  const first = (s: Subset): EndpointAddress => (s.addresses ?? s.notReadyAddresses ?? [])[0]!;
  return out.sort((a, b) => lessAddr(first(a), first(b)) || cmp(JSON.stringify(a.ports ?? []), JSON.stringify(b.ports ?? [])));
}

/** The subsets for a service with a selector, from the candidate pods (any namespace; filtered here). */
export function endpointSubsets(namespace: string, svc: Service, pods: Iterable<PodRef>): Subset[] {
  const sel = selectorOf(svc);
  if (!sel) return [];
  const tolerateUnready = svc.spec?.publishNotReadyAddresses === true;
  const ports = svc.spec?.ports ?? [];
  const headless = svc.spec?.clusterIP === 'None';
  const raw: Subset[] = [];
  for (const { namespace: ns, name, pod } of pods) {
    if (ns !== namespace || !selectorMatches(sel, pod.metadata?.labels) || !podEligible(pod, tolerateUnready)) continue;
    const addrs = podIpsFor(svc, pod).map((ip) => addressOf(svc, ns, name, pod, ip));
    if (addrs.length === 0) continue;
    const ready = tolerateUnready || podReady(pod);
    const entry = (p: EndpointPort[]): Subset => (ready ? { addresses: addrs, ports: p } : { notReadyAddresses: addrs, ports: p });
    // A headless service without ports still lists its pods' addresses.
    if (ports.length === 0) {
      if (headless) raw.push(entry([]));
      continue;
    }
    for (const sp of ports) {
      const port = resolveTargetPort(pod, sp);
      if (port === undefined) continue;
      raw.push(entry([{ ...(sp.name ? { name: sp.name } : {}), port, protocol: sp.protocol ?? 'TCP' }]));
    }
  }
  return repackSubsets(raw);
}

/**
 * The whole Endpoints object to store for a service, over the current one (`cur`, whose other labels
 * and annotations are kept): subsets, the service's labels (and the headless label), and the trigger
 * time annotation when one is known.
 */
export function desiredEndpoints(namespace: string, name: string, svc: Service, pods: Iterable<PodRef>, cur: Endpoints | undefined, triggerTime: string | undefined): Endpoints {
  const subsets = endpointSubsets(namespace, svc, pods);
  const labels: Record<string, string> = { ...(svc.metadata?.labels ?? {}) };
  if (svc.spec?.clusterIP === 'None') labels[HEADLESS_LABEL] = '';
  else delete labels[HEADLESS_LABEL];
  const annotations: Record<string, string> = { ...(cur?.metadata?.annotations ?? {}) };
  if (triggerTime) annotations[TRIGGER_TIME_ANNOTATION] = triggerTime;
  else delete annotations[TRIGGER_TIME_ANNOTATION];
  const meta = {
    ...(cur?.metadata ?? {}),
    name,
    namespace,
    ...(Object.keys(labels).length ? { labels } : {}),
    ...(Object.keys(annotations).length ? { annotations } : {}),
  };
  if (!Object.keys(labels).length) delete (meta as { labels?: unknown }).labels;
  if (!Object.keys(annotations).length) delete (meta as { annotations?: unknown }).annotations;
  return { apiVersion: 'v1', kind: 'Endpoints', metadata: meta, ...(subsets.length ? { subsets } : {}) };
}

/** The write is needed: the subsets or the labels differ (a trigger time alone is never a reason). */
export function endpointsChanged(cur: Endpoints | undefined, want: Endpoints): boolean {
  if (!cur) return true;
  const norm = (s: Endpoints['subsets']) => JSON.stringify(repackSubsets(s ?? []));
  return norm(cur.subsets) !== norm(want.subsets) || JSON.stringify(cur.metadata?.labels ?? {}) !== JSON.stringify(want.metadata?.labels ?? {});
}

/** The pod's trigger time: when its Ready condition last changed. */
export function podTriggerTime(pod: Pod): string | undefined {
  return pod.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime ?? undefined;
}

/**
 * The trigger time tracker: per service, the trigger times of its pods and of the service as last
 * synced; the annotation is the earliest trigger time among what changed since (a new pod, a pod whose
 * Ready changed, a new service), as Kubernetes' TriggerTimeTracker computes it. A pod that only went
 * away changes nothing it can date, so the annotation is then left out.
 */
export class TriggerTimeTracker {
  private readonly state = new Map<string, { svc: string | undefined; pods: Map<string, string | undefined> }>();

  compute(key: string, svc: Service, pods: readonly PodRef[]): string | undefined {
    const last = this.state.get(key);
    const svcTime = svc.metadata?.creationTimestamp;
    const times: string[] = [];
    if (!last || last.svc !== svcTime) if (svcTime) times.push(svcTime);
    const next = new Map<string, string | undefined>();
    for (const p of pods) {
      const k = `${p.namespace}/${p.name}`;
      const t = podTriggerTime(p.pod);
      next.set(k, t);
      if (t && (!last || !last.pods.has(k) || last.pods.get(k) !== t)) times.push(t);
    }
    this.state.set(key, { svc: svcTime, pods: next });
    return times.length ? times.reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b)) : undefined;
  }

  forget(key: string): void {
    this.state.delete(key);
  }
}
