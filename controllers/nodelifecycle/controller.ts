// The node lifecycle controller: every --node-monitor-period it looks at each node and its Lease in
// kube-node-lease; a node whose heartbeat went stale gets its conditions set Unknown (its pods' Ready
// set False, so the endpoints drop them), each node gets the taints its conditions call for (NoExecute
// ones rate-limited per zone, as its disruption state allows), and the taint manager evicts the pods
// of NoExecute-tainted nodes once their tolerations run out. An evicted pod of a dead node stays
// Terminating (its kubelet is not there to finish it) until the node returns or is deleted; its
// controller replaces it at once, as it does any pod being deleted.
import { keys, type Node, parseJsonObject, parsePodObject, type Pod, REGISTRY } from '../../cluster/index.js';
import { errorMessage, type Logger, sleep } from '../../common/index.js';
import { type Cache, cacheOf, parseNode, type ControllerDeps, isStatus, recordEvent, rfc3339, waitSynced } from '../runtime.js';
import {
  type NodeHealth,
  nextTaints,
  noExecuteTaintFor,
  observeHealth,
  podNotReadyConditions,
  RateLimiter,
  readyOf,
  staleConditions,
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  taintsOf,
  tolerationsOf,
  tolerationTimeMs,
  zoneOf,
  zoneRates,
  zoneState,
  type ZoneState,
} from './logic.js';

const enc = encodeURIComponent;
export const NODE_LEASE_PREFIX = `${REGISTRY}/leases/kube-node-lease/`;

export interface NodeLifecycleOptions {
  readonly monitorPeriodMs: number;
  readonly gracePeriodMs: number;
  readonly startupGracePeriodMs: number;
  readonly evictionRate: number;
  readonly secondaryEvictionRate: number;
  readonly unhealthyZoneThreshold: number;
  readonly largeClusterThreshold: number;
  /** How often the taint manager looks at the pods of tainted nodes (their tolerations are in seconds). */
  readonly taintManagerPeriodMs?: number;
  readonly now?: () => number;
}

type Obj = Record<string, unknown>;

export class NodeLifecycleController {
  private readonly nodes: Cache<Node>;
  private readonly leases: Cache<Obj>;
  private readonly pods: Cache<Pod>;
  private readonly health = new Map<string, NodeHealth>();
  private readonly limiters = new Map<string, RateLimiter>();
  private readonly zones = new Map<string, ZoneState>();
  /** The taint manager's timers: pod uid → the NoExecute taints it was found under, and since when. */
  private readonly tainted = new Map<string, { sig: string; since: number; ms: number }>();
  private readonly evicted = new Set<string>();
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(
    private readonly d: ControllerDeps,
    private readonly o: NodeLifecycleOptions,
  ) {
    this.log = d.log.child({ controller: 'nodelifecycle' });
    this.now = o.now ?? Date.now;
    const nothing = (): void => undefined;
    this.nodes = cacheOf(d.store, keys.nodes(), parseNode, this.log, nothing);
    this.leases = cacheOf(d.store, NODE_LEASE_PREFIX, parseJsonObject, this.log, nothing);
    this.pods = cacheOf(d.store, keys.pods(), parsePodObject, this.log, nothing);
  }

  async run(signal: AbortSignal): Promise<void> {
    const caches = [this.nodes, this.leases, this.pods];
    const following = caches.map((c) => c.run(signal));
    const loops = async (): Promise<void> => {
      if (!(await waitSynced(caches, signal))) return;
      this.log.info({ nodes: this.nodes.items.size, gracePeriodMs: this.o.gracePeriodMs }, 'caches synced');
      await Promise.all([this.every(this.o.monitorPeriodMs, () => this.monitor(signal), signal), this.every(this.o.taintManagerPeriodMs ?? 1_000, () => this.taintManager(signal), signal)]);
    };
    await Promise.all([...following, loops()]);
  }

  /** `fn` now and then every `ms` until the signal aborts (bounded by it); a failure is logged and retried next time. */
  private async every(ms: number, fn: () => Promise<void>, signal: AbortSignal): Promise<void> {
    do {
      try {
        await fn();
      } catch (e) {
        if (!signal.aborted) this.log.warn({ err: errorMessage(e) }, 'node lifecycle pass failed');
      }
    } while (await sleep(ms, signal));
  }

  private renewOf(name: string): string | undefined {
    const spec = this.leases.items.get(`${NODE_LEASE_PREFIX}${name}`)?.obj.spec as { renewTime?: unknown } | undefined;
    return typeof spec?.renewTime === 'string' ? spec.renewTime : undefined;
  }

  /** One monitorNodeHealth pass: conditions, then the zones' states, then the taints. */
  async monitor(signal: AbortSignal): Promise<void> {
    const nowMs = this.now();
    const now = rfc3339(nowMs);
    const seen = new Set<string>();
    // The nodes as this pass leaves them (a status written here is what the taints go by).
    const current: { node: Node; rv: string }[] = [];
    for (const [key, s] of this.nodes.items) {
      const name = s.obj.metadata?.name ?? key.slice(keys.nodes().length);
      seen.add(name);
      current.push({ node: s.obj, rv: s.modRevision });
      const h = observeHealth(this.health.get(name), s.obj, this.renewOf(name), nowMs);
      this.health.set(name, h);
      const conds = staleConditions(s.obj, h, nowMs, this.o.gracePeriodMs, this.o.startupGracePeriodMs, now);
      if (!conds) continue;
      const wasReady = readyOf(s.obj)?.status === 'True';
      const marked: Node = { ...s.obj, status: { ...s.obj.status, conditions: conds } };
      try {
        const res = (await this.d.client.request('PUT', `/api/v1/nodes/${enc(name)}/status`, { body: { ...marked, metadata: { ...s.obj.metadata, resourceVersion: s.modRevision } }, attempts: 1, signal })) as { metadata?: { resourceVersion?: string } };
        current[current.length - 1] = { node: marked, rv: res.metadata?.resourceVersion ?? s.modRevision };
      } catch (e) {
        // A heartbeat that raced this write: the next pass sees it.
        if (isStatus(e, 409, 404)) continue;
        throw e;
      }
      this.log.warn({ node: name, graceMs: this.o.gracePeriodMs }, 'node stopped posting status; marked Unknown');
      if (wasReady) {
        void recordEvent(this.d.client, this.log, 'node-controller', { kind: 'Node', apiVersion: 'v1', name, uid: s.obj.metadata?.uid ?? name }, 'Normal', 'NodeNotReady', `Node ${name} status is now: NodeNotReady`, signal);
        await this.markPodsNotReady(name, now, signal);
      }
    }
    for (const n of [...this.health.keys()]) if (!seen.has(n)) this.health.delete(n);
    this.updateZones(nowMs);
    for (const c of current) await this.taint(c.node, c.rv, now, nowMs, signal);
  }

  private updateZones(nowMs: number): void {
    const byZone = new Map<string, Node[]>();
    for (const s of this.nodes.items.values()) {
      const z = zoneOf(s.obj);
      const list = byZone.get(z);
      if (list) list.push(s.obj);
      else byZone.set(z, [s.obj]);
    }
    const states = new Map([...byZone].map(([z, ns]) => [z, { state: zoneState(ns, this.o.unhealthyZoneThreshold), size: ns.length }] as const));
    const rates = zoneRates(states, { evictionRate: this.o.evictionRate, secondaryEvictionRate: this.o.secondaryEvictionRate, largeClusterThreshold: this.o.largeClusterThreshold });
    for (const [z, { state }] of states) {
      if (this.zones.get(z) !== state) this.log.info({ zone: z, state }, 'zone state');
      this.zones.set(z, state);
      const l = this.limiters.get(z);
      if (l) l.setRate(rates.get(z) ?? 0, nowMs);
      else this.limiters.set(z, new RateLimiter(rates.get(z) ?? 0, nowMs));
    }
  }

  private async taint(node: Node, rv: string, now: string, nowMs: number, signal: AbortSignal): Promise<void> {
    const name = node.metadata?.name ?? '';
    const want = noExecuteTaintFor(node);
    const have = taintsOf(node).find((t) => t.effect === 'NoExecute' && (t.key === TAINT_NOT_READY || t.key === TAINT_UNREACHABLE))?.key;
    let ne: string | undefined | 'keep' = want;
    // Adding (or swapping) a NoExecute taint goes through the zone's limiter; removing one never waits.
    if (want !== undefined && want !== have && !this.limiters.get(zoneOf(node))?.tryAccept(nowMs)) ne = 'keep';
    const taints = nextTaints(node, ne, now);
    if (!taints) return;
    try {
      await this.d.client.request('PATCH', `/api/v1/nodes/${enc(name)}`, { body: { metadata: { resourceVersion: rv }, spec: { taints } }, attempts: 1, signal });
    } catch (e) {
      if (isStatus(e, 409, 404)) return; // the next pass, on the fresh node
      throw e;
    }
    this.log.info({ node: name, taints: taints.map((t) => `${t.key}:${t.effect}`) }, 'node taints updated');
  }

  private podsOn(node: string): Pod[] {
    const out: Pod[] = [];
    for (const s of this.pods.items.values()) if (s.obj.spec?.nodeName === node) out.push(s.obj);
    return out;
  }

  private async markPodsNotReady(node: string, now: string, signal: AbortSignal): Promise<void> {
    for (const p of this.podsOn(node)) {
      const status = podNotReadyConditions(p, now);
      if (!status) continue;
      const ns = p.metadata?.namespace ?? 'default';
      try {
        await this.d.client.request('PATCH', `/api/v1/namespaces/${enc(ns)}/pods/${enc(p.metadata.name ?? '')}/status`, { body: { status: { conditions: status.conditions } }, attempts: 1, signal });
      } catch (e) {
        if (!isStatus(e, 404)) this.log.warn({ pod: `${ns}/${p.metadata.name}`, err: errorMessage(e) }, 'cannot mark pod not ready');
      }
    }
  }

  /** The taint manager's pass: each pod of a NoExecute-tainted node is deleted once its tolerations run out. */
  async taintManager(signal: AbortSignal): Promise<void> {
    const nowMs = this.now();
    const live = new Set<string>();
    for (const s of this.pods.items.values()) {
      const p = s.obj;
      const uid = p.metadata?.uid ?? s.key;
      const nodeName = p.spec?.nodeName;
      if (!nodeName || p.metadata?.deletionTimestamp) continue;
      const node = this.nodes.items.get(keys.node(nodeName))?.obj;
      const taints = node ? taintsOf(node).filter((t) => t.effect === 'NoExecute') : [];
      const ms = tolerationTimeMs(tolerationsOf(p), taints);
      const prev = this.tainted.get(uid);
      if (ms === undefined) {
        if (prev && Number.isFinite(prev.ms) && !this.evicted.has(uid)) this.cancelled(p, signal);
        continue;
      }
      live.add(uid);
      const sig = taints.map((t) => `${t.key}=${t.value ?? ''}`).sort().join(',');
      const cur = prev && prev.sig === sig ? prev : { sig, since: nowMs, ms };
      this.tainted.set(uid, { ...cur, ms });
      if (!Number.isFinite(ms) || nowMs < cur.since + ms || this.evicted.has(uid)) continue;
      await this.evict(p, signal);
      this.evicted.add(uid);
    }
    for (const uid of [...this.tainted.keys()]) if (!live.has(uid)) this.tainted.delete(uid);
    for (const uid of [...this.evicted]) if (!live.has(uid)) this.evicted.delete(uid);
  }

  private cancelled(p: Pod, signal: AbortSignal): void {
    const ns = p.metadata?.namespace ?? 'default';
    void recordEvent(this.d.client, this.log, 'taint-eviction-controller', { kind: 'Pod', apiVersion: 'v1', namespace: ns, name: p.metadata.name ?? '', uid: p.metadata.uid ?? '' }, 'Normal', 'TaintManagerEviction', `Cancelling deletion of Pod ${ns}/${p.metadata.name}`, signal);
  }

  private async evict(p: Pod, signal: AbortSignal): Promise<void> {
    const ns = p.metadata?.namespace ?? 'default';
    const name = p.metadata.name ?? '';
    void recordEvent(this.d.client, this.log, 'taint-eviction-controller', { kind: 'Pod', apiVersion: 'v1', namespace: ns, name, uid: p.metadata.uid ?? '' }, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${ns}/${name}`, signal);
    try {
      await this.d.client.request('DELETE', `/api/v1/namespaces/${enc(ns)}/pods/${enc(name)}`, { body: { apiVersion: 'v1', kind: 'DeleteOptions', ...(p.metadata.uid && { preconditions: { uid: p.metadata.uid } }) }, attempts: 2, signal });
      this.log.info({ pod: `${ns}/${name}`, node: p.spec?.nodeName }, 'pod evicted: its tolerations of the node taints ran out');
    } catch (e) {
      if (!isStatus(e, 404, 409)) throw e;
    }
  }
}
