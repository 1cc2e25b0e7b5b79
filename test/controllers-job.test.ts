// The Job controller's pure decisions: pods to create or delete given the pods and the clock,
// completion, back-off between recreations, backoffLimit, activeDeadlineSeconds, suspend, TTL.
import { describe, expect, it } from 'vitest';
import { job } from '../controllers/index.js';

const { jobOf, jobPodOf, planJob, backoffDelay, jobPodFromTemplate, finishedOf } = job;

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
