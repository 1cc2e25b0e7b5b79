// The CronJob controller's pure parts: the cron schedule (robfig/cron's ParseStandard, as Kubernetes
// reads spec.schedule) and its next activations, and the decisions at a given clock.
import { describe, expect, it } from 'vitest';
import { cronjob } from '../controllers/index.js';

const { parseSchedule, nextAfter, mostRecentScheduleTime, CronSyntaxError, decide, cronJobOf, childJobOf, reconcileActive, jobFromTemplate, jobNameOf, jobsPastHistory, parseGoDuration } = cronjob;

const T = (s: string): number => Date.parse(s);
const iso = (t: number | undefined): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());
/** The first `n` activations after `from`. */
function nexts(spec: string, from: string, n: number, tz?: string): string[] {
  const s = parseSchedule(spec, tz);
  const out: string[] = [];
  let t: number | undefined = T(from);
  for (let i = 0; i < n && t !== undefined; i++) {
    t = nextAfter(s, t);
    if (t !== undefined) out.push(new Date(t).toISOString());
  }
  return out;
}

describe('cron schedule: parsing', () => {
  it('reads values, ranges, steps, lists, names and stars', () => {
    const s = parseSchedule('*/15 9-17 1,15 jan-MAR mon-fri');
    if (s.kind !== 'cron') throw new Error('kind');
    expect([...s.minutes]).toEqual([0, 15, 30, 45]);
    expect([...s.hours]).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17]);
    expect([...s.doms]).toEqual([1, 15]);
    expect([...s.months]).toEqual([1, 2, 3]);
    expect([...s.dows]).toEqual([1, 2, 3, 4, 5]);
    expect(s.domStar).toBe(false);
    const t = parseSchedule('5/20 * ? * *');
    if (t.kind !== 'cron') throw new Error('kind');
    expect([...t.minutes]).toEqual([5, 25, 45]); // N/step means N-max/step
    expect(t.domStar).toBe(true);
    const u = parseSchedule('0 0 */1 * *');
    if (u.kind !== 'cron') throw new Error('kind');
    expect(u.domStar).toBe(true); // a step of 1 keeps the star
    const v = parseSchedule('0 0 */2 * *');
    if (v.kind !== 'cron') throw new Error('kind');
    expect(v.domStar).toBe(false);
  });

  it('knows the descriptors and @every', () => {
    expect(nexts('@hourly', '2024-03-05T10:20:00Z', 2)).toEqual(['2024-03-05T11:00:00.000Z', '2024-03-05T12:00:00.000Z']);
    expect(nexts('@daily', '2024-03-05T10:20:00Z', 1)).toEqual(['2024-03-06T00:00:00.000Z']);
    expect(nexts('@midnight', '2024-03-05T10:20:00Z', 1)).toEqual(['2024-03-06T00:00:00.000Z']);
    expect(nexts('@weekly', '2024-03-05T10:20:00Z', 1)).toEqual(['2024-03-10T00:00:00.000Z']); // a Sunday
    expect(nexts('@monthly', '2024-03-05T10:20:00Z', 1)).toEqual(['2024-04-01T00:00:00.000Z']);
    expect(nexts('@yearly', '2024-03-05T10:20:00Z', 1)).toEqual(['2025-01-01T00:00:00.000Z']);
    expect(nexts('@annually', '2024-03-05T10:20:00Z', 1)).toEqual(['2025-01-01T00:00:00.000Z']);
    expect(nexts('@every 90s', '2024-03-05T10:20:00.700Z', 2)).toEqual(['2024-03-05T10:21:30.000Z', '2024-03-05T10:23:00.000Z']);
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(() => parseGoDuration('5 minutes')).toThrow(/failed to parse duration/);
  });

  it('refuses what robfig refuses, with its messages', () => {
    const err = (s: string): string => {
      try {
        parseSchedule(s);
        return 'parsed';
      } catch (e) {
        expect(e).toBeInstanceOf(CronSyntaxError);
        return (e as Error).message;
      }
    };
    expect(err('* * * *')).toBe('expected exactly 5 fields, found 4: [* * * *]');
    expect(err('* * * * * *')).toBe('expected exactly 5 fields, found 6: [* * * * * *]');
    expect(err('60 * * * *')).toBe('end of range (60) above maximum (59): 60');
    expect(err('* * 0 * *')).toBe('beginning of range (0) below minimum (1): 0');
    expect(err('* * * * 7')).toBe('end of range (7) above maximum (6): 7');
    expect(err('5-2 * * * *')).toBe('beginning of range (5) beyond end of range (2): 5-2');
    expect(err('*/0 * * * *')).toBe('step of range should be a positive number: */0');
    expect(err('1-2-3 * * * *')).toBe('too many hyphens: 1-2-3');
    expect(err('*/2/3 * * * *')).toBe('too many slashes: */2/3');
    expect(err('x * * * *')).toBe('failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax');
    expect(err('* * * foo *')).toMatch(/failed to parse int from foo/);
    expect(err('@fortnightly')).toBe('unrecognized descriptor: @fortnightly');
    expect(err('CRON_TZ=Mars/Olympus * * * * *')).toMatch(/unknown time zone Mars\/Olympus/);
  });
});

describe('cron schedule: next activation', () => {
  it('*/1 * * * * (the seed) fires on every minute, strictly after', () => {
    expect(nexts('*/1 * * * *', '2024-03-05T10:20:00Z', 3)).toEqual(['2024-03-05T10:21:00.000Z', '2024-03-05T10:22:00.000Z', '2024-03-05T10:23:00.000Z']);
    expect(nexts('*/1 * * * *', '2024-03-05T10:20:59.999Z', 1)).toEqual(['2024-03-05T10:21:00.000Z']);
  });

  it('carries over hours, days, months and years', () => {
    expect(nexts('30 23 * * *', '2024-12-31T23:45:00Z', 1)).toEqual(['2025-01-01T23:30:00.000Z']);
    expect(nexts('0 0 1 * *', '2024-01-31T12:00:00Z', 2)).toEqual(['2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z']);
    expect(nexts('0 12 29 2 *', '2023-03-01T00:00:00Z', 1)).toEqual(['2024-02-29T12:00:00.000Z']); // the next leap day
    expect(nexts('0 0 31 * *', '2024-04-01T00:00:00Z', 1)).toEqual(['2024-05-31T00:00:00.000Z']); // April has no 31st
  });

  it('day of month OR day of week when both are restricted, AND when one is a star', () => {
    // The 13th, or any Friday: from Thu 2024-09-05, Fri the 6th comes first, then Fri the 13th.
    expect(nexts('0 0 13 * 5', '2024-09-05T00:00:00Z', 3)).toEqual(['2024-09-06T00:00:00.000Z', '2024-09-13T00:00:00.000Z', '2024-09-20T00:00:00.000Z']);
    // Only Mondays (the day of month is a star).
    expect(nexts('0 9 * * mon', '2024-09-05T00:00:00Z', 2)).toEqual(['2024-09-09T09:00:00.000Z', '2024-09-16T09:00:00.000Z']);
    // The day of week is a star: only the 13th.
    expect(nexts('0 0 13 * *', '2024-09-05T00:00:00Z', 1)).toEqual(['2024-09-13T00:00:00.000Z']);
  });

  it('gives up (undefined) on a date that never comes', () => {
    expect(nextAfter(parseSchedule('0 0 30 2 *'), T('2024-01-01T00:00:00Z'))).toBeUndefined();
  });

  it('runs in a time zone (spec.timeZone or CRON_TZ=), DST gaps skipped', () => {
    // 09:00 in New York is 14:00 UTC in winter (EST) and 13:00 UTC in summer (EDT).
    expect(nexts('0 9 * * *', '2024-03-08T00:00:00Z', 3, 'America/New_York')).toEqual(['2024-03-08T14:00:00.000Z', '2024-03-09T14:00:00.000Z', '2024-03-10T13:00:00.000Z']);
    expect(nexts('CRON_TZ=Europe/Oslo 30 8 * * *', '2024-06-01T00:00:00Z', 1)).toEqual(['2024-06-01T06:30:00.000Z']);
    // 02:30 does not exist in New York on 2024-03-10 (02:00 → 03:00): that day is skipped.
    expect(nexts('30 2 * * *', '2024-03-09T12:00:00Z', 2, 'America/New_York')).toEqual(['2024-03-11T06:30:00.000Z', '2024-03-12T06:30:00.000Z']);
  });

  it('mostRecentScheduleTime: the latest activation in (earliest, now] and how many were missed', () => {
    const s = parseSchedule('*/1 * * * *');
    expect(mostRecentScheduleTime(s, T('2024-03-05T10:20:00Z'), T('2024-03-05T10:20:59Z'))).toEqual({ missed: 0 });
    const r = mostRecentScheduleTime(s, T('2024-03-05T10:20:00Z'), T('2024-03-05T10:23:10Z'));
    expect(iso(r.time)).toBe('2024-03-05T10:23:00.000Z');
    expect(r.missed).toBe(3);
    // A year down: "more than 100", still the right latest time, quickly.
    const t0 = Date.now();
    const y = mostRecentScheduleTime(s, T('2023-03-05T10:20:00Z'), T('2024-03-05T10:23:10Z'));
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(iso(y.time)).toBe('2024-03-05T10:23:00.000Z');
    expect(y.missed).toBe(101);
    const yearly = mostRecentScheduleTime(parseSchedule('@yearly'), T('2020-06-01T00:00:00Z'), T('2024-03-05T00:00:00Z'));
    expect(iso(yearly.time)).toBe('2024-01-01T00:00:00.000Z');
    expect(yearly.missed).toBe(4);
  });
});

const CJ = (over: Record<string, unknown> = {}, status: Record<string, unknown> = {}) => ({
  apiVersion: 'batch/v1',
  kind: 'CronJob',
  metadata: { name: 'hello', namespace: 'default', uid: 'cj-uid', creationTimestamp: '2024-03-05T10:00:30Z', resourceVersion: '5' },
  spec: {
    schedule: '*/1 * * * *',
    concurrencyPolicy: 'Allow',
    suspend: false,
    successfulJobsHistoryLimit: 3,
    failedJobsHistoryLimit: 1,
    jobTemplate: { metadata: { labels: { app: 'hello' } }, spec: { template: { spec: { containers: [{ name: 'hello', image: 'busybox' }], restartPolicy: 'OnFailure' } } } },
    ...over,
  },
  status,
});
const JOB = (name: string, uid: string, cond?: 'Complete' | 'Failed', start?: string, done?: string) => ({
  metadata: { name, namespace: 'default', uid, resourceVersion: '9', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'hello', uid: 'cj-uid', controller: true }] },
  status: { ...(start && { startTime: start }), ...(done && { completionTime: done }), ...(cond && { conditions: [{ type: cond, status: 'True' }] }) },
});

describe('CronJob decisions', () => {
  it('nothing before the first activation after creation; then the Job for that minute, named by minutes since the epoch', () => {
    const cj = cronJobOf(CJ());
    expect(decide(cj, [], T('2024-03-05T10:00:59Z'))).toMatchObject({ kind: 'wait', requeueAfterMs: 1_100 });
    const d = decide(cj, [], T('2024-03-05T10:01:02Z'));
    expect(d).toMatchObject({ kind: 'run', scheduledTime: T('2024-03-05T10:01:00Z'), replace: [] });
    expect(jobNameOf('hello', T('2024-03-05T10:01:00Z'))).toBe(`hello-${T('2024-03-05T10:01:00Z') / 60_000}`);
    const job = jobFromTemplate(cj, T('2024-03-05T10:01:00Z')) as { metadata: Record<string, unknown>; spec: unknown };
    expect(job.metadata).toMatchObject({
      name: 'hello-28493881',
      namespace: 'default',
      labels: { app: 'hello' },
      annotations: { 'batch.kubernetes.io/cronjob-scheduled-timestamp': '2024-03-05T10:01:00Z' },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'hello', uid: 'cj-uid', controller: true, blockOwnerDeletion: true }],
    });
    expect(job.spec).toEqual(CJ().spec.jobTemplate.spec);
  });

  it('a time already scheduled is not run twice', () => {
    const cj = cronJobOf(CJ({}, { lastScheduleTime: '2024-03-05T10:01:00Z' }));
    expect(decide(cj, [], T('2024-03-05T10:01:30Z')).kind).toBe('wait');
    expect(decide(cj, [], T('2024-03-05T10:02:00Z'))).toMatchObject({ kind: 'run', scheduledTime: T('2024-03-05T10:02:00Z') });
  });

  it('suspend stops new runs', () => {
    expect(decide(cronJobOf(CJ({ suspend: true })), [], T('2024-03-05T10:05:00Z')).kind).toBe('suspended');
  });

  it('Forbid waits while a Job is active (JobAlreadyActive); Replace replaces it; Allow runs alongside', () => {
    const active = [{ apiVersion: 'batch/v1', kind: 'Job', namespace: 'default', name: 'hello-28493881', uid: 'j1' }];
    const st = { lastScheduleTime: '2024-03-05T10:01:00Z', active };
    const forbid = decide(cronJobOf(CJ({ concurrencyPolicy: 'Forbid' }, st)), active, T('2024-03-05T10:02:01Z'));
    expect(forbid).toMatchObject({ kind: 'wait', events: [{ type: 'Normal', reason: 'JobAlreadyActive', message: 'Not starting job because prior execution is running and concurrency policy is Forbid' }] });
    expect(decide(cronJobOf(CJ({ concurrencyPolicy: 'Replace' }, st)), active, T('2024-03-05T10:02:01Z'))).toMatchObject({ kind: 'run', replace: active });
    expect(decide(cronJobOf(CJ({}, st)), active, T('2024-03-05T10:02:01Z'))).toMatchObject({ kind: 'run', replace: [] });
  });

  it('startingDeadlineSeconds: a run missed by more than the deadline is not started', () => {
    // The controller was down from 10:01 to 10:05:30: the 10:05 run is 30 s late, past a 20 s deadline.
    const cj = cronJobOf(CJ({ startingDeadlineSeconds: 20 }, { lastScheduleTime: '2024-03-05T10:01:00Z' }));
    const d = decide(cj, [], T('2024-03-05T10:05:30Z'));
    expect(d).toMatchObject({ kind: 'wait', events: [], requeueAfterMs: 30_100 });
    expect(decide(cj, [], T('2024-03-05T10:05:15Z'))).toMatchObject({ kind: 'run', scheduledTime: T('2024-03-05T10:05:00Z') });
    // Without a deadline, the latest missed run starts, and more than 100 missed is a warning.
    const late = decide(cronJobOf(CJ({}, { lastScheduleTime: '2024-03-01T00:00:00Z' })), [], T('2024-03-05T10:05:30Z'));
    expect(late).toMatchObject({ kind: 'run', scheduledTime: T('2024-03-05T10:05:00Z') });
    expect(late.kind === 'run' && late.events.map((e) => e.reason)).toEqual(['TooManyMissedTimes']);
  });

  it('reconciles the active list: finished Jobs leave it (SawCompletedJob), lastSuccessfulTime follows', () => {
    const active = [
      { apiVersion: 'batch/v1', kind: 'Job', namespace: 'default', name: 'hello-1', uid: 'j1' },
      { apiVersion: 'batch/v1', kind: 'Job', namespace: 'default', name: 'hello-2', uid: 'j2' },
      { apiVersion: 'batch/v1', kind: 'Job', namespace: 'default', name: 'hello-3', uid: 'j3' },
    ];
    const cj = cronJobOf(CJ({}, { active }));
    const jobs = [JOB('hello-1', 'j1', 'Complete', '2024-03-05T10:01:01Z', '2024-03-05T10:01:09Z'), JOB('hello-2', 'j2')].map(childJobOf);
    const r = reconcileActive(cj, jobs);
    expect(r.active.map((x) => x.name)).toEqual(['hello-2', 'hello-3']);
    expect(r.missing.map((x) => x.name)).toEqual(['hello-3']);
    expect(iso(r.lastSuccessfulTime)).toBe('2024-03-05T10:01:09.000Z');
    expect(r.events).toEqual([{ type: 'Normal', reason: 'SawCompletedJob', message: 'Saw completed job: hello-1, condition: Complete' }]);
  });

  it('history limits: the oldest finished Jobs beyond 3 successful and 1 failed go', () => {
    const jobs = [
      JOB('s1', 'a', 'Complete', '2024-03-05T10:01:00Z'),
      JOB('s2', 'b', 'Complete', '2024-03-05T10:02:00Z'),
      JOB('s3', 'c', 'Complete', '2024-03-05T10:03:00Z'),
      JOB('s4', 'd', 'Complete', '2024-03-05T10:04:00Z'),
      JOB('f1', 'e', 'Failed', '2024-03-05T10:05:00Z'),
      JOB('f2', 'f', 'Failed', '2024-03-05T10:06:00Z'),
      JOB('r1', 'g', undefined, '2024-03-05T10:07:00Z'),
    ].map(childJobOf);
    expect(jobsPastHistory(cronJobOf(CJ()), jobs).map((j) => j.name)).toEqual(['s1', 'f1']);
    expect(jobsPastHistory(cronJobOf(CJ({ successfulJobsHistoryLimit: 0, failedJobsHistoryLimit: 0 })), jobs).map((j) => j.name)).toEqual(['s1', 's2', 's3', 's4', 'f1', 'f2']);
    // Another CronJob's Jobs are not this one's history.
    const other = { ...JOB('x', 'x', 'Complete'), metadata: { ...JOB('x', 'x').metadata, ownerReferences: [{ kind: 'CronJob', name: 'other', uid: 'other', controller: true }] } };
    expect(jobsPastHistory(cronJobOf(CJ({ successfulJobsHistoryLimit: 0 })), [childJobOf(other)])).toEqual([]);
  });

  it('an every-minute CronJob over a simulated hour: one Job per minute, never two for one minute', () => {
    let cj = cronJobOf(CJ());
    const names: string[] = [];
    for (let t = T('2024-03-05T10:00:30Z'); t < T('2024-03-05T11:00:30Z'); t += 7_000) {
      const d = decide(cj, [], t);
      if (d.kind === 'run') {
        names.push(jobNameOf('hello', d.scheduledTime));
        cj = cronJobOf(CJ({}, { lastScheduleTime: new Date(d.scheduledTime).toISOString() }));
      }
    }
    expect(names).toHaveLength(60);
    expect(new Set(names).size).toBe(60);
  });
});
