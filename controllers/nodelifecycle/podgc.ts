// The pod garbage collector's orphan sweep: a pod bound to a node that no longer exists (for longer
// than a quarantine, so a node being re-registered is not mistaken for a deleted one) is deleted at
// once (grace 0): no kubelet will ever finish it. This is what ends the Terminating state of a pod the
// taint manager evicted from a dead node, once that node is deleted.
import { keys, type Node, parsePodObject, type Pod } from '../../cluster/index.js';
import { errorMessage, type Logger, sleep } from '../../common/index.js';
import { type Cache, cacheOf, parseNode, type ControllerDeps, isStatus, waitSynced } from '../runtime.js';

export interface PodGcOptions {
  /** How often the pods are looked at (Kubernetes: 20 s). */
  readonly periodMs?: number;
  /** How long a node must have been missing (Kubernetes: 40 s). */
  readonly quarantineMs?: number;
  readonly now?: () => number;
}

/** Pure: the pods bound to nodes missing for at least the quarantine; `missingSince` is updated. */
export function orphanedPods(pods: readonly Pod[], nodes: ReadonlySet<string>, missingSince: Map<string, number>, nowMs: number, quarantineMs: number): Pod[] {
  const bound = new Set(pods.map((p) => p.spec?.nodeName).filter((n): n is string => !!n));
  for (const n of [...missingSince.keys()]) if (nodes.has(n) || !bound.has(n)) missingSince.delete(n);
  for (const n of bound) if (!nodes.has(n) && !missingSince.has(n)) missingSince.set(n, nowMs);
  return pods.filter((p) => {
    const n = p.spec?.nodeName;
    const since = n ? missingSince.get(n) : undefined;
    return since !== undefined && nowMs - since >= quarantineMs;
  });
}

export class PodGcController {
  private readonly nodes: Cache<Node>;
  private readonly pods: Cache<Pod>;
  private readonly missing = new Map<string, number>();
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(
    private readonly d: ControllerDeps,
    private readonly o: PodGcOptions = {},
  ) {
    this.log = d.log.child({ controller: 'podgc' });
    this.now = o.now ?? Date.now;
    this.nodes = cacheOf(d.store, keys.nodes(), parseNode, this.log, () => undefined);
    this.pods = cacheOf(d.store, keys.pods(), parsePodObject, this.log, () => undefined);
  }

  async run(signal: AbortSignal): Promise<void> {
    const caches = [this.nodes, this.pods];
    const following = caches.map((c) => c.run(signal));
    const loop = async (): Promise<void> => {
      if (!(await waitSynced(caches, signal))) return;
      do {
        try {
          await this.sweep(signal);
        } catch (e) {
          if (!signal.aborted) this.log.warn({ err: errorMessage(e) }, 'pod gc pass failed');
        }
      } while (await sleep(this.o.periodMs ?? 20_000, signal));
    };
    await Promise.all([...following, loop()]);
  }

  async sweep(signal: AbortSignal): Promise<void> {
    const nodes = new Set([...this.nodes.items.values()].map((s) => s.obj.metadata.name ?? ''));
    const pods = [...this.pods.items.values()].map((s) => s.obj);
    for (const p of orphanedPods(pods, nodes, this.missing, this.now(), this.o.quarantineMs ?? 40_000)) {
      const ns = p.metadata.namespace ?? 'default';
      try {
        await this.d.client.request('DELETE', `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(p.metadata.name ?? '')}`, { body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, ...(p.metadata.uid && { preconditions: { uid: p.metadata.uid } }) }, attempts: 1, signal });
        this.log.info({ pod: `${ns}/${p.metadata.name}`, node: p.spec?.nodeName }, 'found orphaned pod assigned to a deleted node; deleted');
      } catch (e) {
        if (!isStatus(e, 404, 409)) throw e;
      }
    }
  }
}
