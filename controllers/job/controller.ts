// The Job controller's loop: Jobs from a list+watch cache, their pods from the manager's shared one
// (those whose controller reference is the Job), one worker per Job at a time: plan (logic.ts), then
// delete and create pods (slow-start batches, expectations so a lagging watch cannot double them), the
// events, and the status through …/status. A finished Job with ttlSecondsAfterFinished is deleted
// when it runs out (Kubernetes' ttl-after-finished controller, folded in here).
import { REGISTRY } from '../../cluster/index.js';
import type { Logger } from '../../common/index.js';
import type { ControllerContext, ObjCache, QueueController } from '../controller.js';
import { eventRecorder, type EventRecorder, involvedOf } from '../events.js';
import { isStatus, observeOwnedPods, PodControl, writeStatus } from '../pod-control.js';
import { WorkQueue } from '../queue.js';
import { controllerRefOf, Expectations, slowStartBatch } from '../replication/index.js';
import { jobOf, jobPodFromTemplate, jobPodOf, type JobPod, jobStatusChanged, type JobView, planJob } from './logic.js';

export const JOB_PREFIX = `${REGISTRY}/jobs/`;
const enc = encodeURIComponent;
const jobPath = (ns: string, name: string): string => `/apis/batch/v1/namespaces/${enc(ns)}/jobs/${enc(name)}`;

export class JobController implements QueueController {
  readonly kind = 'Job';
  readonly queue = new WorkQueue();
  readonly caches: readonly ObjCache[];
  private readonly jobs: ObjCache;
  private readonly expectations: Expectations;
  /** The pods whose controller is a Job, by key, as last seen. */
  private readonly seen = new Map<string, JobPod>();
  private readonly now: () => number;
  private readonly recorder: EventRecorder;
  private readonly podControl: PodControl;
  private readonly log: Logger;

  constructor(private readonly ctx: ControllerContext) {
    this.now = ctx.now ?? Date.now;
    this.log = ctx.log;
    this.expectations = new Expectations(this.now);
    this.recorder = eventRecorder(ctx.client, 'job-controller', ctx.log, this.now, ctx.signal);
    this.podControl = new PodControl(ctx.client, this.recorder, ctx.log, ctx.signal);
    this.jobs = ctx.cache(JOB_PREFIX, (changed) => this.jobsChanged(changed));
    this.caches = [this.jobs];
  }

  private jobsChanged(keys: ReadonlySet<string>): void {
    for (const k of keys) if (k.startsWith(JOB_PREFIX)) this.queue.add(k.slice(JOB_PREFIX.length));
  }

  resync(): void {
    this.jobsChanged(new Set(this.jobs.items.keys()));
    this.podsChanged(new Set(this.ctx.pods.items.keys()));
  }

  podsChanged(changed: ReadonlySet<string>): void {
    observeOwnedPods(changed, this.ctx.pods, this.seen, jobPodOf, 'Job', this.expectations, this.queue);
  }


  async sync(key: string): Promise<number | undefined> {
    const s = this.jobs.items.get(`${JOB_PREFIX}${key}`);
    if (!s) {
      this.expectations.delete(key);
      return undefined;
    }
    const job = jobOf(s.obj);
    if (job.deleting) return undefined;
    const pods = [...this.seen.values()].filter((p) => p.namespace === job.namespace && controllerRefOf(p)?.uid === job.uid);
    if (!this.expectations.satisfied(key)) return undefined;
    const plan = planJob(job, pods, this.now());
    const owner = involvedOf('batch/v1', 'Job', job.raw);
    if (plan.deleteJob) {
      try {
        await this.ctx.client.request('DELETE', jobPath(job.namespace, job.name), { query: { propagationPolicy: 'Background' }, body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: job.uid } }, attempts: 1, signal: this.ctx.signal });
        this.log.info({ job: key }, 'deleted a finished job whose ttlSecondsAfterFinished ran out');
      } catch (e) {
        if (!isStatus(e, 404) && !isStatus(e, 409)) throw e;
      }
      return undefined;
    }
    const errors: unknown[] = [];
    if (plan.delete.length) {
      this.expectations.expectDeletions(
        key,
        plan.delete.map((p) => p.uid),
      );
      const rs = await Promise.allSettled(
        plan.delete.map(async (p) => {
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
    let created = plan.create;
    if (plan.create > 0) created = await this.createPods(job, key, plan.createIndexes ?? Array.from({ length: plan.create }, () => undefined), owner, errors);
    const status = { ...plan.status };
    if (created !== plan.create) {
      const a = (typeof status.active === 'number' ? status.active : 0) - (plan.create - created);
      if (a > 0) status.active = a;
      else delete status.active;
    }
    if (jobStatusChanged(job, status)) {
      try {
        await writeStatus(this.ctx.client, jobPath(job.namespace, job.name), job.raw, status, this.ctx.signal);
      } catch (e) {
        if (isStatus(e, 404)) return undefined;
        // A stale Job (its status changed since the cache saw it): no events for a decision not taken.
        throw e;
      }
    }
    // Events about the Job's end once its status says so, as Kubernetes records them.
    for (const e of plan.events) void this.recorder.event(owner, e.type, e.reason, e.message);
    if (errors.length) throw errors[0];
    return plan.requeueAfterMs;
  }

  private async createPods(job: JobView, key: string, indexes: readonly (number | undefined)[], owner: ReturnType<typeof involvedOf>, errors: unknown[]): Promise<number> {
    const n = indexes.length;
    this.expectations.expectCreations(key, n);
    let attempted = 0;
    const r = await slowStartBatch(n, 1, async () => {
      const index = indexes[attempted++];
      try {
        await this.podControl.create(owner, jobPodFromTemplate(job, index));
      } catch (e) {
        this.expectations.creationObserved(key);
        throw e;
      }
    });
    for (let i = attempted; i < n; i++) this.expectations.creationObserved(key);
    if (r.error !== undefined) errors.push(r.error);
    return r.successes;
  }
}
