// The node lifecycle controller's decisions, pure: when a node's heartbeat is stale (its Ready
// condition's lastHeartbeatTime and its kube-node-lease Lease both unchanged, by this controller's own
// clock, for longer than the grace period: clock skew between nodes does not matter), the conditions it
// then gets, the taints its conditions call for (TaintNodesByCondition's NoSchedule ones and the
// NoExecute ones the taint manager acts on), the disruption state of each zone and the tainting rate
// it allows, and, for the taint manager, how long a pod's tolerations let it stay.
import type { Node, NodeCondition, Pod } from '../../cluster/index.js';

export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
/** Condition (status True) → the NoSchedule taint TaintNodesByCondition puts on. */
const CONDITION_TAINTS: Readonly<Record<string, string>> = {
  MemoryPressure: 'node.kubernetes.io/memory-pressure',
  DiskPressure: 'node.kubernetes.io/disk-pressure',
  PIDPressure: 'node.kubernetes.io/pid-pressure',
  NetworkUnavailable: 'node.kubernetes.io/network-unavailable',
};
/** The taint keys this controller owns: it adds and removes them, others are left alone. */
const OWNED = new Set([TAINT_NOT_READY, TAINT_UNREACHABLE, TAINT_UNSCHEDULABLE, ...Object.values(CONDITION_TAINTS)]);

export interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' | string;
  readonly timeAdded?: string;
}

export interface Toleration {
  readonly key?: string;
  readonly operator?: 'Exists' | 'Equal' | string;
  readonly value?: string;
  readonly effect?: string;
  readonly tolerationSeconds?: number;
}

export const taintsOf = (n: Node): Taint[] => (Array.isArray(n.spec?.taints) ? (n.spec.taints as Taint[]) : []);
export const tolerationsOf = (p: Pod): Toleration[] => (Array.isArray(p.spec?.tolerations) ? (p.spec.tolerations as Toleration[]) : []);
export const readyOf = (n: Node): NodeCondition | undefined => n.status?.conditions?.find((c) => c.type === 'Ready');

/** What the controller last saw of a node's liveness, and when (its own clock). */
export interface NodeHealth {
  readonly heartbeat: string | undefined;
  readonly renew: string | undefined;
  /** When the heartbeat or the lease last changed, as this controller saw it. */
  readonly probeMs: number;
}

/** The health after one look at the node and its lease: the probe time moves only when either changed. */
export function observeHealth(prev: NodeHealth | undefined, node: Node, leaseRenew: string | undefined, nowMs: number): NodeHealth {
  const heartbeat = readyOf(node)?.lastHeartbeatTime;
  if (!prev) return { heartbeat, renew: leaseRenew, probeMs: nowMs };
  if (prev.heartbeat !== heartbeat || prev.renew !== leaseRenew) return { heartbeat, renew: leaseRenew, probeMs: nowMs };
  return prev;
}

/**
 * The conditions of a node whose status is stale (undefined when it is fresh or already marked): every
 * condition it posted becomes Unknown ("Kubelet stopped posting node status."); a node that never
 * posted Ready gets Ready=Unknown ("Kubelet never posted node status.") after the startup grace.
 */
export function staleConditions(node: Node, h: NodeHealth, nowMs: number, graceMs: number, startupGraceMs: number, now: string): NodeCondition[] | undefined {
  const conds = node.status?.conditions ?? [];
  const ready = readyOf(node);
  if (nowMs - h.probeMs <= (ready ? graceMs : startupGraceMs)) return undefined;
  if (!ready) {
    const created = node.metadata?.creationTimestamp;
    return [...conds, { type: 'Ready', status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', ...(created && { lastHeartbeatTime: created }), lastTransitionTime: now }];
  }
  if (conds.every((c) => c.status === 'Unknown')) return undefined;
  return conds.map((c) => (c.status === 'Unknown' ? c : { ...c, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: now }));
}

/** The NoExecute taint a node's Ready condition calls for, if any. */
export function noExecuteTaintFor(node: Node): string | undefined {
  const s = readyOf(node)?.status;
  return s === 'False' ? TAINT_NOT_READY : s === 'Unknown' ? TAINT_UNREACHABLE : undefined;
}

/** The NoSchedule taints its conditions and spec.unschedulable call for (TaintNodesByCondition). */
export function noScheduleTaintsFor(node: Node): string[] {
  const out: string[] = [];
  const ready = readyOf(node)?.status;
  if (ready === 'False') out.push(TAINT_NOT_READY);
  if (ready === 'Unknown') out.push(TAINT_UNREACHABLE);
  for (const c of node.status?.conditions ?? []) if (c.status === 'True' && CONDITION_TAINTS[c.type]) out.push(CONDITION_TAINTS[c.type]!);
  if (node.spec?.unschedulable === true) out.push(TAINT_UNSCHEDULABLE);
  return out;
}

/**
 * The node's taints after this controller's pass: its own NoSchedule taints as the conditions say, and
 * its NoExecute taint set to `noExecute` (undefined: none; 'keep': as they are, when the rate limiter
 * says not yet). Taints of others are kept; a kept taint keeps its timeAdded. Undefined when unchanged.
 */
export function nextTaints(node: Node, noExecute: string | undefined | 'keep', now: string): Taint[] | undefined {
  const cur = taintsOf(node);
  const want: Taint[] = cur.filter((t) => !OWNED.has(t.key) || (noExecute === 'keep' && t.effect === 'NoExecute'));
  for (const key of noScheduleTaintsFor(node)) want.push(cur.find((t) => t.key === key && t.effect === 'NoSchedule') ?? { key, effect: 'NoSchedule' });
  if (noExecute !== undefined && noExecute !== 'keep') want.push(cur.find((t) => t.key === noExecute && t.effect === 'NoExecute') ?? { key: noExecute, effect: 'NoExecute', timeAdded: now });
  const sig = (ts: readonly Taint[]) => JSON.stringify([...ts].map((t) => `${t.key}:${t.effect}:${t.value ?? ''}`).sort());
  return sig(want) === sig(cur) ? undefined : want;
}

export type ZoneState = 'Normal' | 'PartialDisruption' | 'FullDisruption';

/** The zone a node is in (region and zone labels), as Kubernetes keys it. */
export function zoneOf(node: Node): string {
  const l = node.metadata?.labels ?? {};
  const region = l['topology.kubernetes.io/region'] ?? l['failure-domain.beta.kubernetes.io/region'] ?? '';
  const zone = l['topology.kubernetes.io/zone'] ?? l['failure-domain.beta.kubernetes.io/zone'] ?? '';
  return region || zone ? `${region}:\u0000:${zone}` : '';
}

/** ComputeZoneState: no Ready node is a full disruption; more than 2 and at least the threshold not Ready, a partial one. */
export function zoneState(nodes: readonly Node[], unhealthyThreshold: number): ZoneState {
  const notReady = nodes.filter((n) => readyOf(n)?.status !== 'True').length;
  const ready = nodes.length - notReady;
  if (ready === 0 && notReady > 0) return 'FullDisruption';
  if (notReady > 2 && notReady / nodes.length >= unhealthyThreshold) return 'PartialDisruption';
  return 'Normal';
}

export interface RateConfig {
  readonly evictionRate: number;
  readonly secondaryEvictionRate: number;
  readonly largeClusterThreshold: number;
}

/**
 * The tainting rate (nodes per second) of each zone. Every zone fully disrupted means the controller
 * itself is probably cut off (the "master disruption" mode): nothing is tainted, 0 everywhere.
 */
export function zoneRates(states: ReadonlyMap<string, { state: ZoneState; size: number }>, c: RateConfig): Map<string, number> {
  const all = [...states.values()];
  const allDown = all.length > 0 && all.every((z) => z.state === 'FullDisruption');
  const out = new Map<string, number>();
  for (const [zone, z] of states) {
    if (allDown) out.set(zone, 0);
    else if (z.state === 'PartialDisruption') out.set(zone, z.size > c.largeClusterThreshold ? c.secondaryEvictionRate : 0);
    else out.set(zone, c.evictionRate);
  }
  return out;
}

/** A token bucket with a burst of one (the eviction limiter); qps 0 never admits. */
export class RateLimiter {
  private tokens = 1;
  private last: number;

  constructor(
    private qps: number,
    now: number,
  ) {
    this.last = now;
  }

  setRate(qps: number, now: number): void {
    if (qps === this.qps) return;
    this.refill(now);
    this.qps = qps;
  }

  private refill(now: number): void {
    this.tokens = Math.min(1, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
  }

  tryAccept(now: number): boolean {
    if (this.qps <= 0) return false;
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** ToleratesTaint: the effect (empty: any), the key (empty with Exists: any) and the value (Equal) match. */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  const op = t.operator ?? 'Equal';
  if (!t.key) return op === 'Exists';
  if (t.key !== taint.key) return false;
  return op === 'Exists' || (op === 'Equal' && (t.value ?? '') === (taint.value ?? ''));
}

/**
 * How long a pod may stay on a node with these taints (ms): undefined when it has no NoExecute taint
 * (nothing to do), 0 when a NoExecute taint is not tolerated, Infinity when every tolerating toleration
 * is forever, else the least tolerationSeconds of the tolerations used (the first match per taint).
 */
export function tolerationTimeMs(tolerations: readonly Toleration[], taints: readonly Taint[]): number | undefined {
  const ne = taints.filter((t) => t.effect === 'NoExecute');
  if (ne.length === 0) return undefined;
  let min = Infinity;
  for (const taint of ne) {
    const used = tolerations.find((t) => tolerates(t, taint));
    if (!used) return 0;
    if (typeof used.tolerationSeconds === 'number') min = Math.min(min, Math.max(0, used.tolerationSeconds) * 1000);
  }
  return min;
}

/** The pod's Ready condition set False (MarkPodsNotReady); undefined when it is not True now. */
export function podNotReadyConditions(pod: Pod, now: string): Pod['status'] | undefined {
  const conds = pod.status?.conditions ?? [];
  if (!conds.some((c) => c.type === 'Ready' && c.status === 'True')) return undefined;
  return { ...pod.status, conditions: conds.map((c) => (c.type === 'Ready' ? { ...c, status: 'False' as const, lastTransitionTime: now } : c)) };
}
