// Init containers under the kubelet, seen through the real kubectl (1.20 and 1.33): one lab host with
// flanneld, dockerd and a kubelet on the API (its node's identity), the kube-apiserver in the same
// namespace, kubectl there too. Two init containers that each wait for a file the test writes (so every
// step is observed, not raced) append to an emptyDir that the app container reads: the order and the
// sharing are proved by its content, `kubectl get pods` shows Init:0/2, Init:1/2, then Running; an init
// container that completes while the kubelet is down, and kubelet restarts mid-way and after, run no
// completed init container again; a new sandbox runs them all again. A failing init container gives Init:CrashLoopBackOff (Always) or Init:Error and Failed (Never),
// and its app container is never created.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCa, ensureUserClient } from '../../apiserver/index.js';
import type { Pod, PodStatus } from '../../cluster/index.js';
import { SECURE_APISERVER_ARGS, writeDaemonKubeconfig } from '../harness/index.js';
import { BUSYBOX_IMAGE } from './docker.js';
import { REPO, waitFor } from './flannel.js';
import { FAST_FLAGS, KubeLab } from './kubelet.js';
import type { Host, Proc } from './lab.js';

const KUBECTLS = [
  { name: 'kubectl 1.20', bin: path.join(REPO, '.cache', 'kubernetes-client', 'usr', 'bin', 'kubectl') },
  { name: 'kubectl 1.33', bin: '/usr/lib/google-cloud-sdk/bin/kubectl.1.33' },
].filter((k) => existsSync(k.bin));
const APISERVER = path.join(REPO, 'dist', 'apiserver', 'main.js');
const SECURE = 6443;
const IMG = { image: BUSYBOX_IMAGE, imagePullPolicy: 'Never' as const };

interface PodEvent {
  readonly reason: string;
  readonly involvedObject: { fieldPath?: string };
}

describe.skipIf(KUBECTLS.length === 0)('kubelet: init containers, through kubectl', () => {
  let k: KubeLab;
  let apiserver: Proc | undefined;
  let apiDir: string;
  let certDir: string;
  let kubeconfig: string;
  let hostA: Host;
  let ctl: string;
  let kubeletConfig = '';

  const kubectl = async (bin: string, args: readonly string[]): Promise<string> => {
    const r = await hostA.exec([bin, `--kubeconfig=${kubeconfig}`, `--cache-dir=${path.join(apiDir, 'kubectl-cache')}`, ...args], { timeoutMs: 30_000, env: { PATH: process.env.PATH ?? '', HOME: apiDir } });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${String(r.code)}: ${r.stderr}`);
    return r.stdout;
  };
  const main = (): string => KUBECTLS[0]!.bin;
  /** `kubectl get pod NAME --no-headers`: READY, STATUS and RESTARTS as that kubectl prints them. */
  const row = async (bin: string, name: string): Promise<{ ready: string; status: string; restarts: string }> => {
    const [, ready = '', status = '', restarts = ''] = (await kubectl(bin, ['get', 'pod', name, '--no-headers'])).trim().split(/\s+/);
    return { ready, status, restarts };
  };
  /** Waits until every kubectl shows `status` for the pod. */
  const shows = (name: string, status: string, ms = 30_000): Promise<boolean> =>
    waitFor(`${name} shown as ${status} by every kubectl`, async () => (await Promise.all(KUBECTLS.map(async (kc) => (await row(kc.bin, name)).status))).every((s) => s === status), ms, 300);
  const get = async (name: string): Promise<Pod> => JSON.parse(await kubectl(main(), ['get', 'pod', name, '-o', 'json'])) as Pod;
  const initStatus = (st: PodStatus | undefined, name: string) => st?.initContainerStatuses?.find((c) => c.name === name);
  const cond = (st: PodStatus | undefined, type: string) => st?.conditions?.find((c) => c.type === type);
  const runs = async (file: string): Promise<string[]> => (await readFile(path.join(ctl, file), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const create = async (p: Record<string, unknown>): Promise<void> => {
    const file = path.join(apiDir, `${(p.metadata as { name: string }).name}.json`);
    await writeFile(file, JSON.stringify(p));
    await kubectl(main(), ['create', '-f', file]);
  };
  const podSpec = (name: string, restartPolicy: string, initContainers: Record<string, unknown>[], app: string): Record<string, unknown> => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      nodeName: 'a',
      restartPolicy,
      terminationGracePeriodSeconds: 1,
      volumes: [{ name: 'work', emptyDir: {} }, { name: 'ctl', hostPath: { path: ctl, type: 'DirectoryOrCreate' } }],
      initContainers: initContainers.map((c) => ({ ...IMG, volumeMounts: [{ name: 'work', mountPath: '/work' }, { name: 'ctl', mountPath: '/ctl' }], ...c })),
      containers: [{ name: 'app', ...IMG, command: ['sh', '-c', app], volumeMounts: [{ name: 'work', mountPath: '/work' }, { name: 'ctl', mountPath: '/ctl' }] }],
    },
  });
  /** Restarts the kubelet and waits until it has listed its pods again and synced a few times. */
  const restartKubelet = async (): Promise<void> => {
    const p = await k.restartKubelet('a');
    await p.waitForOutput(/initial lists complete/, 30_000);
    await new Promise((r) => setTimeout(r, 5_000)); // more than one --sync-frequency (3 s) and many PLEG relists
  };

  beforeAll(async () => {
    k = await KubeLab.start({
      hosts: ['a'],
      kubeletArgs: FAST_FLAGS,
      beforeKubelets: async (kl) => {
        hostA = kl.lab.host('a');
        apiDir = path.join(hostA.dir, 'apiserver');
        certDir = path.join(apiDir, 'certs');
        ctl = path.join(hostA.dir, 'ctl');
        kubeconfig = path.join(apiDir, 'admin.kubeconfig');
        await mkdir(apiDir, { recursive: true });
        await mkdir(ctl, { recursive: true });
        // kubectl logs of an init container goes through the kubelet's server: the apiserver's client certificate for it.
        const ca = await ensureCa(certDir);
        const client = await ensureUserClient(certDir, ca, 'kube-apiserver-kubelet-client', []);
        apiserver = hostA.spawn(
          [
            process.execPath,
            APISERVER,
            `--etcd-servers=${kl.etcd.endpoint}`,
            `--bind-address=${hostA.ip}`,
            `--advertise-address=${hostA.ip}`,
            `--secure-port=${SECURE}`,
            `--cert-dir=${certDir}`,
            `--write-kubeconfig=${kubeconfig}`,
            `--kubelet-client-certificate=${client.cert}`,
            `--kubelet-client-key=${client.key}`,
            // No controller manager here to make the default ServiceAccounts.
            '--disable-admission-plugins=ServiceAccount',
            ...SECURE_APISERVER_ARGS,
          ],
          { logFile: path.join(apiDir, 'apiserver.log') },
        );
        let last = '';
        const ready = await waitFor('the apiserver ready', async () => existsSync(kubeconfig) && (await kubectl(main(), ['get', '--raw=/readyz']).catch((e: unknown) => ((last = String(e)), ''))).trim() === 'ok', 30_000, 250).catch(() => false);
        if (!ready) throw new Error(`the apiserver did not become ready: ${last}\n${apiserver.stderr()}${apiserver.stdout()}`.slice(0, 4000));
        await kubectl(main(), ['create', 'clusterrolebinding', 'kube-apiserver-kubelet', '--clusterrole=system:kubelet-api-admin', '--user=kube-apiserver-kubelet-client']);
        kubeletConfig = await writeDaemonKubeconfig(certDir, `https://${hostA.ip}:${SECURE}`, apiDir, 'kubelet', 'a');
      },
      storeArgs: () => [`--kubeconfig=${kubeletConfig}`, `--client-ca-file=${path.join(certDir, 'ca.crt')}`],
    });
  }, 150_000);

  afterAll(async () => {
    await k?.destroy();
    await apiserver?.stop(5_000);
  }, 60_000);

  it('two init containers run in order, one at a time, sharing an emptyDir with the app: Init:0/2, Init:1/2, Running; a kubelet restart runs none again', async () => {
    const step = (n: string, wait: string, after = ''): Record<string, unknown> => ({
      name: n,
      command: ['sh', '-c', `${after}echo ${n} >> /ctl/runs; echo ${n}-start >> /work/log; until [ -f /ctl/${wait} ]; do sleep 0.2; done; echo ${n}-end >> /work/log; echo ${n}-out`],
    });
    // i2 refuses to run unless i1 has finished: the order is checked inside the pod too.
    await create(podSpec('init2', 'Always', [step('i1', 'go1'), step('i2', 'go2', 'grep -q i1-end /work/log || exit 9; ')], 'cp /work/log /work/seen; exec sleep 3600'));

    await shows('init2', 'Init:0/2');
    let p = await get('init2');
    expect(p.status?.phase).toBe('Pending');
    await waitFor('i1 running', async () => !!initStatus((p = await get('init2')).status, 'i1')?.state.running, 15_000, 300);
    expect(initStatus(p.status, 'i1')).toMatchObject({ ready: false, restartCount: 0, image: BUSYBOX_IMAGE, containerID: expect.stringMatching(/^docker:\/\/[0-9a-f]{64}$/) });
    expect(initStatus(p.status, 'i2')?.state).toEqual({ waiting: { reason: 'PodInitializing' } });
    expect(p.status?.containerStatuses?.[0]?.state).toEqual({ waiting: { reason: 'PodInitializing' } });
    expect(cond(p.status, 'Initialized')).toMatchObject({ status: 'False', reason: 'ContainersNotInitialized', message: 'containers with incomplete status: [i1 i2]' });
    for (const kc of KUBECTLS) expect(await row(kc.bin, 'init2')).toMatchObject({ ready: '0/1', status: 'Init:0/2', restarts: '0' });

    // i1 completes while the kubelet is down (its events are missed): the new kubelet reads that from Docker and starts i2.
    const node = k.node('a');
    await node.kubelet.stop(10_000);
    await writeFile(path.join(ctl, 'go1'), '');
    await waitFor('i1 exited in Docker', async () => (await k.containers('a', 'init2', 'i1')).map((c) => c.state).join() === 'exited', 15_000, 200);
    node.kubelet = k.startKubelet(node);
    await shows('init2', 'Init:1/2');
    expect(await runs('runs')).toEqual(['i1', 'i2']);
    p = await get('init2');
    expect(initStatus(p.status, 'i1')).toMatchObject({ ready: true, state: { terminated: { exitCode: 0, reason: 'Completed' } } });
    expect(cond(p.status, 'Initialized')).toMatchObject({ status: 'False', message: 'containers with incomplete status: [i2]' });
    expect(await kubectl(main(), ['logs', 'init2', '-c', 'i1'])).toBe('i1-out\n');

    // A kubelet restart while i2 runs: i1 is done (Docker says so), i2 keeps running, neither starts again.
    const i2Before = initStatus(p.status, 'i2')?.containerID;
    await restartKubelet();
    expect(await runs('runs')).toEqual(['i1', 'i2']);
    p = await get('init2');
    expect(initStatus(p.status, 'i2')?.containerID).toBe(i2Before);
    for (const kc of KUBECTLS) expect((await row(kc.bin, 'init2')).status).toBe('Init:1/2');

    await writeFile(path.join(ctl, 'go2'), '');
    await shows('init2', 'Running');
    for (const kc of KUBECTLS) expect(await row(kc.bin, 'init2')).toMatchObject({ ready: '1/1', restarts: '0' });
    p = await get('init2');
    expect(p.status?.phase).toBe('Running');
    expect(cond(p.status, 'Initialized')?.status).toBe('True');
    expect(p.status?.initContainerStatuses?.map((c) => [c.name, c.ready, c.state.terminated?.reason])).toEqual([['i1', true, 'Completed'], ['i2', true, 'Completed']]);
    for (const kc of KUBECTLS) {
      const d = await kubectl(kc.bin, ['describe', 'pod', 'init2']);
      expect(d).toMatch(/^Init Containers:\n {2}i1:\n/m);
      expect(d).toMatch(/^ {2}i2:\n(?: {4}.*\n)*? {4}State: +Terminated\n {6}Reason: +Completed\n {6}Exit Code: +0\n/m);
      expect(d).toMatch(/^ {2}Initialized +True/m);
    }
    // What the app found in the shared emptyDir: each init container's lines, whole and in order.
    const seen = await k.execIn('a', 'init2', 'app', ['cat', '/work/seen']);
    expect(seen.stdout.split('\n').filter(Boolean)).toEqual(['i1-start', 'i1-end', 'i2-start', 'i2-end']);

    const events = (JSON.parse(await kubectl(main(), ['get', 'events', '--field-selector', 'involvedObject.name=init2', '-o', 'json'])) as { items: PodEvent[] }).items;
    for (const n of ['i1', 'i2']) {
      const reasons = events.filter((e) => e.involvedObject.fieldPath === `spec.initContainers{${n}}`).map((e) => e.reason);
      expect(reasons).toEqual(expect.arrayContaining(['Pulled', 'Created', 'Started']));
    }

    // After initialization, a restart neither reruns them nor touches the app container.
    const appId = p.status?.containerStatuses?.[0]?.containerID;
    await restartKubelet();
    expect(await runs('runs')).toEqual(['i1', 'i2']);
    for (const n of ['i1', 'i2']) expect((await k.containers('a', 'init2', n)).map((c) => c.state)).toEqual(['exited']);
    p = await get('init2');
    expect(p.status?.containerStatuses?.[0]).toMatchObject({ containerID: appId, restartCount: 0, state: { running: {} } });
  }, 180_000);

  it('a new sandbox runs the init containers again, from the first', async () => {
    const sandbox = (await k.containers('a', 'init2', 'POD')).find((c) => c.state === 'running');
    expect(sandbox).toBeDefined();
    await k.node('a').dockerd.docker(['kill', sandbox!.id]);
    await waitFor('both init containers run again', async () => (await runs('runs')).length >= 4, 60_000, 300);
    expect(await runs('runs')).toEqual(['i1', 'i2', 'i1', 'i2']);
    await shows('init2', 'Running', 60_000);
    const seen = await k.execIn('a', 'init2', 'app', ['cat', '/work/seen']);
    // The emptyDir outlives the sandbox (it is the pod's), so the second run appends to the first.
    expect(seen.stdout.split('\n').filter(Boolean)).toEqual(['i1-start', 'i1-end', 'i2-start', 'i2-end', 'i1-start', 'i1-end', 'i2-start', 'i2-end']);
    await kubectl(main(), ['delete', 'pod', 'init2', '--wait=false']);
  }, 120_000);

  it('a failing init container: Init:CrashLoopBackOff with restarts under Always, the app container never created', async () => {
    await create(podSpec('initloop', 'Always', [{ name: 'bad', command: ['sh', '-c', 'echo bad >> /ctl/loop-runs; exit 3'] }], 'touch /ctl/loop-app; exec sleep 3600'));
    await shows('initloop', 'Init:CrashLoopBackOff', 45_000);
    await waitFor('three runs of the failing init container', async () => (await runs('loop-runs')).length >= 3, 45_000, 300);
    const p = await get('initloop');
    expect(p.status?.phase).toBe('Pending');
    expect(initStatus(p.status, 'bad')?.restartCount).toBeGreaterThanOrEqual(1);
    expect(initStatus(p.status, 'bad')?.lastState?.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
    expect(p.status?.containerStatuses?.[0]?.state).toEqual({ waiting: { reason: 'PodInitializing' } });
    for (const kc of KUBECTLS) expect(Number((await row(kc.bin, 'initloop')).restarts.split(' ')[0])).toBeGreaterThanOrEqual(1);
    expect(await k.containers('a', 'initloop', 'app')).toEqual([]);
    expect(existsSync(path.join(ctl, 'loop-app'))).toBe(false);
    await kubectl(main(), ['delete', 'pod', 'initloop', '--wait=false']);
  }, 120_000);

  it('restartPolicy Never: a failed init container fails the pod (Init:Error), runs once, and the app container is never created', async () => {
    await create(podSpec('initnever', 'Never', [{ name: 'bad', command: ['sh', '-c', 'echo bad >> /ctl/never-runs; exit 5'] }, { name: 'next', command: ['touch', '/ctl/never-next'] }], 'touch /ctl/never-app'));
    await waitFor('initnever Failed', async () => (await get('initnever')).status?.phase === 'Failed', 45_000, 300);
    await shows('initnever', 'Init:Error');
    await new Promise((r) => setTimeout(r, 4_000)); // a few syncs later, still nothing restarted
    const p = await get('initnever');
    expect(p.status?.phase).toBe('Failed');
    expect(initStatus(p.status, 'bad')).toMatchObject({ restartCount: 0, state: { terminated: { exitCode: 5, reason: 'Error' } } });
    expect(initStatus(p.status, 'next')?.state).toEqual({ waiting: { reason: 'PodInitializing' } });
    expect(cond(p.status, 'Initialized')).toMatchObject({ status: 'False', message: 'containers with incomplete status: [bad next]' });
    expect(await runs('never-runs')).toEqual(['bad']);
    expect(await k.containers('a', 'initnever', 'app')).toEqual([]);
    expect(existsSync(path.join(ctl, 'never-next'))).toBe(false);
    expect((await k.containers('a', 'initnever', 'POD')).map((c) => c.state)).toEqual(['exited']);
  }, 90_000);
});
