// The CronJob controller's decisions (cronjob_controllerv2), pure: which of its Jobs are still active,
// whether the schedule is due at `now` (startingDeadlineSeconds, concurrencyPolicy, suspend), the Job
// made from the template (named `<cronjob>-<scheduled minute since the epoch>`), and the finished Jobs
// past the history limits. The clock is an argument: unit tests run a year of schedules in a blink.
import { CronSyntaxError, mostRecentScheduleTime, nextAfter, parseSchedule, type Schedule } from './schedule.js';
import { isObj, numAt, type Obj, objAt, rfc3339, strAt, timeOf as time } from '../fields.js';


export interface ActiveRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion?: string;
}

export interface CronJobView {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly schedule: string;
  readonly timeZone?: string;
  readonly concurrencyPolicy: string;
  readonly suspend: boolean;
  readonly startingDeadlineSeconds?: number;
  readonly successfulJobsHistoryLimit?: number;
  readonly failedJobsHistoryLimit?: number;
  readonly created: number;
  readonly lastScheduleTime?: number;
  readonly lastSuccessfulTime?: number;
  readonly active: readonly ActiveRef[];
  readonly deleting: boolean;
  readonly raw: Obj;
}

export function cronJobOf(o: Obj): CronJobView {
  const meta = objAt(o, 'metadata');
  const spec = objAt(o, 'spec');
  const status = objAt(o, 'status');
  const active = (Array.isArray(status.active) ? status.active.filter(isObj) : []).map((r) => ({
    apiVersion: strAt(r, 'apiVersion') ?? 'batch/v1',
    kind: strAt(r, 'kind') ?? 'Job',
    namespace: strAt(r, 'namespace') ?? strAt(meta, 'namespace') ?? 'default',
    name: strAt(r, 'name') ?? '',
    uid: strAt(r, 'uid') ?? '',
    ...(strAt(r, 'resourceVersion') !== undefined && { resourceVersion: strAt(r, 'resourceVersion')! }),
  }));
  const opt = <K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } => (v === undefined ? {} : ({ [k]: v } as { [P in K]: V }));
  return {
    namespace: strAt(meta, 'namespace') ?? 'default',
    name: strAt(meta, 'name') ?? '',
    uid: strAt(meta, 'uid') ?? '',
    schedule: strAt(spec, 'schedule') ?? '',
    ...opt('timeZone', strAt(spec, 'timeZone')),
    concurrencyPolicy: strAt(spec, 'concurrencyPolicy') ?? 'Allow',
    suspend: spec.suspend === true,
    ...opt('startingDeadlineSeconds', numAt(spec, 'startingDeadlineSeconds')),
    ...opt('successfulJobsHistoryLimit', numAt(spec, 'successfulJobsHistoryLimit')),
    ...opt('failedJobsHistoryLimit', numAt(spec, 'failedJobsHistoryLimit')),
    created: time(strAt(meta, 'creationTimestamp')) ?? 0,
    ...opt('lastScheduleTime', time(strAt(status, 'lastScheduleTime'))),
    ...opt('lastSuccessfulTime', time(strAt(status, 'lastSuccessfulTime'))),
    active,
    deleting: strAt(meta, 'deletionTimestamp') !== undefined,
    raw: o,
  };
}

/** A Job, as much as the CronJob controller reads. */
export interface ChildJob {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  /** The uid of its controller owner reference, if a CronJob's. */
  readonly cronJobUid?: string;
  /** Its Complete or Failed condition, when it is finished. */
  readonly finished?: 'Complete' | 'Failed';
  readonly startTime?: number;
  readonly completionTime?: number;
}

export function childJobOf(o: Obj): ChildJob {
  const meta = objAt(o, 'metadata');
  const status = objAt(o, 'status');
  const refs = Array.isArray(meta.ownerReferences) ? meta.ownerReferences.filter(isObj) : [];
  const ctl = refs.find((r) => r.controller === true && r.kind === 'CronJob');
  const conds = Array.isArray(status.conditions) ? status.conditions.filter(isObj) : [];
  const done = conds.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
  const startTime = time(strAt(status, 'startTime'));
  const completionTime = time(strAt(status, 'completionTime'));
  return {
    namespace: strAt(meta, 'namespace') ?? 'default',
    name: strAt(meta, 'name') ?? '',
    uid: strAt(meta, 'uid') ?? '',
    resourceVersion: strAt(meta, 'resourceVersion') ?? '',
    ...(ctl && { cronJobUid: strAt(ctl, 'uid') ?? '' }),
    ...(done && { finished: done.type as 'Complete' | 'Failed' }),
    ...(startTime !== undefined && { startTime }),
    ...(completionTime !== undefined && { completionTime }),
  };
}

export interface CronEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

export interface ActiveReconciled {
  readonly active: ActiveRef[];
  readonly lastSuccessfulTime?: number;
  readonly events: CronEvent[];
  /** Active entries whose Job the cache does not have: the controller asks the API before dropping them. */
  readonly missing: ActiveRef[];
  readonly changed: boolean;
}

export const refOf = (j: ChildJob): ActiveRef => ({ apiVersion: 'batch/v1', kind: 'Job', namespace: j.namespace, name: j.name, uid: j.uid, resourceVersion: j.resourceVersion });

/** Pure: the status' active list against the CronJob's Jobs: finished ones leave it (SawCompletedJob), lastSuccessfulTime follows the latest completion. */
export function reconcileActive(cj: CronJobView, jobs: readonly ChildJob[]): ActiveReconciled {
  const mine = jobs.filter((j) => j.cronJobUid === cj.uid && j.namespace === cj.namespace);
  const events: CronEvent[] = [];
  let active = [...cj.active];
  let last = cj.lastSuccessfulTime;
  let changed = false;
  for (const j of mine) {
    const listed = active.some((r) => r.uid === j.uid);
    if (!listed && !j.finished) {
      events.push({ type: 'Warning', reason: 'UnexpectedJob', message: `Saw a job that the controller did not create or forgot: ${j.name}` });
    } else if (listed && j.finished) {
      active = active.filter((r) => r.uid !== j.uid);
      events.push({ type: 'Normal', reason: 'SawCompletedJob', message: `Saw completed job: ${j.name}, condition: ${j.finished}` });
      changed = true;
    }
    if (j.finished === 'Complete' && j.completionTime !== undefined && (last === undefined || j.completionTime > last)) {
      last = j.completionTime;
      changed = true;
    }
  }
  const missing = active.filter((r) => !mine.some((j) => j.uid === r.uid));
  return { active, ...(last !== undefined && { lastSuccessfulTime: last }), events, missing, changed };
}

/** What the schedule asks for now. */
export type CronDecision =
  | { readonly kind: 'suspended' }
  | { readonly kind: 'unparseable'; readonly event: CronEvent }
  | { readonly kind: 'wait'; readonly events: CronEvent[]; readonly requeueAfterMs?: number }
  | { readonly kind: 'run'; readonly scheduledTime: number; readonly replace: readonly ActiveRef[]; readonly events: CronEvent[]; readonly requeueAfterMs?: number };

/** Pure: the CronJob's schedule, with its time zone; throws CronSyntaxError. */
export const scheduleOf = (cj: CronJobView): Schedule => parseSchedule(cj.schedule, cj.timeZone);

/** RFC 1123 with a numeric zone, as Go's time.RFC1123Z prints UTC. */
const rfc1123z = (t: number): string => new Date(t).toUTCString().replace('GMT', '+0000');

/** How long until the next activation after `now`, plus a little (Kubernetes adds 100 ms), or undefined. */
export function requeueAfter(s: Schedule, now: number): number | undefined {
  const n = nextAfter(s, now);
  return n === undefined ? undefined : n - now + 100;
}

/** Pure: syncCronJob's decision at `now`, `active` being the reconciled active list. */
export function decide(cj: CronJobView, active: readonly ActiveRef[], now: number): CronDecision {
  if (cj.suspend) return { kind: 'suspended' };
  let sched: Schedule;
  try {
    sched = scheduleOf(cj);
  } catch (e) {
    const reason = e instanceof CronSyntaxError ? e.reason : String(e);
    return { kind: 'unparseable', event: { type: 'Warning', reason: 'UnparseableSchedule', message: `unparseable schedule: ${JSON.stringify(cj.schedule)} : ${reason}` } };
  }
  const events: CronEvent[] = [];
  let earliest = cj.lastScheduleTime ?? cj.created;
  if (cj.startingDeadlineSeconds !== undefined) earliest = Math.max(earliest, now - cj.startingDeadlineSeconds * 1000);
  const recent = mostRecentScheduleTime(sched, earliest, now);
  const next = requeueAfter(sched, now);
  const wait = (): CronDecision => ({ kind: 'wait', events, ...(next !== undefined && { requeueAfterMs: next }) });
  if (recent.missed > 100)
    events.push({ type: 'Warning', reason: 'TooManyMissedTimes', message: `too many missed start times: ${recent.missed > 100 ? '> 100' : recent.missed}. Set or decrease .spec.startingDeadlineSeconds or check clock skew` });
  if (recent.time === undefined) return wait();
  const scheduledTime = recent.time;
  if (cj.startingDeadlineSeconds !== undefined && scheduledTime + cj.startingDeadlineSeconds * 1000 < now) {
    events.push({ type: 'Warning', reason: 'MissSchedule', message: `Missed scheduled time to start a job: ${rfc1123z(scheduledTime)}` });
    return wait();
  }
  const name = jobNameOf(cj.name, scheduledTime);
  if (active.some((r) => r.name === name) || cj.lastScheduleTime === scheduledTime) return wait();
  if (cj.concurrencyPolicy === 'Forbid' && active.length > 0) {
    events.push({ type: 'Normal', reason: 'JobAlreadyActive', message: 'Not starting job because prior execution is running and concurrency policy is Forbid' });
    return wait();
  }
  const replace = cj.concurrencyPolicy === 'Replace' ? [...active] : [];
  return { kind: 'run', scheduledTime, replace, events, ...(next !== undefined && { requeueAfterMs: next }) };
}

/** Pure: getJobName: the scheduled time in minutes since the epoch, so a retried creation hits the same name. */
export const jobNameOf = (cronJob: string, scheduledTime: number): string => `${cronJob}-${Math.floor(scheduledTime / 60_000)}`;

/** The annotation Kubernetes (1.28+) puts on a CronJob's Job: the time it was scheduled for. */
export const SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';

/** Pure: getJobFromTemplate2: the Job for `scheduledTime`, the template's labels and annotations, the CronJob as its controller. */
export function jobFromTemplate(cj: CronJobView, scheduledTime: number): Obj {
  const jt = objAt(objAt(cj.raw, 'spec'), 'jobTemplate');
  const tm = objAt(jt, 'metadata');
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobNameOf(cj.name, scheduledTime),
      namespace: cj.namespace,
      labels: { ...objAt(tm, 'labels') },
      annotations: { ...objAt(tm, 'annotations'), [SCHEDULED_TIMESTAMP_ANNOTATION]: rfc3339(scheduledTime) },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cj.name, uid: cj.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: objAt(jt, 'spec'),
  };
}

/** Pure: cleanupFinishedJobs: the oldest finished Jobs (by start time) beyond each history limit. */
export function jobsPastHistory(cj: CronJobView, jobs: readonly ChildJob[]): ChildJob[] {
  const mine = jobs.filter((j) => j.cronJobUid === cj.uid && j.namespace === cj.namespace && !cj.active.some((r) => r.uid === j.uid));
  const byStart = (a: ChildJob, b: ChildJob): number => {
    if (a.startTime === undefined && b.startTime !== undefined) return 1;
    if (b.startTime === undefined && a.startTime !== undefined) return -1;
    if (a.startTime !== b.startTime) return (a.startTime ?? 0) - (b.startTime ?? 0);
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  };
  const past = (kind: 'Complete' | 'Failed', limit: number | undefined): ChildJob[] => {
    if (limit === undefined) return [];
    const done = mine.filter((j) => j.finished === kind).sort(byStart);
    return done.slice(0, Math.max(0, done.length - limit));
  };
  return [...past('Complete', cj.successfulJobsHistoryLimit), ...past('Failed', cj.failedJobsHistoryLimit)];
}

/** The status the controller writes (only when it differs). */
export function cronStatusOf(active: readonly ActiveRef[], lastScheduleTime: number | undefined, lastSuccessfulTime: number | undefined): Obj {
  return {
    ...(active.length && { active: active.map((r) => ({ ...r })) }),
    ...(lastScheduleTime !== undefined && { lastScheduleTime: rfc3339(lastScheduleTime) }),
    ...(lastSuccessfulTime !== undefined && { lastSuccessfulTime: rfc3339(lastSuccessfulTime) }),
  };
}
