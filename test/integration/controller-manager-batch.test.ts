// kube-controller-manager's Job, CronJob and DaemonSet controllers against a real etcd, the
// kube-apiserver and kube-scheduler (all from dist/), driven by the real kubectl 1.20 and a newer one.
// No kubelets: the test plays them, marking pods Running/Ready/Succeeded/Failed through pods/status and
// finishing the graceful deletion of bound pods. Seed 003's Job and CronJob are replayed as written
// (refused, as a Kubernetes of today refuses them) and then with their one fix each.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APISERVER_BIN, ApiServerProc, EtcdServer, freePort, kubectl, kubectlBinaries, SEED_003_HELLO_CRONJOB, SEED_003_HELLO_CRONJOB_V1, SEED_003_PI_JOB, SEED_003_PI_JOB_FIXED } from '../harness/index.js';

type Obj = Record<string, any>;

const DIST = path.dirname(path.dirname(APISERVER_BIN));
const CM_BIN = path.join(DIST, 'controllers', 'main.js');
const SCHED_BIN = path.join(DIST, 'scheduler', 'main.js');
const OLD = kubectlBinaries().find((b) => b.version === '1.20')!;
const NEW = kubectlBinaries()
  .filter((b) => b.version !== '1.20' && b.present)
  .pop();
const KUBECTLS = [OLD, ...(NEW ? [NEW] : [])].filter((b) => b.present);

const PI = SEED_003_PI_JOB_FIXED.replace('name: pi-with-timeout', 'name: pi');
const FLAKY = `apiVersion: batch/v1
kind: Job
metadata:
  name: flaky
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
`;
const INDEXED = `apiVersion: batch/v1
kind: Job
metadata:
  name: indexed
spec:
  completionMode: Indexed
  completions: 3
  parallelism: 3
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
`;
const SHORT = `apiVersion: batch/v1
kind: Job
metadata:
  name: short
spec:
  suspend: true
  ttlSecondsAfterFinished: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
`;
const cron = (name: string, extra: string) => `apiVersion: batch/v1
kind: CronJob
metadata:
  name: ${name}
spec:
  schedule: "*/1 * * * *"
${extra}  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: c
            image: busybox
`;
const DAEMONSET = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels:
      app: agent
  template:
    metadata:
      labels:
        app: agent
    spec:
      containers:
      - name: agent
        image: agent:1
`;

let dir: string;
let etcd: EtcdServer | undefined;
let srv: ApiServerProc | undefined;
let cm: ChildProcess | undefined;
let sched: ChildProcess | undefined;
let kubeletStop = false;
let kubeletLoop: Promise<void> | undefined;
let piWithTimeoutCreated = 0;

const kc = (bin: string, ...args: string[]) => kubectl(bin, srv!.kubeconfig, path.join(dir, `kube-cache-${path.basename(bin)}`), args);
const api = async (method: string, p: string, body?: unknown): Promise<Obj> => {
  const r = await srv!.request(method, p, body);
  return (r.json ?? {}) as Obj;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until `ok` holds (bounded by `ms` and 2000 tries); the last value. */
async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000, every = 250): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await fn();
  for (let i = 0; i < 2000 && !ok(v) && Date.now() < deadline; i++) {
    await sleep(every);
    v = await fn();
  }
  return v;
}

const podsOf = async (selector: string): Promise<Obj[]> => ((await api('GET', `/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(selector)}`)).items ?? []) as Obj[];
const jobPods = (job: string) => podsOf(`job-name=${job}`);
const getJob = (name: string) => api('GET', `/apis/batch/v1/namespaces/default/jobs/${name}`);
const events = async (name: string): Promise<Obj[]> => (((await api('GET', '/api/v1/namespaces/default/events')).items ?? []) as Obj[]).filter((e) => e.involvedObject?.name === name);
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Sets a pod's phase as a kubelet would (Succeeded/Failed: its container terminated now). */
async function setPhase(name: string, phase: 'Running' | 'Succeeded' | 'Failed', ready = phase === 'Running'): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const cur = await api('GET', `/api/v1/namespaces/default/pods/${name}`);
    const t = now();
    const container = (cur.spec?.containers?.[0]?.name as string | undefined) ?? 'c';
    const state = phase === 'Running' ? { running: { startedAt: t } } : { terminated: { exitCode: phase === 'Failed' ? 1 : 0, reason: phase === 'Failed' ? 'Error' : 'Completed', finishedAt: t } };
    cur.status = {
      ...cur.status,
      phase,
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: t }],
      containerStatuses: [{ name: container, image: cur.spec?.containers?.[0]?.image, imageID: '', ready, restartCount: 0, state }],
    };
    const r = await srv!.request('PUT', `/api/v1/namespaces/default/pods/${name}/status`, cur);
    if (r.status === 200) return;
    if (r.status !== 409) throw new Error(`pods/${name}/status: ${r.status} ${r.text}`);
  }
  throw new Error(`pods/${name}/status: conflicts`);
}

/**
 * The kubelets' part, bounded by kubeletStop: a bound pod being deleted is removed (its containers
 * "stopped"), and a bound DaemonSet pod is marked Running and Ready.
 */
async function playKubelets(): Promise<void> {
  for (let i = 0; i < 20_000 && !kubeletStop; i++) {
    try {
      const pods = ((await api('GET', '/api/v1/pods')).items ?? []) as Obj[];
      for (const p of pods) {
        const { name, namespace } = p.metadata;
        if (p.metadata.deletionTimestamp) await srv!.request('DELETE', `/api/v1/namespaces/${namespace}/pods/${name}?gracePeriodSeconds=0`);
        else if (p.spec.nodeName && p.metadata.labels?.app === 'agent' && p.status?.phase !== 'Running') await setPhase(name, 'Running');
      }
    } catch {
      // The apiserver going away at the end: the loop stops with kubeletStop.
    }
    await sleep(300);
  }
}

function start(bin: string, args: string[], log: string): ChildProcess {
  const p = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(path.join(dir, log));
  p.stdout?.pipe(out);
  p.stderr?.pipe(out);
  return p;
}
async function stop(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await Promise.race([exited, sleep(5_000)]);
  if (p.exitCode === null && p.signalCode === null) {
    p.kill('SIGKILL');
    await exited;
  }
}

async function addNode(name: string, taints: Obj[] = []): Promise<void> {
  const r = await srv!.request('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name } }, spec: { taints } });
  expect(r.status, r.text).toBe(201);
  const cur = await api('GET', `/api/v1/nodes/${name}`);
  const res = { cpu: '4', memory: '8Gi', pods: '110' };
  cur.status = { capacity: res, allocatable: res, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: now(), lastTransitionTime: now() }] };
  const s = await srv!.request('PUT', `/api/v1/nodes/${name}/status`, cur);
  expect(s.status, s.text).toBe(200);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kcm-batch-'));
  etcd = await EtcdServer.start();
  srv = await ApiServerProc.start(etcd.endpoint, dir);
  const files = {
    'pi-seed.yaml': SEED_003_PI_JOB,
    'pi-with-timeout.yaml': SEED_003_PI_JOB_FIXED,
    'pi.yaml': PI,
    'flaky.yaml': FLAKY,
    'indexed.yaml': INDEXED,
    'short.yaml': SHORT,
    'hello-seed.yaml': SEED_003_HELLO_CRONJOB,
    'hello.yaml': SEED_003_HELLO_CRONJOB_V1,
    'forbid.yaml': cron('forbid', '  concurrencyPolicy: Forbid\n'),
    'hist.yaml': cron('hist', '  successfulJobsHistoryLimit: 1\n'),
    'ds.yaml': DAEMONSET,
  };
  for (const [f, t] of Object.entries(files)) await writeFile(path.join(dir, f), t);
  const common = [`--kubeconfig=${srv.kubeconfig}`, '--bind-address=127.0.0.1', '--log-level=debug'];
  cm = start(CM_BIN, [...common, `--secure-port=${await freePort()}`, `--cert-dir=${path.join(dir, 'kcm-certs')}`, '--leader-elect=false'], 'kcm.log');
  sched = start(SCHED_BIN, [`--kubeconfig=${srv.kubeconfig}`, '--bind-address=127.0.0.1', `--secure-port=${await freePort()}`, '--leader-elect=false', '--v=debug'], 'scheduler.log');
  kubeletLoop = playKubelets();
}, 60_000);

afterAll(async () => {
  kubeletStop = true;
  await kubeletLoop;
  await stop(cm);
  await stop(sched);
  if (process.env.KCM_TEST_LOG) for (const f of ['kcm.log', 'scheduler.log']) process.stderr.write(await readFile(path.join(dir, f), 'utf8').catch(() => ''));
  await srv?.stop();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!OLD.present)('kube-controller-manager: Jobs', () => {
  it("seed 003's pi-with-timeout as written is refused (restartPolicy under the container); fixed, it runs one owned pod", async () => {
    const bad = await kc(OLD.path, 'create', '-f', path.join(dir, 'pi-seed.yaml'));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/restartPolicy/);
    const r = await kc(OLD.path, 'create', '-f', path.join(dir, 'pi-with-timeout.yaml'));
    expect(r.code, r.stderr).toBe(0);
    piWithTimeoutCreated = Date.now();
    const job = await getJob('pi-with-timeout');
    const pods = await until(() => jobPods('pi-with-timeout'), (p) => p.length === 1);
    expect(pods).toHaveLength(1);
    const pod = pods[0]!;
    expect(pod.metadata.generateName).toBe('pi-with-timeout-');
    expect(pod.metadata.labels).toMatchObject({ 'job-name': 'pi-with-timeout', 'batch.kubernetes.io/job-name': 'pi-with-timeout', 'controller-uid': job.metadata.uid, 'batch.kubernetes.io/controller-uid': job.metadata.uid });
    expect(pod.metadata.ownerReferences).toEqual([{ apiVersion: 'batch/v1', kind: 'Job', name: 'pi-with-timeout', uid: job.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    expect(pod.spec.restartPolicy).toBe('Never');
    const st = await until(() => getJob('pi-with-timeout'), (j) => j.status?.active === 1 && j.status?.startTime !== undefined);
    expect(st.status).toMatchObject({ active: 1, ready: 0 });
  });

  it('the pi Job completes when its pod succeeds: kubectl get jobs shows 1/1 with both kubectl versions, describe shows Completed', async () => {
    expect((await kc(OLD.path, 'create', '-f', path.join(dir, 'pi.yaml'))).code).toBe(0);
    const [pod] = await until(() => jobPods('pi'), (p) => p.length === 1);
    await setPhase(pod!.metadata.name, 'Running');
    await until(() => getJob('pi'), (j) => j.status?.ready === 1);
    await setPhase(pod!.metadata.name, 'Succeeded');
    const done = await until(() => getJob('pi'), (j) => (j.status?.conditions ?? []).some((c: Obj) => c.type === 'Complete' && c.status === 'True'));
    expect(done.status).toMatchObject({ succeeded: 1 });
    expect(done.status.active).toBeUndefined();
    expect(done.status.completionTime).toBeDefined();
    for (const k of KUBECTLS) {
      const get = await kc(k.path, 'get', 'jobs', 'pi');
      expect(get.code, get.stderr).toBe(0);
      const [head, row] = get.stdout.split('\n');
      expect(head).toMatch(/^NAME\s+(STATUS\s+)?COMPLETIONS\s+DURATION\s+AGE/);
      expect(row).toMatch(/^pi\s+(Complete\s+)?1\/1\s+\S+\s+\S+/);
    }
    const desc = await until(() => kc(OLD.path, 'describe', 'job', 'pi'), (d) => /Completed\s+Job completed/.test(d.stdout));
    expect(desc.stdout).toMatch(/Normal\s+SuccessfulCreate\s+.*Created pod: pi-/);
    expect(desc.stdout).toMatch(/Normal\s+Completed\s+.*Job completed/);
    // Nothing more is created for a complete Job.
    await sleep(1_500);
    expect(await jobPods('pi')).toHaveLength(1);
  });

  it('backoffLimit 1: a failed pod is recreated after the back-off, a second failure fails the Job (BackoffLimitExceeded)', async () => {
    expect((await kc(OLD.path, 'create', '-f', path.join(dir, 'flaky.yaml'))).code).toBe(0);
    const [first] = await until(() => jobPods('flaky'), (p) => p.length === 1);
    await setPhase(first!.metadata.name, 'Failed');
    const failedAt = Date.now();
    const two = await until(() => jobPods('flaky'), (p) => p.length === 2, 40_000);
    expect(two).toHaveLength(2);
    // Kubernetes' 10 s back-off before the replacement (the status write's second granularity aside).
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(8_000);
    const second = two.find((p) => p.metadata.name !== first!.metadata.name)!;
    await setPhase(second.metadata.name, 'Failed');
    const failed = await until(() => getJob('flaky'), (j) => (j.status?.conditions ?? []).some((c: Obj) => c.type === 'Failed'));
    expect(failed.status.conditions).toEqual([expect.objectContaining({ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' })]);
    expect(failed.status.failed).toBe(2);
    const desc = await until(() => kc(OLD.path, 'describe', 'job', 'flaky'), (d) => /BackoffLimitExceeded/.test(d.stdout));
    expect(desc.stdout).toMatch(/Warning\s+BackoffLimitExceeded\s+.*Job has reached the specified backoff limit/);
    await sleep(1_500);
    expect(await jobPods('flaky')).toHaveLength(2);
  }, 90_000);
});

describe.skipIf(!OLD.present)('kube-controller-manager: Indexed Jobs', () => {
  it('one pod per completion index; complete with completedIndexes 0-2 once each succeeded', async () => {
    expect((await kc(OLD.path, 'create', '-f', path.join(dir, 'indexed.yaml'))).code).toBe(0);
    const pods = await until(() => jobPods('indexed'), (p) => p.length === 3);
    expect(pods.map((p) => p.metadata.annotations['batch.kubernetes.io/job-completion-index']).sort()).toEqual(['0', '1', '2']);
    for (const p of pods) {
      const i = p.metadata.annotations['batch.kubernetes.io/job-completion-index'];
      expect(p.metadata.name).toMatch(new RegExp(`^indexed-${i}-[a-z0-9]{5}$`));
      expect(p.spec.hostname).toBe(`indexed-${i}`);
    }
    for (const p of pods) await setPhase(p.metadata.name, 'Succeeded');
    const done = await until(() => getJob('indexed'), (j) => (j.status?.conditions ?? []).some((c: Obj) => c.type === 'Complete'));
    expect(done.status).toMatchObject({ succeeded: 3, completedIndexes: '0-2' });
    for (const k of KUBECTLS) expect((await kc(k.path, 'get', 'job', 'indexed')).stdout.split('\n')[1]).toMatch(/^indexed\s+(Complete\s+)?3\/3\s+/);
  });
});

describe.skipIf(!OLD.present)('kube-controller-manager: suspend and ttlSecondsAfterFinished', () => {
  it('a suspended Job makes no pod until resumed; finished, it is deleted after its TTL', async () => {
    expect((await kc(OLD.path, 'create', '-f', path.join(dir, 'short.yaml'))).code).toBe(0);
    const suspended = await until(() => getJob('short'), (j) => (j.status?.conditions ?? []).some((c: Obj) => c.type === 'Suspended' && c.status === 'True'));
    expect(suspended.status.conditions[0]).toMatchObject({ type: 'Suspended', status: 'True', reason: 'JobSuspended', message: 'Job suspended' });
    expect(await jobPods('short')).toEqual([]);
    expect((await kc(OLD.path, 'patch', 'job', 'short', '-p', '{"spec":{"suspend":false}}')).code).toBe(0);
    const [pod] = await until(() => jobPods('short'), (p) => p.length === 1);
    // The resumed condition is written in the sync after the one that makes the pod.
    const resumed = await until(() => getJob('short'), (j) => (j.status?.conditions ?? []).some((c: Obj) => c.reason === 'JobResumed'));
    expect(resumed.status.conditions).toEqual([expect.objectContaining({ type: 'Suspended', status: 'False', reason: 'JobResumed' })]);
    await setPhase(pod!.metadata.name, 'Succeeded');
    await until(() => getJob('short'), (j) => (j.status?.conditions ?? []).some((c: Obj) => c.type === 'Complete'));
    const gone = await until(() => srv!.request('GET', '/apis/batch/v1/namespaces/default/jobs/short'), (r) => r.status === 404, 20_000);
    expect(gone.status).toBe(404);
  });
});

describe.skipIf(!OLD.present)('kube-controller-manager: CronJobs', () => {
  it("seed 003's hello CronJob: created as written (batch/v1beta1, served by conversion) and read as batch/v1; it creates a Job each minute; Forbid skips a run; history limits delete old Jobs", async () => {
    for (const k of KUBECTLS) {
      const seed = await kc(k.path, 'create', '-f', path.join(dir, 'hello-seed.yaml'));
      expect(seed.code, seed.stderr).toBe(0);
      expect((await api('GET', '/apis/batch/v1/namespaces/default/cronjobs/hello')).spec.schedule).toBe('*/1 * * * *');
      const del = await kc(k.path, 'delete', '-f', path.join(dir, 'hello-seed.yaml'));
      expect(del.code, del.stderr).toBe(0);
    }
    for (const f of ['hello.yaml', 'forbid.yaml', 'hist.yaml']) {
      const r = await kc(OLD.path, 'create', '-f', path.join(dir, f));
      expect(r.code, r.stderr).toBe(0);
    }
    const cjUid = async (name: string): Promise<string> => (await api('GET', `/apis/batch/v1/namespaces/default/cronjobs/${name}`)).metadata.uid;
    const uids = { hello: await cjUid('hello'), forbid: await cjUid('forbid'), hist: await cjUid('hist') };
    const jobsOf = async (cj: keyof typeof uids): Promise<Obj[]> =>
      (((await api('GET', '/apis/batch/v1/namespaces/default/jobs')).items ?? []) as Obj[]).filter((j) => j.metadata.ownerReferences?.some((r: Obj) => r.uid === uids[cj]));
    // The first minute boundary after creation: up to ~60 s, plus a loaded runner's slack.
    const first = await until(() => jobsOf('hello'), (j) => j.length >= 1, 130_000, 1_000);
    expect(first.length).toBeGreaterThanOrEqual(1);
    const job = first[0]!;
    const minute = Number(/^hello-(\d+)$/.exec(job.metadata.name)?.[1]);
    expect(minute * 60_000).toBe(Date.parse(job.metadata.annotations['batch.kubernetes.io/cronjob-scheduled-timestamp']));
    expect(job.metadata.ownerReferences[0]).toMatchObject({ apiVersion: 'batch/v1', kind: 'CronJob', name: 'hello', controller: true });
    const cj = await until(() => api('GET', '/apis/batch/v1/namespaces/default/cronjobs/hello'), (c) => (c.status?.active ?? []).length === 1);
    expect(cj.status.active[0]).toMatchObject({ kind: 'Job', name: job.metadata.name, uid: job.metadata.uid });
    expect(Date.parse(cj.status.lastScheduleTime)).toBe(minute * 60_000);
    // The hello Job runs and completes: SawCompletedJob, lastSuccessfulTime.
    const [pod] = await until(() => jobPods(job.metadata.name), (p) => p.length === 1);
    await setPhase(pod!.metadata.name, 'Succeeded');
    const saw = await until(() => events('hello'), (e) => e.some((x) => x.reason === 'SawCompletedJob'));
    expect(saw.map((e) => `${e.reason}: ${e.message}`)).toEqual(expect.arrayContaining([`SuccessfulCreate: Created job ${job.metadata.name}`, `SawCompletedJob: Saw completed job: ${job.metadata.name}, condition: Complete`]));
    const after = await until(() => api('GET', '/apis/batch/v1/namespaces/default/cronjobs/hello'), (c) => c.status?.lastSuccessfulTime !== undefined && !(c.status?.active ?? []).length);
    expect(after.status.lastSuccessfulTime).toBeDefined();
    for (const k of KUBECTLS) {
      const get = await kc(k.path, 'get', 'cronjob', 'hello');
      expect(get.code, get.stderr).toBe(0);
      expect(get.stdout.split('\n')[0]).toMatch(/^NAME\s+SCHEDULE\s+(TIMEZONE\s+)?SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+AGE/);
      expect(get.stdout.split('\n')[1]).toMatch(/^hello\s+\*\/1 \* \* \* \*\s+(<none>\s+)?False\s+0\s+\S+\s+\S+/);
    }

    // hist: every Job completes at once; by the second, the first is deleted (successfulJobsHistoryLimit 1).
    // forbid: its first Job never finishes, so the next minute is skipped.
    const histDone = new Set<string>();
    const deadline = Date.now() + 150_000;
    let forbidSkipped = false;
    let histDeleted: Obj | undefined;
    for (let i = 0; i < 300 && Date.now() < deadline && !(forbidSkipped && histDeleted); i++) {
      for (const j of await jobsOf('hist')) {
        for (const p of await jobPods(j.metadata.name)) {
          if (histDone.has(p.metadata.name) || p.status?.phase === 'Succeeded') continue;
          await setPhase(p.metadata.name, 'Succeeded');
          histDone.add(p.metadata.name);
        }
      }
      forbidSkipped = (await events('forbid')).some((e) => e.reason === 'JobAlreadyActive');
      histDeleted = (await events('hist')).find((e) => e.reason === 'SuccessfulDelete');
      await sleep(1_000);
    }
    expect(forbidSkipped).toBe(true);
    const forbidEvents = await events('forbid');
    expect(forbidEvents.find((e) => e.reason === 'JobAlreadyActive')).toMatchObject({ type: 'Normal', message: 'Not starting job because prior execution is running and concurrency policy is Forbid' });
    expect(await jobsOf('forbid')).toHaveLength(1);
    expect(histDeleted?.message).toMatch(/^Deleted job hist-\d+$/);
    const left = await until(() => jobsOf('hist'), (j) => j.filter((x) => (x.status?.conditions ?? []).some((c: Obj) => c.type === 'Complete')).length <= 1);
    expect(left.filter((x) => (x.status?.conditions ?? []).some((c: Obj) => c.type === 'Complete')).length).toBe(1);
    // suspend stops the runs.
    for (const n of ['hello', 'forbid', 'hist']) expect((await kc(OLD.path, 'patch', 'cronjob', n, '-p', '{"spec":{"suspend":true}}')).code).toBe(0);
    const got = await kc(OLD.path, 'get', 'cronjob', 'hist');
    expect(got.stdout.split('\n')[1]).toMatch(/^hist\s+\S+ \S+ \S+ \S+ \S+\s+(<none>\s+)?True\s+/);
  }, 330_000);
});

describe.skipIf(!OLD.present)('kube-controller-manager: DaemonSets', () => {
  it('one pod on each of 3 nodes, none on the tainted one; a new node gets one; a rolling update replaces them one by one', async () => {
    for (const n of ['n1', 'n2', 'n3']) await addNode(n);
    await addNode('tainted', [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }]);
    expect((await kc(OLD.path, 'create', '-f', path.join(dir, 'ds.yaml'))).code).toBe(0);
    const bound = await until(() => podsOf('app=agent'), (ps) => ps.length === 3 && ps.every((p) => p.spec.nodeName && p.status?.phase === 'Running'), 30_000);
    expect(bound.map((p) => p.spec.nodeName).sort()).toEqual(['n1', 'n2', 'n3']);
    const ds = await api('GET', '/apis/apps/v1/namespaces/default/daemonsets/agent');
    for (const p of bound) {
      expect(p.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: ds.metadata.uid, controller: true, blockOwnerDeletion: true }]);
      expect(p.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [p.spec.nodeName] }] }]);
      expect(p.metadata.labels['controller-revision-hash']).toMatch(/^[a-z0-9]+$/);
      expect(p.spec.tolerations).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' })]));
    }
    const st = await until(() => api('GET', '/apis/apps/v1/namespaces/default/daemonsets/agent'), (d) => d.status?.numberReady === 3 && d.status?.numberAvailable === 3);
    expect(st.status).toMatchObject({ desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 3, updatedNumberScheduled: 3, numberAvailable: 3, numberMisscheduled: 0, observedGeneration: st.metadata.generation });
    for (const k of KUBECTLS) {
      const get = await kc(k.path, 'get', 'ds', 'agent');
      expect(get.code, get.stderr).toBe(0);
      expect(get.stdout.split('\n')[0]).toMatch(/^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE/);
      expect(get.stdout.split('\n')[1]).toMatch(/^agent\s+3\s+3\s+3\s+3\s+3\s+<none>\s+/);
    }

    await addNode('n4');
    const four = await until(() => podsOf('app=agent'), (ps) => ps.length === 4 && ps.every((p) => p.status?.phase === 'Running'), 30_000);
    expect(four.map((p) => p.spec.nodeName).sort()).toEqual(['n1', 'n2', 'n3', 'n4']);
    await until(() => api('GET', '/apis/apps/v1/namespaces/default/daemonsets/agent'), (d) => d.status?.numberAvailable === 4);

    // kubectl set image: one node at a time (maxUnavailable 1); never two nodes without a ready pod.
    const oldHash = four[0]!.metadata.labels['controller-revision-hash'];
    expect((await kc(OLD.path, 'set', 'image', 'ds/agent', 'agent=agent:2')).code).toBe(0);
    let fewestReady = 4;
    const done = await until(
      async () => {
        const ps = (await podsOf('app=agent')).filter((p) => !p.metadata.deletionTimestamp);
        const readyNodes = new Set(ps.filter((p) => p.status?.conditions?.some((c: Obj) => c.type === 'Ready' && c.status === 'True')).map((p) => p.spec.nodeName));
        fewestReady = Math.min(fewestReady, readyNodes.size);
        return ps;
      },
      (ps) => ps.length === 4 && ps.every((p) => p.spec.containers[0].image === 'agent:2' && p.status?.phase === 'Running'),
      90_000,
      100,
    );
    expect(done.map((p) => p.spec.containers[0].image)).toEqual(['agent:2', 'agent:2', 'agent:2', 'agent:2']);
    expect(done.map((p) => p.spec.nodeName).sort()).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(new Set(done.map((p) => p.metadata.labels['controller-revision-hash']))).toEqual(new Set([expect.not.stringMatching(`^${oldHash}$`)]));
    expect(fewestReady).toBeGreaterThanOrEqual(3);
    const rs = await kc(NEW?.path ?? OLD.path, 'rollout', 'status', 'ds/agent', '--timeout=60s');
    expect(rs.code, rs.stderr).toBe(0);
    expect(rs.stdout).toMatch(/daemon set "agent" successfully rolled out/);
  }, 180_000);
});

describe.skipIf(!OLD.present)('kube-controller-manager: activeDeadlineSeconds', () => {
  it("seed 003's pi-with-timeout is stopped by its 100 s deadline: Failed DeadlineExceeded, its pod deleted, the event in kubectl describe job", async () => {
    expect(piWithTimeoutCreated).toBeGreaterThan(0);
    const failed = await until(
      () => getJob('pi-with-timeout'),
      (j) => (j.status?.conditions ?? []).some((c: Obj) => c.type === 'Failed'),
      Math.max(1_000, piWithTimeoutCreated + 140_000 - Date.now()),
      1_000,
    );
    const cond = (failed.status.conditions as Obj[]).find((c) => c.type === 'Failed');
    expect(cond).toMatchObject({ status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' });
    // Not before its deadline.
    expect(Date.parse(cond!.lastTransitionTime) - Date.parse(failed.status.startTime)).toBeGreaterThanOrEqual(100_000);
    expect(failed.status.failed).toBe(1);
    expect(failed.status.active).toBeUndefined();
    expect(await until(() => jobPods('pi-with-timeout'), (p) => p.length === 0)).toEqual([]);
    for (const k of KUBECTLS) {
      const desc = await kc(k.path, 'describe', 'job', 'pi-with-timeout');
      expect(desc.code, desc.stderr).toBe(0);
      expect(desc.stdout).toMatch(/Warning\s+DeadlineExceeded\s+.*Job was active longer than specified deadline/);
      expect(desc.stdout).toMatch(/Active Deadline Seconds:\s+100s/);
    }
  }, 150_000);
});
