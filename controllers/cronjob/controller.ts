// The CronJob controller's loop (cronjob_controllerv2): CronJobs and Jobs from list+watch caches; a
// Job's change queues its CronJob; each sync reconciles the active list, creates the Job that is due
// (or records why not), deletes what Replace and the history limits say, writes the status, and asks
// to be woken at the next activation. The clock is injectable (`now`), so nothing here sleeps.
import { REGISTRY } from '../../cluster/index.js';
import type { Logger } from '../../common/index.js';
import type { ControllerContext, ObjCache, QueueController } from '../controller.js';
import { eventRecorder, type EventRecorder, involvedOf } from '../events.js';
import { isStatus, whyOf, writeStatus } from '../pod-control.js';
import { WorkQueue } from '../queue.js';
import { type ActiveRef, childJobOf, type ChildJob, cronJobOf, cronStatusOf, type CronJobView, decide, jobFromTemplate, jobsPastHistory, reconcileActive, refOf } from './logic.js';

type Obj = Record<string, unknown>;
export const CRONJOB_PREFIX = `${REGISTRY}/cronjobs/`;
const JOBS_PREFIX = `${REGISTRY}/jobs/`;
const enc = encodeURIComponent;
const cronJobPath = (ns: string, name: string): string => `/apis/batch/v1/namespaces/${enc(ns)}/cronjobs/${enc(name)}`;
const jobsPath = (ns: string): string => `/apis/batch/v1/namespaces/${enc(ns)}/jobs`;
const sortKeys = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(sortKeys) : typeof v === 'object' && v !== null ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Obj)[k])])) : v;

export class CronJobController implements QueueController {
  readonly kind = 'CronJob';
  readonly queue = new WorkQueue();
  readonly caches: readonly ObjCache[];
  private readonly cronJobs: ObjCache;
  private readonly jobs: ObjCache;
  private readonly jobOwner = new Map<string, string>();
  private readonly now: () => number;
  private readonly recorder: EventRecorder;
  private readonly log: Logger;

  constructor(private readonly ctx: ControllerContext) {
    this.now = ctx.now ?? Date.now;
    this.log = ctx.log;
    this.recorder = eventRecorder(ctx.client, 'cronjob-controller', ctx.log, this.now, ctx.signal);
    this.cronJobs = ctx.cache(CRONJOB_PREFIX, (changed) => this.cronJobsChanged(changed));
    this.jobs = ctx.cache(JOBS_PREFIX, (changed) => this.jobsChanged(changed));
    this.caches = [this.cronJobs, this.jobs];
  }

  private cronJobsChanged(keys: ReadonlySet<string>): void {
    for (const k of keys) if (k.startsWith(CRONJOB_PREFIX)) this.queue.add(k.slice(CRONJOB_PREFIX.length));
  }

  private jobsChanged(keys: ReadonlySet<string>): void {
    for (const k of keys) {
      const s = this.jobs.items.get(k);
      const meta = (s?.obj.metadata ?? {}) as Obj;
      const refs = Array.isArray(meta.ownerReferences) ? (meta.ownerReferences as Obj[]) : [];
      const ref = refs.find((r) => r.controller === true && r.kind === 'CronJob');
      const owner = ref ? `${String(meta.namespace ?? 'default')}/${String(ref.name)}` : undefined;
      const old = this.jobOwner.get(k);
      if (owner) this.jobOwner.set(k, owner);
      else this.jobOwner.delete(k);
      if (old) this.queue.add(old);
      if (owner && owner !== old) this.queue.add(owner);
    }
  }

  podsChanged(): void {
    // The CronJob controller reads Jobs, not pods.
  }

  resync(): void {
    this.cronJobsChanged(new Set(this.cronJobs.items.keys()));
    this.jobsChanged(new Set(this.jobs.items.keys()));
  }

  private childJobs(ns: string): ChildJob[] {
    const out: ChildJob[] = [];
    for (const [k, s] of this.jobs.items) if (k.startsWith(`${JOBS_PREFIX}${ns}/`)) out.push(childJobOf(s.obj));
    return out;
  }

  async sync(key: string): Promise<number | undefined> {
    const s = this.cronJobs.items.get(`${CRONJOB_PREFIX}${key}`);
    if (!s) return undefined;
    let cj = cronJobOf(s.obj);
    const log = this.log.child({ cronjob: key });
    const owner = (): ReturnType<typeof involvedOf> => involvedOf('batch/v1', 'CronJob', cj.raw);
    let jobs = this.childJobs(cj.namespace);
    let r = reconcileActive(cj, jobs);
    if (r.events.some((e) => e.reason === 'UnexpectedJob')) {
      // The Job's watch event can come before the status that lists it: read the CronJob fresh first.
      try {
        cj = cronJobOf((await this.ctx.client.request('GET', cronJobPath(cj.namespace, cj.name), { signal: this.ctx.signal })) as Obj);
      } catch (e) {
        if (isStatus(e, 404)) return undefined;
        throw e;
      }
      r = reconcileActive(cj, jobs);
    }
    for (const e of r.events) void this.recorder.event(owner(), e.type, e.reason, e.message);
    let active: ActiveRef[] = r.active;
    for (const m of r.missing) {
      try {
        await this.ctx.client.request('GET', `${jobsPath(m.namespace)}/${enc(m.name)}`, { signal: this.ctx.signal });
      } catch (e) {
        if (!isStatus(e, 404)) throw e;
        void this.recorder.event(owner(), 'Normal', 'MissingJob', `Active job went missing: ${m.name}`);
        active = active.filter((x) => x.uid !== m.uid);
      }
    }
    let lastScheduleTime = cj.lastScheduleTime;
    let requeue: number | undefined;
    if (!cj.deleting) {
      const d = decide(cj, active, this.now());
      if (d.kind === 'unparseable') void this.recorder.event(owner(), d.event.type, d.event.reason, d.event.message);
      else if (d.kind === 'suspended') log.debug({}, 'not starting a job: the cronjob is suspended');
      else {
        for (const e of d.events) void this.recorder.event(owner(), e.type, e.reason, e.message);
        requeue = d.requeueAfterMs;
        if (d.kind === 'run') {
          for (const ref of d.replace) {
            await this.deleteJob(cj, ref.namespace, ref.name, ref.uid);
            active = active.filter((x) => x.uid !== ref.uid);
          }
          const made = await this.createJob(cj, d.scheduledTime, log);
          if (made.ref) active = [...active.filter((x) => x.uid !== made.ref!.uid), made.ref];
          if (made.handled) lastScheduleTime = d.scheduledTime;
        }
      }
    }
    const status = { ...(s.obj.status as Obj | undefined), ...cronStatusOf(active, lastScheduleTime, r.lastSuccessfulTime) };
    if (!active.length) delete status.active;
    if (JSON.stringify(sortKeys(status)) !== JSON.stringify(sortKeys(s.obj.status ?? {}))) await writeStatus(this.ctx.client, cronJobPath(cj.namespace, cj.name), cj.raw, status, this.ctx.signal);
    jobs = this.childJobs(cj.namespace);
    for (const j of jobsPastHistory({ ...cj, active }, jobs)) await this.deleteJob(cj, j.namespace, j.name, j.uid);
    return requeue;
  }

  /** The Job made (or found made by an earlier sync), and whether this activation is dealt with. */
  private async createJob(cj: CronJobView, scheduledTime: number, log: Logger): Promise<{ ref?: ActiveRef; handled: boolean }> {
    const body = jobFromTemplate(cj, scheduledTime);
    const name = String((body.metadata as Obj).name);
    try {
      const made = childJobOf((await this.ctx.client.request('POST', jobsPath(cj.namespace), { body, attempts: 1, signal: this.ctx.signal })) as Obj);
      log.info({ job: made.name }, 'created job');
      void this.recorder.event(involvedOf('batch/v1', 'CronJob', cj.raw), 'Normal', 'SuccessfulCreate', `Created job ${made.name}`);
      return { ref: refOf(made), handled: true };
    } catch (e) {
      if (isStatus(e, 409)) {
        // Created by an earlier sync whose status write was lost: it is this activation's Job.
        const got = childJobOf((await this.ctx.client.request('GET', `${jobsPath(cj.namespace)}/${enc(name)}`, { signal: this.ctx.signal })) as Obj);
        if (got.cronJobUid === cj.uid) return got.finished ? { handled: true } : { ref: refOf(got), handled: true };
        log.info({ job: name }, 'a job of that name exists, not ours');
        return { handled: false };
      }
      void this.recorder.event(involvedOf('batch/v1', 'CronJob', cj.raw), 'Warning', 'FailedCreate', `Error creating job: ${whyOf(e)}`);
      throw e;
    }
  }

  private async deleteJob(cj: CronJobView, ns: string, name: string, uid: string): Promise<void> {
    try {
      await this.ctx.client.request('DELETE', `${jobsPath(ns)}/${enc(name)}`, {
        query: { propagationPolicy: 'Background' },
        body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', preconditions: { uid } },
        attempts: 1,
        signal: this.ctx.signal,
      });
      void this.recorder.event(involvedOf('batch/v1', 'CronJob', cj.raw), 'Normal', 'SuccessfulDelete', `Deleted job ${name}`);
    } catch (e) {
      if (isStatus(e, 404) || isStatus(e, 409)) return;
      void this.recorder.event(involvedOf('batch/v1', 'CronJob', cj.raw), 'Warning', 'FailedDelete', `Deleted job: ${whyOf(e)}`);
      throw e;
    }
  }
}
