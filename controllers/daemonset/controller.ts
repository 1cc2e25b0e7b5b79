// The DaemonSet controller's loop: DaemonSets and Nodes from list+watch caches, the daemon pods from
// the manager's shared one; a node's change queues every DaemonSet (whether it should run there may
// have changed), a pod's its DaemonSet. Each sync plans (logic.ts), deletes, creates in slow-start
// batches under expectations, and writes the status through …/status.
import { keys, REGISTRY } from '../../cluster/index.js';
import type { Logger } from '../../common/index.js';
import type { ControllerContext, ObjCache, QueueController } from '../controller.js';
import { eventRecorder, type EventRecorder, involvedOf } from '../events.js';
import { isStatus, observeOwnedPods, PodControl, writeStatus } from '../pod-control.js';
import { WorkQueue } from '../queue.js';
import { Expectations, slowStartBatch } from '../replication/index.js';
import { daemonPodFor, daemonPodOf, type DaemonPod, daemonSetOf, daemonStatusChanged, ownedBy, planDaemonSet, templateHash } from './logic.js';

type Obj = Record<string, unknown>;
export const DAEMONSET_PREFIX = `${REGISTRY}/daemonsets/`;
const enc = encodeURIComponent;
const dsPath = (ns: string, name: string): string => `/apis/apps/v1/namespaces/${enc(ns)}/daemonsets/${enc(name)}`;
/** Kubernetes' BurstReplicas for daemon pods. */
const BURST = 250;

export class DaemonSetController implements QueueController {
  readonly kind = 'DaemonSet';
  readonly queue = new WorkQueue();
  readonly caches: readonly ObjCache[];
  private readonly sets: ObjCache;
  private readonly nodes: ObjCache;
  private readonly expectations: Expectations;
  private readonly seen = new Map<string, DaemonPod>();
  private readonly now: () => number;
  private readonly recorder: EventRecorder;
  private readonly podControl: PodControl;
  private readonly log: Logger;

  constructor(private readonly ctx: ControllerContext) {
    this.now = ctx.now ?? Date.now;
    this.log = ctx.log;
    this.expectations = new Expectations(this.now);
    this.recorder = eventRecorder(ctx.client, 'daemonset-controller', ctx.log, this.now, ctx.signal);
    this.podControl = new PodControl(ctx.client, this.recorder, ctx.log, ctx.signal);
    this.sets = ctx.cache(DAEMONSET_PREFIX, (changed) => this.setsChanged(changed));
    this.nodes = ctx.cache(keys.nodes(), () => this.setsChanged(new Set(this.sets.items.keys())));
    this.caches = [this.sets, this.nodes];
  }

  private setsChanged(changed: ReadonlySet<string>): void {
    for (const k of changed) if (k.startsWith(DAEMONSET_PREFIX)) this.queue.add(k.slice(DAEMONSET_PREFIX.length));
  }

  resync(): void {
    this.podsChanged(new Set(this.ctx.pods.items.keys()));
    this.setsChanged(new Set(this.sets.items.keys()));
  }

  podsChanged(changed: ReadonlySet<string>): void {
    observeOwnedPods(changed, this.ctx.pods, this.seen, daemonPodOf, 'DaemonSet', this.expectations, this.queue);
  }


  async sync(key: string): Promise<number | undefined> {
    const s = this.sets.items.get(`${DAEMONSET_PREFIX}${key}`);
    if (!s) {
      this.expectations.delete(key);
      return undefined;
    }
    const ds = daemonSetOf(s.obj);
    if (ds.deleting) return undefined;
    const pods = [...this.seen.values()].filter((p) => p.namespace === ds.namespace && ownedBy(ds, p));
    const nodes = [...this.nodes.items.values()].map((x) => x.obj);
    const plan = planDaemonSet(ds, nodes, pods, this.now());
    const owner = involvedOf('apps/v1', 'DaemonSet', ds.raw);
    const errors: unknown[] = [];
    if (this.expectations.satisfied(key)) {
      const victims = [...plan.delete, ...plan.failed];
      for (const p of plan.failed) void this.recorder.event(owner, 'Warning', 'FailedDaemonPod', `Found failed daemon pod ${p.namespace}/${p.name} on node ${p.node}, will try to kill it`);
      if (victims.length) {
        this.expectations.expectDeletions(
          key,
          victims.map((p) => p.uid),
        );
        const rs = await Promise.allSettled(
          victims.map(async (p) => {
            try {
              await this.podControl.delete(owner, p);
            } catch (e) {
              this.expectations.deletionObserved(key, p.uid);
              throw e;
            }
          }),
        );
        for (const r of rs) if (r.status === 'rejected') errors.push(r.reason);
      }
      if (plan.create.length) await this.createPods(ds, key, plan.create.slice(0, BURST), owner, errors);
    }
    if (daemonStatusChanged(ds, plan.status)) {
      try {
        await writeStatus(this.ctx.client, dsPath(ds.namespace, ds.name), ds.raw, { ...(ds.raw.status as Obj | undefined), ...plan.status }, this.ctx.signal);
      } catch (e) {
        if (!isStatus(e, 404)) errors.push(e);
      }
    }
    if (errors.length) throw errors[0];
    return plan.requeueAfterMs;
  }

  private async createPods(ds: ReturnType<typeof daemonSetOf>, key: string, nodes: readonly string[], owner: ReturnType<typeof involvedOf>, errors: unknown[]): Promise<void> {
    const hash = templateHash(ds.template);
    this.expectations.expectCreations(key, nodes.length);
    let i = 0;
    const r = await slowStartBatch(nodes.length, 1, async () => {
      const node = nodes[i++]!;
      try {
        await this.podControl.create(owner, daemonPodFor(ds, node, hash));
      } catch (e) {
        this.expectations.creationObserved(key);
        throw e;
      }
    });
    for (let j = i; j < nodes.length; j++) this.expectations.creationObserved(key);
    if (r.error !== undefined) errors.push(r.error);
    this.log.debug({ daemonset: key, nodes, created: r.successes }, 'created daemon pods');
  }
}
