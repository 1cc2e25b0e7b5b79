// The Job controller's decisions (pkg/controller/job), pure, for NonIndexed and Indexed Jobs: how many pods to
// create or which to delete given the pods and the clock (parallelism, completions), the back-off
// between recreations after failures, the end of a Job (Complete; Failed by BackoffLimitExceeded or
// DeadlineExceeded, its active pods deleted), suspend and resume, the status, and when a finished
// Job's ttlSecondsAfterFinished runs out. The counts persist in the status: a failed pod deleted
// later still counts (Kubernetes tracks that with a finalizer on each pod; the maximum of the status
// and the pods seen does the same here as long as the controller sees each pod finish once).
import { labelSelectorAsSelector, type LabelSelector, type LabelSelectorObject } from '../../cluster/index.js';
import { podOf, podsToDelete, type PodView } from '../replication/index.js';
import { isObj, numAt, type Obj, objAt, rfc3339, strAt, timeOf as time } from '../fields.js';


export interface JobCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly lastProbeTime?: string;
  readonly lastTransitionTime?: string;
}

export interface JobView {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly parallelism: number;
  readonly completions?: number;
  readonly backoffLimit: number;
  readonly activeDeadlineSeconds?: number;
  readonly ttlSecondsAfterFinished?: number;
  readonly suspend: boolean;
  readonly completionMode: string;
  readonly restartPolicy: string;
  readonly selector: LabelSelector;
  readonly template: Obj;
  readonly startTime?: number;
  readonly completionTime?: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly conditions: readonly JobCondition[];
  readonly deleting: boolean;
  readonly raw: Obj;
}

export function jobOf(o: Obj): JobView {
  const meta = objAt(o, 'metadata');
  const spec = objAt(o, 'spec');
  const status = objAt(o, 'status');
  const template = objAt(spec, 'template');
  let selector: LabelSelector = null;
  try {
    selector = isObj(spec.selector) ? labelSelectorAsSelector(spec.selector as unknown as LabelSelectorObject) : null;
  } catch {
    selector = null; // an operator the apiserver would have refused
  }
  const conditions = (Array.isArray(status.conditions) ? status.conditions.filter(isObj) : []).map((c) => c as unknown as JobCondition);
  const n = (k: string, v: number | undefined): Record<string, number> => (v === undefined ? {} : { [k]: v });
  return {
    namespace: strAt(meta, 'namespace') ?? 'default',
    name: strAt(meta, 'name') ?? '',
    uid: strAt(meta, 'uid') ?? '',
    parallelism: numAt(spec, 'parallelism') ?? 1,
    ...n('completions', numAt(spec, 'completions')),
    backoffLimit: numAt(spec, 'backoffLimit') ?? 6,
    ...n('activeDeadlineSeconds', numAt(spec, 'activeDeadlineSeconds')),
    ...n('ttlSecondsAfterFinished', numAt(spec, 'ttlSecondsAfterFinished')),
    suspend: spec.suspend === true,
    completionMode: strAt(spec, 'completionMode') ?? 'NonIndexed',
    restartPolicy: strAt(objAt(template, 'spec'), 'restartPolicy') ?? '',
    selector,
    template,
    ...n('startTime', time(strAt(status, 'startTime'))),
    ...n('completionTime', time(strAt(status, 'completionTime'))),
    succeeded: numAt(status, 'succeeded') ?? 0,
    failed: numAt(status, 'failed') ?? 0,
    conditions,
    deleting: strAt(meta, 'deletionTimestamp') !== undefined,
    raw: o,
  };
}

/** The completion index of an Indexed Job's pod: an annotation (and, since 1.28, a label). */
export const COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index';

/** A pod of a Job: the replication view, its completion index, and when it finished. */
export interface JobPod extends PodView {
  readonly index?: number;
  /** When it ended (its containers' latest finishedAt, else its latest condition change, else its creation). */
  readonly finishedAt?: number;
}

export function jobPodOf(o: Obj): JobPod {
  const v = podOf(o);
  const idx = strAt(objAt(objAt(o, 'metadata'), 'annotations'), COMPLETION_INDEX);
  const p: JobPod = idx !== undefined && /^\d+$/.test(idx) ? { ...v, index: Number(idx) } : v;
  if (p.phase !== 'Succeeded' && p.phase !== 'Failed') return p;
  const status = objAt(o, 'status');
  const ends = (Array.isArray(status.containerStatuses) ? status.containerStatuses.filter(isObj) : [])
    .map((c) => time(strAt(objAt(objAt(c, 'state'), 'terminated'), 'finishedAt')))
    .filter((t): t is number => t !== undefined);
  const changes = (Array.isArray(status.conditions) ? status.conditions.filter(isObj) : []).map((c) => time(strAt(c, 'lastTransitionTime'))).filter((t): t is number => t !== undefined);
  const finishedAt = ends.length ? Math.max(...ends) : changes.length ? Math.max(...changes) : p.created;
  return finishedAt === undefined ? p : { ...p, finishedAt };
}

const has = (j: JobView, type: string): boolean => j.conditions.some((c) => c.type === type && c.status === 'True');
/** Complete or Failed: nothing more to do but its TTL. */
export const finishedOf = (j: JobView): 'Complete' | 'Failed' | undefined => (has(j, 'Complete') ? 'Complete' : has(j, 'Failed') ? 'Failed' : undefined);

/** Kubernetes' DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff. */
export const JOB_BACKOFF_BASE_MS = 10_000;
export const JOB_BACKOFF_MAX_MS = 10 * 60_000;
/** MaxPodCreateDeletePerSync. */
export const MAX_POD_CREATE_DELETE_PER_SYNC = 500;

export interface JobEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

/** Pure: `status.completedIndexes` (`1,3-5,7`) as a set; what does not parse is skipped. */
export function parseIndexes(s: string | undefined, completions: number): Set<number> {
  const out = new Set<number>();
  for (const part of (s ?? '').split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const lo = Number(m[1]);
    const hi = Math.min(m[2] !== undefined ? Number(m[2]) : lo, completions - 1);
    for (let i = lo; i <= hi; i++) out.add(i);
  }
  return out;
}

/** Pure: a set of indexes as `status.completedIndexes` writes it: ascending, every run of two or more as `a-b`. */
export function formatIndexes(set: ReadonlySet<number>): string {
  const xs = [...set].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j]! + 1) j++;
    parts.push(j > i ? `${xs[i]}-${xs[j]}` : `${xs[i]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export interface JobPlan {
  readonly create: number;
  /** Indexed Jobs: the completion index of each pod to create. */
  readonly createIndexes?: readonly number[];
  readonly delete: readonly JobPod[];
  /** The status to write (when it differs from the Job's). */
  readonly status: Obj;
  readonly events: readonly JobEvent[];
  /** Look again after this long (back-off, deadline, TTL). */
  readonly requeueAfterMs?: number;
  /** The finished Job's TTL is over: delete it. */
  readonly deleteJob?: boolean;
}

const isActive = (p: JobPod): boolean => !p.deleting && p.phase !== 'Succeeded' && p.phase !== 'Failed';

/** Pure: the consecutive failures since the last success and when the latest ended. */
function failuresSinceSuccess(pods: readonly JobPod[]): { count: number; last?: number } {
  const lastSuccess = Math.max(-Infinity, ...pods.filter((p) => p.phase === 'Succeeded').map((p) => p.finishedAt ?? 0));
  const fails = pods.filter((p) => p.phase === 'Failed' && (p.finishedAt ?? 0) > lastSuccess);
  if (!fails.length) return { count: 0 };
  return { count: fails.length, last: Math.max(...fails.map((p) => p.finishedAt ?? 0)) };
}

/** Pure: the delay before the next pod after `failures` consecutive failures (10 s doubling, at most 10 min). */
export const backoffDelay = (failures: number): number => (failures <= 0 ? 0 : Math.min(JOB_BACKOFF_MAX_MS, JOB_BACKOFF_BASE_MS * 2 ** (failures - 1)));

function condition(type: string, status: string, reason: string, message: string, now: number): JobCondition {
  const t = rfc3339(now);
  return { type, status, ...(reason && { reason }), ...(message && { message }), lastProbeTime: t, lastTransitionTime: t };
}

/** Pure: the conditions with `c` set (a condition of its type replaced only when its status changes). */
function withCondition(conds: readonly JobCondition[], c: JobCondition): JobCondition[] {
  const cur = conds.find((x) => x.type === c.type);
  if (cur && cur.status === c.status) return [...conds];
  return [...conds.filter((x) => x.type !== c.type), c];
}

/** Pure: what one sync of the Job does, given its pods (those it controls) at `now`. */
export function planJob(job: JobView, allPods: readonly JobPod[], now: number): JobPlan {
  const pods = allPods.filter((p) => p.namespace === job.namespace);
  const finished = finishedOf(job);
  if (finished) {
    if (job.ttlSecondsAfterFinished === undefined) return { create: 0, delete: [], status: objAt(job.raw, 'status'), events: [] };
    const cond = job.conditions.find((c) => c.type === finished);
    const at = job.completionTime ?? time(cond?.lastTransitionTime) ?? now;
    const left = at + job.ttlSecondsAfterFinished * 1000 - now;
    return { create: 0, delete: [], status: objAt(job.raw, 'status'), events: [], ...(left <= 0 ? { deleteJob: true } : { requeueAfterMs: left }) };
  }
  const active = pods.filter(isActive);
  const indexed = job.completionMode === 'Indexed' && job.completions !== undefined;
  const completions = job.completions ?? 0;
  const completed = parseIndexes(strAt(objAt(job.raw, 'status'), 'completedIndexes'), completions);
  if (indexed) for (const p of pods) if (p.phase === 'Succeeded' && p.index !== undefined && p.index < completions) completed.add(p.index);
  const succeeded = indexed ? completed.size : Math.max(job.succeeded, pods.filter((p) => p.phase === 'Succeeded').length);
  let failed = Math.max(job.failed, pods.filter((p) => p.phase === 'Failed').length);
  let conditions = [...job.conditions];
  const events: JobEvent[] = [];
  let startTime = job.startTime;
  let completionTime: number | undefined;
  let create = 0;
  let createIndexes: number[] | undefined;
  let del: JobPod[] = [];
  let requeue: number | undefined;
  let activeAfter = active.length;

  if (job.suspend) {
    del = active;
    activeAfter = 0;
    if (!has(job, 'Suspended')) {
      conditions = withCondition(conditions, condition('Suspended', 'True', 'JobSuspended', 'Job suspended', now));
      events.push({ type: 'Normal', reason: 'Suspended', message: 'Job suspended' });
    }
  } else {
    if (has(job, 'Suspended')) {
      conditions = withCondition(conditions, condition('Suspended', 'False', 'JobResumed', 'Job resumed', now));
      events.push({ type: 'Normal', reason: 'Resumed', message: 'Job resumed' });
      // The deadline counts from the resumption.
      startTime = now;
    }
    startTime ??= now;
    // pastBackoffLimitOnFailure: with OnFailure the kubelet restarts in place; the restarts count.
    const restarts = active.reduce((n, p) => n + p.restarts, 0);
    const onFailureExceeded = job.restartPolicy === 'OnFailure' && (job.backoffLimit === 0 ? restarts > 0 : restarts >= job.backoffLimit);
    const deadlineAt = job.activeDeadlineSeconds !== undefined ? startTime + job.activeDeadlineSeconds * 1000 : undefined;
    let failure: [string, string] | undefined;
    if (failed > job.backoffLimit || onFailureExceeded) failure = ['BackoffLimitExceeded', 'Job has reached the specified backoff limit'];
    else if (deadlineAt !== undefined && now >= deadlineAt) failure = ['DeadlineExceeded', 'Job was active longer than specified deadline'];
    if (failure) {
      del = active;
      failed += active.length;
      activeAfter = 0;
      conditions = withCondition(conditions, condition('Failed', 'True', failure[0], failure[1], now));
      events.push({ type: 'Warning', reason: failure[0], message: failure[1] });
    } else {
      let wantActive: number;
      if (job.completions === undefined) wantActive = succeeded > 0 ? active.length : job.parallelism;
      else wantActive = Math.max(0, Math.min(job.completions - succeeded, job.parallelism));
      // Indexed: a pod without a valid index, of an index done already, or a second one of an index, goes first.
      const keep: JobPod[] = [];
      const extra: JobPod[] = [];
      if (indexed) {
        const seen = new Set<number>();
        const oldestFirst = [...active].sort((a, b) => (a.created ?? 0) - (b.created ?? 0) || (a.name < b.name ? -1 : 1));
        for (const p of oldestFirst) {
          if (p.index === undefined || p.index >= completions || completed.has(p.index) || seen.has(p.index)) extra.push(p);
          else {
            seen.add(p.index);
            keep.push(p);
          }
        }
      } else keep.push(...active);
      const rm = Math.max(0, keep.length - wantActive);
      del = [...extra, ...(podsToDelete(keep, rm) as JobPod[])].slice(0, MAX_POD_CREATE_DELETE_PER_SYNC);
      activeAfter = active.length - del.length;
      if (activeAfter < wantActive) {
        const f = failuresSinceSuccess(pods);
        const readyAt = f.last !== undefined ? f.last + backoffDelay(f.count) : now;
        if (readyAt > now) requeue = readyAt - now;
        else create = Math.min(wantActive - activeAfter, MAX_POD_CREATE_DELETE_PER_SYNC);
        if (indexed && create > 0) {
          const taken = new Set(keep.filter((p) => !del.includes(p)).map((p) => p.index));
          createIndexes = [];
          for (let i = 0; i < completions && createIndexes.length < create; i++) if (!completed.has(i) && !taken.has(i)) createIndexes.push(i);
          create = createIndexes.length;
        }
      }
      const complete = job.completions === undefined ? succeeded > 0 && activeAfter === 0 : succeeded >= job.completions && activeAfter === 0;
      if (complete) {
        conditions = withCondition(conditions, condition('Complete', 'True', '', '', now));
        completionTime = now;
        events.push({ type: 'Normal', reason: 'Completed', message: 'Job completed' });
        create = 0;
        createIndexes = undefined;
        requeue = job.ttlSecondsAfterFinished !== undefined ? job.ttlSecondsAfterFinished * 1000 : undefined;
      } else if (deadlineAt !== undefined) {
        requeue = Math.min(requeue ?? Infinity, deadlineAt - now);
      }
    }
  }
  const ready = active.filter((p) => p.readySince !== undefined && !del.includes(p)).length;
  const status: Obj = {
    ...objAt(job.raw, 'status'),
    ...(conditions.length && { conditions }),
    ...(startTime !== undefined && { startTime: rfc3339(startTime) }),
    ...(completionTime !== undefined && { completionTime: rfc3339(completionTime) }),
    ...(indexed && completed.size > 0 && { completedIndexes: formatIndexes(completed) }),
    active: activeAfter + create,
    succeeded,
    failed,
    ready,
  };
  // omitempty, as the API prints them: no zero counts.
  for (const k of ['active', 'succeeded', 'failed'] as const) if (status[k] === 0) delete status[k];
  return { create, ...(createIndexes && { createIndexes }), delete: del, status, events, ...(requeue !== undefined && { requeueAfterMs: Math.max(1, requeue) }) };
}

/** Pure: the status differs from the Job's own. */
export function jobStatusChanged(job: JobView, status: Obj): boolean {
  return JSON.stringify(sortKeys(objAt(job.raw, 'status'))) !== JSON.stringify(sortKeys(status));
}
const sortKeys = (v: unknown): unknown => (Array.isArray(v) ? v.map(sortKeys) : isObj(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])])) : v);

/**
 * Pure: a new pod of the Job: generateName `<job>-` (`<job>-<index>-` when Indexed), the template's labels
 * (the job-name and controller-uid ones the apiserver put there), the Job as controller; an Indexed pod
 * also gets its index as annotation and label, `hostname: <job>-<index>`, and JOB_COMPLETION_INDEX in
 * every container's environment from that annotation, as Kubernetes adds them.
 */
export function jobPodFromTemplate(job: JobView, index?: number): Obj {
  const tm = objAt(job.template, 'metadata');
  const labels: Record<string, unknown> = { ...objAt(tm, 'labels'), ...(index !== undefined && { [COMPLETION_INDEX]: String(index) }) };
  const annotations: Record<string, unknown> = { ...objAt(tm, 'annotations'), ...(index !== undefined && { [COMPLETION_INDEX]: String(index) }) };
  let spec = objAt(job.template, 'spec');
  if (index !== undefined) {
    const env = { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX}']` } } };
    const withEnv = (cs: unknown): unknown =>
      Array.isArray(cs) ? cs.map((c) => (isObj(c) ? { ...c, env: [...(Array.isArray(c.env) ? c.env.filter((e) => !(isObj(e) && e.name === env.name)) : []), env] } : c)) : cs;
    spec = { ...spec, hostname: strAt(spec, 'hostname') ?? `${job.name}-${index}`, containers: withEnv(spec.containers), ...(Array.isArray(spec.initContainers) && { initContainers: withEnv(spec.initContainers) }) };
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: index !== undefined ? `${job.name}-${index}-` : `${job.name}-`,
      namespace: job.namespace,
      ...(Object.keys(labels).length && { labels }),
      ...(Object.keys(annotations).length && { annotations }),
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: job.name, uid: job.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec,
  };
}
