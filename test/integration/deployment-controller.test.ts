// The deployment controller in the built kube-controller-manager, against a real etcd and the
// apiserver, driven by the real kubectl (1.20, and a newer one for the client-side `rollout undo`):
// create, `set image` with the handover inside maxSurge/maxUnavailable, `rollout status`, `history`,
// `undo`, `pause`/`resume`, `restart`, `scale` mid-rollout (proportional), a progress deadline
// exceeded, Recreate's order, revisionHistoryLimit, adoption of a matching orphan ReplicaSet. No
// kubelets: the test plays one, marking pods Running and Ready through pods/status, except the pods of
// images named `*never-ready*`. At the end, one measurement: 100 replicas rolled to a new image.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APISERVER_BIN, ApiServerProc, EtcdServer, kubectl, kubectlBinaries } from '../harness/index.js';

type Obj = Record<string, any>;

const CM_BIN = path.join(path.dirname(path.dirname(APISERVER_BIN)), 'controllers', 'main.js');
const KUBECTL = kubectlBinaries().find((b) => b.version === '1.20')!;
const NEWER = kubectlBinaries()
  .filter((b) => b.present && b.version !== '1.20')
  .at(-1);

let dir: string;
let etcd: EtcdServer | undefined;
let srv: ApiServerProc | undefined;
let cm: ChildProcess | undefined;
const kubelet = new AbortController();
let kubeletDone: Promise<void> | undefined;

const kc = (...args: string[]) => kubectl(KUBECTL.path, srv!.kubeconfig, path.join(dir, 'kube-cache'), args, 90_000);
const kn = (...args: string[]) => kubectl(NEWER!.path, srv!.kubeconfig, path.join(dir, 'kube-cache-new'), args, 90_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until `ok` holds (bounded: at most `ms`, 200 ms apart); the last value. */
async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await fn();
  while (!ok(v) && Date.now() < deadline) {
    await sleep(200);
    v = await fn();
  }
  return v;
}

const get = async (p: string): Promise<Obj> => (await srv!.request('GET', p)).json as Obj;
const deployment = (name: string) => get(`/apis/apps/v1/namespaces/default/deployments/${name}`);
async function replicaSets(app: string): Promise<Obj[]> {
  const items = ((await get(`/apis/apps/v1/namespaces/default/replicasets?labelSelector=${encodeURIComponent(`app=${app}`)}`)).items ?? []) as Obj[];
  return items.sort((a, b) => Number(a.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0) - Number(b.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0));
}
async function pods(app: string): Promise<Obj[]> {
  return (((await get(`/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(`app=${app}`)}`)).items ?? []) as Obj[]).filter((p) => !p.metadata.deletionTimestamp);
}
const imageOf = (o: Obj): string => o.spec.template.spec.containers[0].image;
const rolledOut = (d: Obj): boolean =>
  (d.status?.observedGeneration ?? 0) >= d.metadata.generation && (d.status?.updatedReplicas ?? 0) === d.spec.replicas && (d.status?.replicas ?? 0) === d.spec.replicas && (d.status?.availableReplicas ?? 0) === d.spec.replicas;
const condition = (d: Obj, type: string): Obj | undefined => (d.status?.conditions as Obj[] | undefined)?.find((c) => c.type === type);

/** The test's kubelet: every 100 ms, each pod not yet Ready (and not of a never-ready image) becomes Running and Ready. Bounded by its signal. */
async function fakeKubelet(signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      const all = ((await get('/api/v1/namespaces/default/pods')).items ?? []) as Obj[];
      const todo = all.filter(
        (p) => !p.metadata.deletionTimestamp && !(p.spec.containers as Obj[]).some((c) => String(c.image).includes('never-ready')) && !(p.status?.conditions as Obj[] | undefined)?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      for (let i = 0; i < todo.length; i += 25) {
        await Promise.all(
          todo.slice(i, i + 25).map((p) => {
            p.status = { ...p.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }] };
            return srv!.request('PUT', `/api/v1/namespaces/default/pods/${p.metadata.name}/status`, p).catch(() => undefined);
          }),
        );
      }
    } catch {
      // the apiserver going away at the end
    }
    await sleep(100);
  }
}

function deploymentYaml(name: string, o: { replicas: number; image: string; strategy?: string; extra?: string }): string {
  const strategy = o.strategy ?? 'type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 1\n      maxUnavailable: 0';
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: ${o.replicas}
  selector:
    matchLabels:
      app: ${name}
  strategy:
    ${strategy}
${o.extra ?? ''}  template:
    metadata:
      labels:
        app: ${name}
    spec:
      containers:
      - name: c
        image: ${o.image}
`;
}

async function create(name: string, yaml: string): Promise<void> {
  const f = path.join(dir, `${name}.yaml`);
  await writeFile(f, yaml);
  const r = await kc('create', '-f', f);
  expect(r.code, r.stderr).toBe(0);
}

async function waitRolledOut(name: string, ms = 60_000): Promise<Obj> {
  const d = await until(() => deployment(name), rolledOut, ms);
  expect(rolledOut(d), JSON.stringify(d.status)).toBe(true);
  return d;
}

async function events(name: string): Promise<string[]> {
  return (((await get('/api/v1/namespaces/default/events')).items ?? []) as Obj[]).filter((e) => e.involvedObject.kind === 'Deployment' && e.involvedObject.name === name && e.reason === 'ScalingReplicaSet').map((e) => e.message as string);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'deploy-'));
  etcd = await EtcdServer.start();
  srv = await ApiServerProc.start(etcd.endpoint, dir);
  const log = createWriteStream(path.join(dir, 'kcm.log'));
  cm = spawn(process.execPath, [CM_BIN, `--kubeconfig=${srv.kubeconfig}`, '--secure-port=0', '--leader-elect=false', '--controllers=*', '--log-level=debug'], { stdio: ['ignore', 'pipe', 'pipe'] });
  cm.stdout?.pipe(log);
  cm.stderr?.pipe(log);
  kubeletDone = fakeKubelet(kubelet.signal);
}, 60_000);

afterAll(async () => {
  kubelet.abort();
  await kubeletDone;
  if (cm && cm.exitCode === null && cm.signalCode === null) {
    const exited = new Promise((r) => cm!.once('exit', r));
    cm.kill('SIGTERM');
    await Promise.race([exited, sleep(5_000)]);
    if (cm.exitCode === null && cm.signalCode === null) cm.kill('SIGKILL');
  }
  if (process.env.KCM_TEST_LOG) process.stderr.write(await readFile(path.join(dir, 'kcm.log'), 'utf8').catch(() => ''));
  await srv?.stop();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!KUBECTL.present || !NEWER)('kube-controller-manager: the deployment controller', () => {
  it('kubectl create: one ReplicaSet named and labelled by its pod-template-hash, owned, revision 1, rolled out', async () => {
    await create('web', deploymentYaml('web', { replicas: 3, image: 'nginx:1' }));
    const d = await waitRolledOut('web');
    const [rs] = await replicaSets('web');
    const hash = rs!.metadata.labels['pod-template-hash'];
    expect(hash).toMatch(/^[456789bcdf]{6,10}$/);
    expect(rs!.metadata.name).toBe(`web-${hash}`);
    expect(rs!.spec.selector.matchLabels).toEqual({ app: 'web', 'pod-template-hash': hash });
    expect(rs!.spec.template.metadata.labels).toEqual({ app: 'web', 'pod-template-hash': hash });
    expect(rs!.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: d.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    expect(rs!.metadata.annotations).toMatchObject({ 'deployment.kubernetes.io/revision': '1', 'deployment.kubernetes.io/desired-replicas': '3', 'deployment.kubernetes.io/max-replicas': '4' });
    expect(d.metadata.annotations['deployment.kubernetes.io/revision']).toBe('1');
    expect(d.status).toMatchObject({ replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3, observedGeneration: d.metadata.generation });
    expect(condition(d, 'Available')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable' });
    expect(await until(() => pods('web'), (p) => p.length === 3)).toHaveLength(3);
    const st = await kc('rollout', 'status', 'deployment/web', '--timeout=60s');
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toContain('deployment "web" successfully rolled out');
    const done = await until(() => deployment('web'), (x) => condition(x, 'Progressing')?.reason === 'NewReplicaSetAvailable');
    expect(condition(done, 'Progressing')).toMatchObject({ status: 'True', message: `ReplicaSet "web-${hash}" has successfully progressed.` });
    expect(await until(() => events('web'), (e) => e.length > 0)).toEqual([`Scaled up replica set web-${hash} from 0 to 3`]);
    const get = await kc('get', 'deploy', 'web');
    expect(get.stdout.split('\n')[1]).toMatch(/^web\s+3\/3\s+3\s+3\s+/);
  }, 120_000);

  it('kubectl set image: a new ReplicaSet takes over within maxSurge 1 / maxUnavailable 0; rollout status waits for it; history lists both', async () => {
    const samples: { total: number; available: number }[] = [];
    const watching = new AbortController();
    const sampler = (async () => {
      for (let i = 0; i < 600 && !watching.signal.aborted; i++) {
        const rss = await replicaSets('web');
        samples.push({ total: rss.reduce((n, r) => n + r.spec.replicas, 0), available: rss.reduce((n, r) => n + (r.status?.availableReplicas ?? 0), 0) });
        await sleep(50);
      }
    })();
    const set = await kc('set', 'image', 'deployment/web', 'c=nginx:2');
    expect(set.code, set.stderr).toBe(0);
    expect((await kc('annotate', 'deployment/web', 'kubernetes.io/change-cause=image nginx:2')).code).toBe(0);
    const st = await kn('rollout', 'status', 'deployment/web', '--timeout=60s');
    watching.abort();
    await sampler;
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toContain('successfully rolled out');
    const rss = await replicaSets('web');
    expect(rss.map((r) => [r.metadata.annotations['deployment.kubernetes.io/revision'], imageOf(r), r.spec.replicas])).toEqual([
      ['1', 'nginx:1', 0],
      ['2', 'nginx:2', 3],
    ]);
    // The handover stayed within 3 + 1 pods and kept 3 available (a sample may catch a write between two RSs' statuses: bounds only).
    expect(Math.max(...samples.map((s) => s.total))).toBeLessThanOrEqual(4);
    expect(samples.some((s) => s.total === 4)).toBe(true);
    expect(rss[1]!.metadata.annotations['kubernetes.io/change-cause']).toBe('image nginx:2');
    const hist = await kc('rollout', 'history', 'deployment/web');
    expect(hist.code, hist.stderr).toBe(0);
    expect(hist.stdout).toMatch(/REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+image nginx:2\n/);
    const msgs = await until(() => events('web'), (e) => e.some((m) => /Scaled down replica set .* from 1 to 0/.test(m)));
    expect(msgs).toContain(`Scaled up replica set ${rss[1]!.metadata.name} from 0 to 1`);
    expect(msgs).toContain(`Scaled down replica set ${rss[0]!.metadata.name} from 3 to 2`);
  }, 120_000);

  it('kubectl rollout undo --to-revision=1 (client side, newer kubectl): the first ReplicaSet comes back as revision 3', async () => {
    const [first] = await replicaSets('web');
    const r = await kn('rollout', 'undo', 'deployment/web', '--to-revision=1');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('deployment.apps/web rolled back');
    const d = await until(() => deployment('web'), (x) => x.metadata.annotations['deployment.kubernetes.io/revision'] === '3' && rolledOut(x));
    expect(imageOf(d)).toBe('nginx:1');
    expect(rolledOut(d)).toBe(true);
    const back = (await replicaSets('web')).find((x) => x.metadata.name === first!.metadata.name)!;
    expect(back.metadata.annotations).toMatchObject({ 'deployment.kubernetes.io/revision': '3', 'deployment.kubernetes.io/revision-history': '1' });
    expect(back.spec.replicas).toBe(3);
    const hist = await kc('rollout', 'history', 'deployment/web');
    expect(hist.stdout).toMatch(/\n2\s+image nginx:2\n3\s+/);
  }, 120_000);

  it('kubectl rollout pause holds a template change; resume rolls it out', async () => {
    expect((await kn('rollout', 'pause', 'deployment/web')).code).toBe(0);
    const paused = await until(() => deployment('web'), (x) => condition(x, 'Progressing')?.reason === 'DeploymentPaused');
    expect(condition(paused, 'Progressing')).toMatchObject({ status: 'Unknown', message: 'Deployment is paused' });
    expect((await kc('set', 'image', 'deployment/web', 'c=nginx:3')).code).toBe(0);
    await sleep(2_000);
    const rss = await replicaSets('web');
    expect(rss.map(imageOf)).not.toContain('nginx:3');
    expect((await deployment('web')).status.observedGeneration).toBe((await deployment('web')).metadata.generation);
    const undoPaused = await kn('rollout', 'undo', 'deployment/web');
    expect(undoPaused.code).not.toBe(0);
    expect(undoPaused.stderr).toContain('you cannot rollback a paused deployment; resume it first');
    expect((await kn('rollout', 'resume', 'deployment/web')).code).toBe(0);
    const d = await until(() => deployment('web'), (x) => imageOf(x) === 'nginx:3' && rolledOut(x) && x.metadata.annotations['deployment.kubernetes.io/revision'] === '4', 60_000);
    expect(rolledOut(d)).toBe(true);
    expect((await replicaSets('web')).filter((x) => x.spec.replicas > 0).map(imageOf)).toEqual(['nginx:3']);
  }, 120_000);

  it('kubectl rollout restart: a new ReplicaSet for the restartedAt annotation', async () => {
    const before = (await replicaSets('web')).length;
    const r = await kn('rollout', 'restart', 'deployment/web');
    expect(r.code, r.stderr).toBe(0);
    const d = await until(() => deployment('web'), (x) => x.metadata.annotations['deployment.kubernetes.io/revision'] === '5' && rolledOut(x), 60_000);
    expect(d.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt']).toBeDefined();
    const rss = await replicaSets('web');
    expect(rss).toHaveLength(before + 1);
    expect(rss.at(-1)!.spec.replicas).toBe(3);
    expect(rss.at(-1)!.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt']).toBe(d.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt']);
  }, 120_000);

  it('kubectl scale mid-rollout splits the new replicas proportionally (10 → 20, maxSurge 3, maxUnavailable 2)', async () => {
    await create('big', deploymentYaml('big', { replicas: 10, image: 'nginx:1', strategy: 'type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 3\n      maxUnavailable: 2' }));
    await waitRolledOut('big');
    expect((await kc('set', 'image', 'deployment/big', 'c=nginx:never-ready')).code).toBe(0);
    // Stuck where the unavailable new pods stop it: old 8, new 5 (13 = 10 + surge).
    const stuck = await until(
      () => replicaSets('big'),
      (r) => r.length === 2 && r[0]!.spec.replicas === 8 && r[1]!.spec.replicas === 5,
    );
    expect(stuck.map((r) => r.spec.replicas)).toEqual([8, 5]);
    await sleep(1_000);
    expect((await replicaSets('big')).map((r) => r.spec.replicas)).toEqual([8, 5]);
    expect((await kc('scale', 'deployment/big', '--replicas=20')).code).toBe(0);
    // 23 allowed, 10 to add: the old 8 → round(8·23/13) = 14, the new 5 → 9.
    const scaled = await until(
      () => replicaSets('big'),
      (r) => r[0]!.spec.replicas === 14 && r[1]!.spec.replicas === 9,
    );
    expect(scaled.map((r) => r.spec.replicas)).toEqual([14, 9]);
    expect(scaled.map((r) => r.metadata.annotations['deployment.kubernetes.io/desired-replicas'])).toEqual(['20', '20']);
    expect(scaled.map((r) => r.metadata.annotations['deployment.kubernetes.io/max-replicas'])).toEqual(['23', '23']);
    expect((await kc('delete', 'deployment', 'big')).code).toBe(0);
  }, 150_000);

  it('progressDeadlineSeconds: pods that never become ready make Progressing False ProgressDeadlineExceeded, and rollout status fails', async () => {
    await create('stuck', deploymentYaml('stuck', { replicas: 2, image: 'busybox:never-ready', extra: '  progressDeadlineSeconds: 4\n' }));
    const d = await until(() => deployment('stuck'), (x) => condition(x, 'Progressing')?.reason === 'ProgressDeadlineExceeded', 45_000);
    const [rs] = await replicaSets('stuck');
    expect(condition(d, 'Progressing')).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${rs!.metadata.name}" has timed out progressing.` });
    expect(condition(d, 'Available')).toMatchObject({ status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' });
    const st = await kc('rollout', 'status', 'deployment/stuck', '--timeout=20s');
    expect(st.code).not.toBe(0);
    expect(st.stderr).toContain('deployment "stuck" exceeded its progress deadline');
  }, 120_000);

  it('Recreate: the old pods are all gone before any new pod exists', async () => {
    await create('rec', deploymentYaml('rec', { replicas: 2, image: 'nginx:1', strategy: 'type: Recreate' }));
    await waitRolledOut('rec');
    const hashes: Set<string>[] = [];
    const watching = new AbortController();
    const sampler = (async () => {
      for (let i = 0; i < 600 && !watching.signal.aborted; i++) {
        hashes.push(new Set((await pods('rec')).map((p) => p.metadata.labels['pod-template-hash'] as string)));
        await sleep(50);
      }
    })();
    expect((await kc('set', 'image', 'deployment/rec', 'c=nginx:2')).code).toBe(0);
    await until(() => deployment('rec'), (x) => imageOf(x) === 'nginx:2' && rolledOut(x), 60_000);
    watching.abort();
    await sampler;
    expect(hashes.every((h) => h.size <= 1)).toBe(true);
    const rss = await replicaSets('rec');
    // Old pods, then (after a moment with none, too short for the sampler to be sure to see) new ones, never back.
    const oldHash = rss[0]!.metadata.labels['pod-template-hash'] as string;
    const firstNew = hashes.findIndex((h) => h.size === 1 && !h.has(oldHash));
    expect(firstNew).toBeGreaterThan(-1);
    expect(hashes.slice(firstNew).some((h) => h.has(oldHash))).toBe(false);
    expect(rss.map((r) => [imageOf(r), r.spec.replicas])).toEqual([
      ['nginx:1', 0],
      ['nginx:2', 2],
    ]);
    const msgs = await events('rec');
    expect(msgs.indexOf(`Scaled down replica set ${rss[0]!.metadata.name} from 2 to 0`)).toBeLessThan(msgs.indexOf(`Scaled up replica set ${rss[1]!.metadata.name} from 0 to 2`));
  }, 120_000);

  it('revisionHistoryLimit 1: old ReplicaSets beyond it are deleted, the latest old one kept', async () => {
    await create('hist', deploymentYaml('hist', { replicas: 1, image: 'nginx:1', extra: '  revisionHistoryLimit: 1\n' }));
    await waitRolledOut('hist');
    for (const v of ['2', '3', '4']) {
      expect((await kc('set', 'image', 'deployment/hist', `c=nginx:${v}`)).code).toBe(0);
      await until(() => deployment('hist'), (x) => imageOf(x) === `nginx:${v}` && rolledOut(x), 60_000);
    }
    const rss = await until(
      () => replicaSets('hist'),
      (r) => r.length === 2,
    );
    expect(rss.map((r) => [r.metadata.annotations['deployment.kubernetes.io/revision'], imageOf(r), r.spec.replicas])).toEqual([
      ['3', 'nginx:3', 0],
      ['4', 'nginx:4', 1],
    ]);
  }, 150_000);

  it('adopts a matching orphan ReplicaSet with the same template as its new one', async () => {
    const orphan = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: adopt-orphan
  labels:
    app: adopt
spec:
  replicas: 1
  selector:
    matchLabels:
      app: adopt
  template:
    metadata:
      labels:
        app: adopt
    spec:
      containers:
      - name: c
        image: nginx:1
`;
    await create('adopt-orphan', orphan);
    await create('adopt', deploymentYaml('adopt', { replicas: 2, image: 'nginx:1' }));
    const d = await waitRolledOut('adopt');
    const rss = await replicaSets('adopt');
    expect(rss.map((r) => r.metadata.name)).toEqual(['adopt-orphan']);
    expect(rss[0]!.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'adopt', uid: d.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    expect(rss[0]!.spec.replicas).toBe(2);
    expect(rss[0]!.metadata.annotations['deployment.kubernetes.io/revision']).toBe('1');
  }, 120_000);

  it('measure: 100 replicas rolled to a new image, pods marked ready promptly', async () => {
    await create('hundred', deploymentYaml('hundred', { replicas: 100, image: 'nginx:1', strategy: 'type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 25%\n      maxUnavailable: 25%' }));
    await waitRolledOut('hundred', 120_000);
    const t0 = Date.now();
    expect((await kc('set', 'image', 'deployment/hundred', 'c=nginx:2')).code).toBe(0);
    const d = await until(() => deployment('hundred'), (x) => imageOf(x) === 'nginx:2' && rolledOut(x), 150_000);
    const secs = (Date.now() - t0) / 1000;
    expect(rolledOut(d)).toBe(true);
    process.stderr.write(`deployment rollout: 100 replicas to a new image in ${secs.toFixed(1)} s\n`);
    const rss = await replicaSets('hundred');
    expect(rss.map((r) => r.spec.replicas)).toEqual([0, 100]);
  }, 300_000);
});
