// The Job controller's pure decisions: pods to create or delete given the pods and the clock,
// completion, back-off between recreations, backoffLimit, activeDeadlineSeconds, suspend, TTL.
import { describe, expect, it } from 'vitest';
import { job } from '../controllers/index.js';

const { jobOf, jobPodOf, planJob, backoffDelay, jobPodFromTemplate, finishedOf, parseIndexes, formatIndexes } = job;

const T0 = Date.parse('2024-03-05T10:00:00Z');
const at = (s: number): string => new Date(T0 + s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

const JOB = (spec: Record<string, unknown> = {}, status: Record<string, unknown> = {}) =>
  jobOf({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'pi', namespace: 'default', uid: 'job-uid', creationTimestamp: at(0) },
    spec: {
      parallelism: 1,
      completions: 1,
      backoffLimit: 6,
      completionMode: 'NonIndexed',
      suspend: false,
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'job-uid' } },
      template: { metadata: { labels: { 'batch.kubernetes.io/controller-uid': 'job-uid', 'job-name': 'pi' } }, spec: { containers: [{ name: 'pi', image: 'perl' }], restartPolicy: 'Never' } },
      ...spec,
    },
    status,
  });

let n = 0;
/** A pod of the Job in `phase`, created at `created` s, finished at `finished` s. */
const POD = (phase: string, created = 0, finished?: number, extra: Record<string, unknown> = {}) =>
  jobPodOf({
    metadata: { name: `pi-${n}`, namespace: 'default', uid: `pod-${n++}`, creationTimestamp: at(created), ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'pi', uid: 'job-uid', controller: true }] },
    spec: {},
    status: {
      phase,
      ...(finished !== undefined && { containerStatuses: [{ name: 'pi', restartCount: 0, state: { terminated: { exitCode: phase === 'Failed' ? 1 : 0, finishedAt: at(finished) } } }] }),
      ...extra,
    },
  });

describe('Job: creating, completing', () => {
  it('a new Job gets its pod and a start time', () => {
    const p = planJob(JOB(), [], T0 + 1000);
    expect(p.create).toBe(1);
    expect(p.delete).toEqual([]);
    expect(p.status).toMatchObject({ startTime: at(1), active: 1, ready: 0 });
    expect(p.events).toEqual([]);
  });

  it('the pod from the template carries its labels and the Job as controller', () => {
    const pod = jobPodFromTemplate(JOB()) as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
    expect(pod.metadata).toEqual({
      generateName: 'pi-',
      namespace: 'default',
      labels: { 'batch.kubernetes.io/controller-uid': 'job-uid', 'job-name': 'pi' },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'pi', uid: 'job-uid', controller: true, blockOwnerDeletion: true }],
    });
    expect(pod.spec.restartPolicy).toBe('Never');
  });

  it('a running pod: nothing to do; its readiness counts', () => {
    const ready = POD('Running', 0, undefined, { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: at(2) }] });
    const p = planJob(JOB({}, { startTime: at(0), active: 1 }), [ready], T0 + 5000);
    expect(p).toMatchObject({ create: 0, delete: [], status: { active: 1, ready: 1 } });
  });

  it('succeeded: Complete with completionTime and the Completed event', () => {
    const p = planJob(JOB({}, { startTime: at(0), active: 1 }), [POD('Succeeded', 0, 30)], T0 + 31_000);
    expect(p.create).toBe(0);
    expect(p.events).toEqual([{ type: 'Normal', reason: 'Completed', message: 'Job completed' }]);
    expect(p.status).toMatchObject({ succeeded: 1, completionTime: at(31), conditions: [{ type: 'Complete', status: 'True' }] });
    expect(p.status.active).toBeUndefined();
    expect(finishedOf(jobOf({ spec: {}, status: p.status }))).toBe('Complete');
  });

  it('completions 5, parallelism 2: two at a time, never more than the remaining completions', () => {
    const spec = { completions: 5, parallelism: 2 };
    expect(planJob(JOB(spec), [], T0).create).toBe(2);
    const done = [POD('Succeeded', 0, 5), POD('Succeeded', 0, 6), POD('Succeeded', 6, 9)];
    expect(planJob(JOB(spec, { startTime: at(0) }), [...done, POD('Running', 9)], T0 + 10_000).create).toBe(1);
    // Four succeeded and two running: one is too many.
    const p = planJob(JOB(spec, { startTime: at(0) }), [...done, POD('Succeeded', 9, 10), POD('Running', 10), POD('Pending', 11)], T0 + 12_000);
    expect(p.create).toBe(0);
    expect(p.delete.map((x) => x.phase)).toEqual(['Pending']);
  });

  it('no completions (a work queue): done once one succeeded and none is left running', () => {
    const spec = { completions: undefined, parallelism: 3 };
    expect(planJob(JOB(spec), [], T0).create).toBe(3);
    const running = planJob(JOB(spec, { startTime: at(0) }), [POD('Succeeded', 0, 5), POD('Running'), POD('Running')], T0 + 6000);
    expect(running).toMatchObject({ create: 0, delete: [] });
    expect(running.events).toEqual([]);
    const done = planJob(JOB(spec, { startTime: at(0) }), [POD('Succeeded', 0, 5), POD('Succeeded', 0, 6), POD('Failed', 0, 7)], T0 + 8000);
    expect(done.events.map((e) => e.reason)).toEqual(['Completed']);
  });
});

describe('Job: failures', () => {
  it('back-off between recreations: 10 s after the first failure, 20 s after the second, at most 10 min', () => {
    expect([1, 2, 3, 7, 20].map(backoffDelay)).toEqual([10_000, 20_000, 40_000, 600_000, 600_000]);
    const failed = POD('Failed', 0, 5);
    const early = planJob(JOB({}, { startTime: at(0) }), [failed], T0 + 8_000);
    expect(early.create).toBe(0);
    expect(early.requeueAfterMs).toBe(7_000);
    expect(early.status).toMatchObject({ failed: 1 });
    expect(planJob(JOB({}, { startTime: at(0) }), [failed], T0 + 15_000).create).toBe(1);
    const two = [POD('Failed', 0, 5), POD('Failed', 15, 20)];
    expect(planJob(JOB({}, { startTime: at(0) }), two, T0 + 30_000)).toMatchObject({ create: 0, requeueAfterMs: 10_000 });
    expect(planJob(JOB({}, { startTime: at(0) }), two, T0 + 40_000).create).toBe(1);
  });

  it('backoffLimit: failing once more than the limit fails the Job (BackoffLimitExceeded)', () => {
    const spec = { backoffLimit: 1 };
    expect(planJob(JOB(spec, { startTime: at(0) }), [POD('Failed', 0, 5)], T0 + 20_000).create).toBe(1);
    const p = planJob(JOB(spec, { startTime: at(0) }), [POD('Failed', 0, 5), POD('Failed', 15, 25)], T0 + 26_000);
    expect(p.create).toBe(0);
    expect(p.events).toEqual([{ type: 'Warning', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }]);
    expect(p.status).toMatchObject({ failed: 2, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] });
    expect(p.status.completionTime).toBeUndefined();
  });

  it('the counts in the status never go down when finished pods go', () => {
    const p = planJob(JOB({ backoffLimit: 3 }, { startTime: at(0), failed: 2, succeeded: 1 }), [], T0 + 100_000);
    expect(p.status).toMatchObject({ failed: 2, succeeded: 1 });
    expect(planJob(JOB({ backoffLimit: 1 }, { startTime: at(0), failed: 2 }), [], T0 + 100_000).events.map((e) => e.reason)).toEqual(['BackoffLimitExceeded']);
  });

  it('OnFailure: restarts in place count against backoffLimit', () => {
    const restarting = jobPodOf({
      metadata: { name: 'r', namespace: 'default', uid: 'r', ownerReferences: [{ kind: 'Job', name: 'pi', uid: 'job-uid', controller: true }] },
      status: { phase: 'Running', containerStatuses: [{ name: 'pi', restartCount: 2 }] },
    });
    const tpl = { metadata: { labels: {} }, spec: { containers: [{ name: 'pi', image: 'perl' }], restartPolicy: 'OnFailure' } };
    expect(planJob(JOB({ backoffLimit: 3, template: tpl }, { startTime: at(0), active: 1 }), [restarting], T0).events).toEqual([]);
    const p = planJob(JOB({ backoffLimit: 2, template: tpl }, { startTime: at(0), active: 1 }), [restarting], T0);
    expect(p.events.map((e) => e.reason)).toEqual(['BackoffLimitExceeded']);
    expect(p.delete).toHaveLength(1);
  });

  it('activeDeadlineSeconds: a Job active longer fails (DeadlineExceeded), its active pods deleted; before, it asks to be woken then', () => {
    const spec = { activeDeadlineSeconds: 100 };
    const running = POD('Running', 0);
    const before = planJob(JOB(spec, { startTime: at(0), active: 1 }), [running], T0 + 40_000);
    expect(before).toMatchObject({ create: 0, delete: [], requeueAfterMs: 60_000 });
    const p = planJob(JOB(spec, { startTime: at(0), active: 1 }), [running], T0 + 100_000);
    expect(p.delete).toEqual([running]);
    expect(p.events).toEqual([{ type: 'Warning', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }]);
    expect(p.status).toMatchObject({ failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }] });
    expect(p.status.active).toBeUndefined();
  });

  it('a finished Job is left alone', () => {
    const failed = JOB({ activeDeadlineSeconds: 100 }, { startTime: at(0), failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }] });
    expect(planJob(failed, [POD('Running')], T0 + 500_000)).toMatchObject({ create: 0, delete: [], events: [] });
  });
});

describe('Job: suspend and TTL', () => {
  it('suspend deletes the active pods (Suspended); resume restarts the clock (Resumed)', () => {
    const running = POD('Running');
    const s = planJob(JOB({ suspend: true }, { startTime: at(0), active: 1 }), [running], T0 + 10_000);
    expect(s.delete).toEqual([running]);
    expect(s.create).toBe(0);
    expect(s.events).toEqual([{ type: 'Normal', reason: 'Suspended', message: 'Job suspended' }]);
    expect(s.status.conditions).toMatchObject([{ type: 'Suspended', status: 'True', reason: 'JobSuspended', message: 'Job suspended' }]);
    // A Job created suspended has no start time.
    expect(planJob(JOB({ suspend: true }), [], T0).status.startTime).toBeUndefined();
    const r = planJob(JOB({ activeDeadlineSeconds: 100 }, { startTime: at(0), conditions: s.status.conditions }), [], T0 + 200_000);
    expect(r.events).toEqual([{ type: 'Normal', reason: 'Resumed', message: 'Job resumed' }]);
    expect(r.create).toBe(1);
    expect(r.status).toMatchObject({ startTime: at(200), conditions: [{ type: 'Suspended', status: 'False', reason: 'JobResumed' }] });
  });

  it('ttlSecondsAfterFinished: deleted once the time after completion has passed', () => {
    const done = { startTime: at(0), completionTime: at(30), succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] };
    expect(planJob(JOB({ ttlSecondsAfterFinished: 60 }, done), [], T0 + 50_000)).toMatchObject({ requeueAfterMs: 40_000 });
    expect(planJob(JOB({ ttlSecondsAfterFinished: 60 }, done), [], T0 + 90_000).deleteJob).toBe(true);
    expect(planJob(JOB({}, done), [], T0 + 90_000).deleteJob).toBeUndefined();
  });
});

describe('Job: Indexed', () => {
  const IDX = (i: number, phase: string, created = 0, finished?: number) => {
    const p = POD(phase, created, finished);
    return jobPodOf({
      metadata: { name: p.name, namespace: 'default', uid: p.uid, creationTimestamp: at(created), annotations: { 'batch.kubernetes.io/job-completion-index': String(i) }, ownerReferences: p.ownerReferences },
      status: { phase, ...(finished !== undefined && { containerStatuses: [{ name: 'pi', state: { terminated: { finishedAt: at(finished) } } }] }) },
    });
  };
  const spec = { completionMode: 'Indexed', completions: 5, parallelism: 2 };

  it('completedIndexes reads and writes as Kubernetes spells it', () => {
    expect([...parseIndexes('1,3-5,7', 10)]).toEqual([1, 3, 4, 5, 7]);
    expect([...parseIndexes('3-9', 5)]).toEqual([3, 4]);
    expect(formatIndexes(new Set([7, 1, 3, 4, 5, 0]))).toBe('0-1,3-5,7');
    expect(formatIndexes(new Set())).toBe('');
  });

  it('creates the lowest missing indexes, each pod with its index, hostname and JOB_COMPLETION_INDEX', () => {
    const first = planJob(JOB(spec), [], T0);
    expect(first.createIndexes).toEqual([0, 1]);
    const pods = [IDX(0, 'Succeeded', 0, 5), IDX(1, 'Running'), IDX(2, 'Succeeded', 0, 6)];
    const p = planJob(JOB(spec, { startTime: at(0) }), pods, T0 + 10_000);
    expect(p.createIndexes).toEqual([3]);
    expect(p.status).toMatchObject({ succeeded: 2, completedIndexes: '0,2', active: 2 });
    const pod = jobPodFromTemplate(JOB(spec), 3) as { metadata: Record<string, any>; spec: Record<string, any> };
    expect(pod.metadata.generateName).toBe('pi-3-');
    expect(pod.metadata.annotations['batch.kubernetes.io/job-completion-index']).toBe('3');
    expect(pod.metadata.labels['batch.kubernetes.io/job-completion-index']).toBe('3');
    expect(pod.spec.hostname).toBe('pi-3');
    expect(pod.spec.containers[0].env).toEqual([{ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } }]);
  });

  it('a second pod of one index, or of an index done, is deleted; complete when every index succeeded', () => {
    const dup = [IDX(0, 'Running', 0), IDX(0, 'Running', 3), IDX(1, 'Succeeded', 0, 2), IDX(1, 'Running', 4)];
    const p = planJob(JOB(spec, { startTime: at(0) }), dup, T0 + 10_000);
    expect(p.delete.map((x) => x.name).sort()).toEqual([dup[1]!.name, dup[3]!.name].sort());
    const all = [0, 1, 2, 3, 4].map((i) => IDX(i, 'Succeeded', 0, 5));
    const done = planJob(JOB(spec, { startTime: at(0) }), all, T0 + 10_000);
    expect(done.events.map((e) => e.reason)).toEqual(['Completed']);
    expect(done.status).toMatchObject({ succeeded: 5, completedIndexes: '0-4' });
  });
});
