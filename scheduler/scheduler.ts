// kube-scheduler's loop over the API: list+watch caches of nodes, pods, Services, RCs and ReplicaSets;
// a queue of the pods of this scheduler without spec.nodeName (not being deleted, not finished), taken
// one at a time; the pure cycle (plugins.ts) picks a node; the pod is assumed onto it at once (so the
// next pod in line sees the slot taken) and bound through pods/<name>/binding in the background.
// A pod that fits nowhere gets PodScheduled=False (Unschedulable, with FitError's message) and a
// FailedScheduling event, and waits: it is tried again when a node or an assigned pod changes (once
// its back-off, doubling from 1 s to 10 s, has passed), and at the latest after the backstop period.
// Only the leader's loop runs (when elected); the caches follow in every instance, so a standby that
// takes over schedules at once.
import { randomBytes } from 'node:crypto';
import { type ApiClient, ApiStatusError, type ClusterStore, keys, type LabelSelector, parseJsonObject, REGISTRY, type Stored } from '../cluster/index.js';
import { errorMessage, type Logger, PrefixCache, sleep } from '../common/index.js';
import { controllerSelectorOf, fitErrorMessage, type NodeInfo, nodeInfoOf, NodeUsage, type PodInfo, podInfoOf, schedulePod, spreadSelectors } from './plugins.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface SchedulerConfig {
  readonly schedulerName: string;
  /** reportingInstance of the events. */
  readonly identity: string;
  /** An unschedulable pod is tried again after this long even when nothing changed. */
  readonly backstopMs?: number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Binds in flight at once. */
  readonly parallelBinds?: number;
  readonly random?: () => number;
}

export interface SchedulerDeps {
  /** Caches and the pod status writes. */
  readonly store: ClusterStore;
  /** Bindings and events. */
  readonly client: ApiClient;
  readonly log: Logger;
  readonly now?: () => number;
}

interface Waiting {
  attempts: number;
  triedAt: number;
  /** A node or an assigned pod changed since it was last tried. */
  moveRequested: boolean;
}

const EVENT_QUEUE = 1_000;
const EVENT_POSTERS = 4;

export const RC_PREFIX = `${REGISTRY}/controllers/`;
export const RS_PREFIX = `${REGISTRY}/replicasets/`;

/** Pure: the pod's PodScheduled=False condition written into its status; undefined when it already says so (or the pod is bound). */
export function withUnschedulable(pod: Obj, message: string, nowIso: string): Obj | undefined {
  const spec = isObj(pod.spec) ? pod.spec : {};
  if (typeof spec.nodeName === 'string' && spec.nodeName) return undefined;
  const status = isObj(pod.status) ? pod.status : {};
  const conds = Array.isArray(status.conditions) ? (status.conditions as Obj[]) : [];
  const old = conds.find((c) => isObj(c) && c.type === 'PodScheduled');
  if (old && old.status === 'False' && old.reason === 'Unschedulable' && old.message === message) return undefined;
  const cond = { type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: old && old.status === 'False' ? old.lastTransitionTime : nowIso, reason: 'Unschedulable', message };
  return { ...pod, status: { phase: 'Pending', ...status, conditions: [...conds.filter((c) => c !== old), cond] } };
}

/** Pure: a v1 Event about a pod, as the scheduler's recorder posts it. */
export function podEvent(pod: PodInfo, type: 'Normal' | 'Warning', reason: string, message: string, component: string, instance: string, nowIso: string, suffix: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${pod.name}.${suffix}`, namespace: pod.namespace },
    involvedObject: { kind: 'Pod', apiVersion: 'v1', namespace: pod.namespace, name: pod.name, uid: pod.uid },
    reason,
    message,
    type,
    source: { component },
    reportingComponent: component,
    reportingInstance: instance,
    firstTimestamp: nowIso,
    lastTimestamp: nowIso,
    count: 1,
  };
}

export class Scheduler {
  private readonly nodes: PrefixCache<Stored<Obj>>;
  private readonly pods: PrefixCache<Stored<Obj>>;
  private readonly services: PrefixCache<Stored<Obj>>;
  private readonly rcs: PrefixCache<Stored<Obj>>;
  private readonly rss: PrefixCache<Stored<Obj>>;
  private readonly nodeInfos = new Map<string, NodeInfo>();
  /** Node key → node name (a deleted node's key no longer has its object). */
  private readonly nodeNames = new Map<string, string>();
  private readonly usage = new Map<string, NodeUsage>();
  /** Pod key → the node its requests are counted on (bound, or assumed). */
  private readonly placed = new Map<string, string>();
  /** Pods chosen a node and not yet seen bound. */
  private readonly assumed = new Map<string, string>();
  private readonly active: string[] = [];
  private readonly activeSet = new Set<string>();
  private readonly waiting = new Map<string, Waiting>();
  private readonly inFlight = new Set<Promise<void>>();
  /** Events waiting to be posted; posted beside the binds, not in their slots (as client-go's broadcaster does). */
  private readonly events: (() => Promise<void>)[] = [];
  private eventsPosting = 0;
  private eventsDropped = 0;
  /** FailedScheduling events already posted (pod uid + message) → the event's name and count, to count a repeat up. */
  private readonly series = new Map<string, { name: string; count: number }>();
  private wake: (() => void) | undefined;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(
    private readonly c: SchedulerConfig,
    private readonly d: SchedulerDeps,
  ) {
    this.now = d.now ?? Date.now;
    this.log = d.log;
    const cache = (prefix: string, onChange: (changed: ReadonlySet<string>) => void) =>
      new PrefixCache<Stored<Obj>>({ list: (p) => d.store.list(p, parseJsonObject), watch: (p, rev, s) => d.store.watch(p, parseJsonObject, rev, s) }, { prefix, log: d.log }, onChange);
    this.nodes = cache(keys.nodes(), (k) => this.onNodes(k));
    this.pods = cache(keys.pods(), (k) => this.onPods(k));
    this.services = cache(keys.services(), () => undefined);
    this.rcs = cache(RC_PREFIX, () => undefined);
    this.rss = cache(RS_PREFIX, () => undefined);
  }

  /** The caches have their first listings. */
  get synced(): boolean {
    return [this.nodes, this.pods, this.services, this.rcs, this.rss].every((c) => c.synced);
  }

  /** Pods waiting in the queue or as unschedulable (for tests and metrics). */
  get pending(): { active: number; unschedulable: number; assumed: number } {
    return { active: this.active.length, unschedulable: this.waiting.size, assumed: this.assumed.size };
  }

  /** Follows the caches until `signal` aborts. */
  async follow(signal: AbortSignal): Promise<void> {
    await Promise.all([this.nodes, this.pods, this.services, this.rcs, this.rss].map((c) => c.run(signal)));
  }

  /** Schedules until `signal` aborts (the leader's part); waits for the caches' first listings first. */
  async schedule(signal: AbortSignal): Promise<void> {
    // Bounded by the signal: one check every 100 ms until the caches have listed.
    while (!this.synced) if (!(await sleep(100, signal))) return;
    this.log.info({ schedulerName: this.c.schedulerName, nodes: this.nodeInfos.size, queued: this.active.length }, 'scheduling');
    const ticker = (async () => {
      while (await sleep(500, signal)) this.flushWaiting();
    })();
    const limit = this.c.parallelBinds ?? 64;
    try {
      while (!signal.aborted) {
        const key = this.active.shift();
        if (key === undefined) {
          await new Promise<void>((resolve) => {
            this.wake = resolve;
            signal.addEventListener('abort', () => resolve(), { once: true });
          });
          this.wake = undefined;
          continue;
        }
        this.activeSet.delete(key);
        while (this.inFlight.size >= limit) await Promise.race(this.inFlight);
        if (signal.aborted) break;
        this.scheduleOne(key, signal);
      }
    } finally {
      await ticker;
      await Promise.allSettled([...this.inFlight]);
    }
  }

  private needsScheduling(p: PodInfo): boolean {
    return p.nodeName === '' && !p.deleting && !p.terminated && p.schedulerName === this.c.schedulerName;
  }

  private enqueue(key: string): void {
    if (this.activeSet.has(key) || this.waiting.has(key) || this.assumed.has(key)) return;
    this.active.push(key);
    this.activeSet.add(key);
    this.wake?.();
  }

  private unplace(key: string): void {
    const node = this.placed.get(key);
    if (node === undefined) return;
    this.usage.get(node)?.remove(key);
    this.placed.delete(key);
  }

  private place(p: PodInfo, node: string): void {
    if (this.placed.get(p.key) !== node) this.unplace(p.key);
    let u = this.usage.get(node);
    if (!u) this.usage.set(node, (u = new NodeUsage()));
    u.add(p);
    this.placed.set(p.key, node);
  }

  /** Every waiting pod is moved back to the queue once its back-off has passed (a node or an assigned pod changed). */
  private requestMove(): void {
    for (const w of this.waiting.values()) w.moveRequested = true;
    this.flushWaiting();
  }

  private backoffMs(attempts: number): number {
    const init = this.c.initialBackoffMs ?? 1_000;
    return Math.min(init * 2 ** Math.max(0, attempts - 1), this.c.maxBackoffMs ?? 10_000);
  }

  private flushWaiting(): void {
    const now = this.now();
    for (const [key, w] of this.waiting) {
      const due = (w.moveRequested && now - w.triedAt >= this.backoffMs(w.attempts)) || now - w.triedAt >= (this.c.backstopMs ?? 60_000);
      if (!due) continue;
      this.waiting.delete(key);
      this.attempts.set(key, w.attempts);
      this.enqueue(key);
    }
  }

  /** Attempts so far of the pods moved back from waiting (for their next back-off). */
  private readonly attempts = new Map<string, number>();

  private onNodes(changed: ReadonlySet<string>): void {
    for (const key of changed) {
      const it = this.nodes.items.get(key);
      const old = this.nodeNames.get(key);
      if (old !== undefined) this.nodeInfos.delete(old);
      if (!it) {
        this.nodeNames.delete(key);
        continue;
      }
      const n = nodeInfoOf(it.obj);
      this.nodeNames.set(key, n.name);
      this.nodeInfos.set(n.name, n);
    }
    this.requestMove();
  }

  private onPods(changed: ReadonlySet<string>): void {
    let assignedChanged = false;
    for (const key of changed) {
      const it = this.pods.items.get(key);
      const p = it ? podInfoOf(key, it.obj) : undefined;
      if (p && p.nodeName && !p.terminated) {
        this.assumed.delete(key);
        this.place(p, p.nodeName);
        assignedChanged = true;
      } else if (p && !p.nodeName && this.assumed.has(key) && !p.deleting) {
        // Still assumed: the bind is in flight.
      } else {
        if (this.placed.has(key)) assignedChanged = true;
        this.unplace(key);
        this.assumed.delete(key);
      }
      if (p && this.needsScheduling(p)) this.enqueue(key);
      else {
        this.waiting.delete(key);
        this.attempts.delete(key);
      }
    }
    if (assignedChanged) this.requestMove();
  }

  private controllerSelector = (namespace: string, kind: string, name: string): LabelSelector | undefined => {
    const cache = kind === 'ReplicationController' ? this.rcs : kind === 'ReplicaSet' ? this.rss : undefined;
    const it = cache?.items.get(`${cache.prefix}${namespace}/${name}`);
    return it && isObj(it.obj.spec) ? controllerSelectorOf(kind, it.obj.spec) : undefined;
  };

  private *serviceSelectors(): Iterable<{ namespace: string; selector: Record<string, string> }> {
    for (const s of this.services.items.values()) {
      const meta = isObj(s.obj.metadata) ? s.obj.metadata : {};
      const spec = isObj(s.obj.spec) ? s.obj.spec : {};
      if (!isObj(spec.selector)) continue;
      const selector = Object.fromEntries(Object.entries(spec.selector).filter((e): e is [string, string] => typeof e[1] === 'string'));
      yield { namespace: typeof meta.namespace === 'string' ? meta.namespace : 'default', selector };
    }
  }

  /** One cycle for one pod; the bind (or the unschedulable writes) run in the background. */
  private scheduleOne(key: string, signal: AbortSignal): void {
    const it = this.pods.items.get(key);
    if (!it) return;
    const p = podInfoOf(key, it.obj);
    if (!this.needsScheduling(p)) return;
    const nodes = [...this.nodeInfos.values()];
    const selectors = spreadSelectors(p, { services: this.serviceSelectors(), controllerSelector: this.controllerSelector });
    const placement = schedulePod(p, nodes, (n) => this.usage.get(n), selectors, this.c.random);
    const attempts = (this.attempts.get(key) ?? 0) + 1;
    let job: Promise<void>;
    if (placement.node !== undefined) {
      const node = placement.node;
      this.assumed.set(key, node);
      this.place(p, node);
      this.attempts.delete(key);
      job = this.bind(p, node, signal);
    } else {
      const message = fitErrorMessage(nodes.length, placement.reasons);
      this.attempts.delete(key);
      this.waiting.set(key, { attempts, triedAt: this.now(), moveRequested: false });
      this.log.info({ pod: `${p.namespace}/${p.name}`, attempts, message }, 'pod unschedulable');
      job = this.markUnschedulable(p, message);
    }
    const tracked = job.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async bind(p: PodInfo, node: string, signal: AbortSignal): Promise<void> {
    const pod = `${p.namespace}/${p.name}`;
    try {
      if (signal.aborted) throw new Error('no longer the leader');
      const body = { apiVersion: 'v1', kind: 'Binding', metadata: { name: p.name, namespace: p.namespace, ...(p.uid && { uid: p.uid }) }, target: { apiVersion: 'v1', kind: 'Node', name: node } };
      await this.d.client.request('POST', `/api/v1/namespaces/${encodeURIComponent(p.namespace)}/pods/${encodeURIComponent(p.name)}/binding`, { body, signal });
      this.log.debug({ pod, node }, 'pod bound');
      this.recordEvent(p, 'Normal', 'Scheduled', `Successfully assigned ${pod} to ${node}`);
    } catch (e) {
      // Forget the assumption; the pod is retried (a pod already assigned comes back through the watch).
      if (this.assumed.get(p.key) === node) {
        this.assumed.delete(p.key);
        this.unplace(p.key);
      }
      if (signal.aborted) return;
      const conflict = e instanceof ApiStatusError && (e.status === 409 || e.status === 404);
      this.log.warn({ pod, node, err: errorMessage(e) }, 'binding failed');
      if (!conflict) {
        this.waiting.set(p.key, { attempts: 1, triedAt: this.now(), moveRequested: true });
        await this.postEvent(p, 'Warning', 'FailedScheduling', `Binding rejected: ${errorMessage(e)}`);
      }
    }
  }

  private async markUnschedulable(p: PodInfo, message: string): Promise<void> {
    try {
      const nowIso = new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
      await this.d.store.update(keys.pod(p.namespace, p.name), parseJsonObject, (cur) => (cur ? withUnschedulable(cur, message, nowIso) : undefined));
    } catch (e) {
      this.log.warn({ pod: `${p.namespace}/${p.name}`, err: errorMessage(e) }, 'cannot update the pod status');
    }
    await this.postEvent(p, 'Warning', 'FailedScheduling', message);
  }

  /** Posts an event; the same event about the same pod again counts the first one up, as the event recorder's correlator does. */
  /** Queues an event; beyond EVENT_QUEUE waiting, the newest are dropped (counted in the log), as client-go's broadcaster drops under pressure. */
  private recordEvent(p: PodInfo, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (this.events.length >= EVENT_QUEUE) {
      if (this.eventsDropped++ % 1000 === 0) this.log.warn({ dropped: this.eventsDropped }, 'event queue full: events dropped');
      return;
    }
    this.events.push(() => this.postEvent(p, type, reason, message));
    this.pumpEvents();
  }

  private pumpEvents(): void {
    while (this.eventsPosting < EVENT_POSTERS && this.events.length > 0) {
      const post = this.events.shift()!;
      this.eventsPosting++;
      void post().finally(() => {
        this.eventsPosting--;
        this.pumpEvents();
      });
    }
  }

  private async postEvent(p: PodInfo, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const nowIso = new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const id = `${p.uid}\u0000${reason}\u0000${message}`;
    const base = `/api/v1/namespaces/${encodeURIComponent(p.namespace)}/events`;
    const seen = this.series.get(id);
    try {
      if (seen) {
        seen.count++;
        try {
          await this.d.client.request('PATCH', `${base}/${encodeURIComponent(seen.name)}`, { body: { count: seen.count, lastTimestamp: nowIso } });
          return;
        } catch (e) {
          if (!(e instanceof ApiStatusError && e.status === 404)) throw e;
        }
      }
      const ev = podEvent(p, type, reason, message, this.c.schedulerName, this.c.identity, nowIso, randomBytes(8).toString('hex'));
      await this.d.client.request('POST', base, { body: ev });
      if (this.series.size > 10_000) this.series.clear();
      this.series.set(id, { name: (ev.metadata as { name: string }).name, count: 1 });
    } catch (e) {
      this.log.warn({ pod: `${p.namespace}/${p.name}`, reason, err: errorMessage(e) }, 'cannot post an event');
    }
  }
}
