// Init containers without Docker: which one runs next (from the records of the current sandbox), what
// a sync does with them, the statuses, Initialized condition and phase the kubelet writes (checked
// against what kubectl's printPod makes of them, through the apiserver's table code), and the
// validation of initContainers on both sides.
import { describe, expect, it } from 'vitest';
import type { Container, Pod, PodStatus } from '../cluster/index.js';
import { podDisplayStatus, podStrategy, invalidMessage, type KubeObject } from '../apiserver/kinds/index.js';
import {
  computePodActions,
  computePodStatus,
  containerHash,
  nextInitContainer,
  validatePod,
  type ContainerRecord,
  type RuntimePod,
  type SandboxRecord,
  type Waiting,
} from '../kubelet/index.js';

const C = (name: string): Container => ({ name, image: 'busybox' });
const i1 = C('i1');
const i2 = C('i2');
const app = C('app');
const podOf = (restartPolicy: 'Always' | 'OnFailure' | 'Never' = 'Always'): Pod => ({
  metadata: { name: 'p', namespace: 'default', uid: 'u1' },
  spec: { nodeName: 'n', restartPolicy, initContainers: [i1, i2], containers: [app] },
});
const sandbox = (o: Partial<SandboxRecord> = {}): SandboxRecord => ({ id: 'sb1', attempt: 0, running: true, ip: '10.5.1.2', createdAt: 1, ...o });
let seq = 0;
const running = (c: Container, o: Partial<ContainerRecord> = {}): ContainerRecord => ({
  id: `id${++seq}`,
  name: c.name,
  hash: containerHash(c),
  restartCount: 0,
  sandboxId: 'sb1',
  state: 'running',
  running: true,
  exitCode: 0,
  reason: undefined,
  message: undefined,
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: undefined,
  image: 'busybox',
  imageId: 'sha256:abc',
  createdAt: seq,
  ...o,
});
const exited = (c: Container, exitCode: number, o: Partial<ContainerRecord> = {}): ContainerRecord =>
  running(c, { state: 'exited', running: false, exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', finishedAt: '2026-01-01T00:00:05.000Z', ...o });
const rt = (sandboxes: SandboxRecord[], containers: ContainerRecord[]): RuntimePod => ({ uid: 'u1', name: 'p', namespace: 'default', graceSec: 30, sandboxes, containers });
const noLiveness = (): boolean => false;

function status(pod: Pod, r: RuntimePod, waiting: Record<string, Waiting> = {}): PodStatus {
  return computePodStatus({ pod, rt: r, hostIP: '10.0.0.1', ready: () => undefined, waiting: new Map(Object.entries(waiting)), prev: undefined, now: '2026-01-01T00:00:10Z' });
}
/** kubectl get pods' STATUS column for the pod with this status (printPod, as the apiserver's table serves it). */
const shown = (pod: Pod, st: PodStatus): string => podDisplayStatus({ ...(pod as unknown as KubeObject), status: st } as KubeObject, Date.parse('2026-01-01T00:00:10Z')).status;
const initialized = (st: PodStatus) => st.conditions?.find((c) => c.type === 'Initialized');

describe('nextInitContainer', () => {
  it('runs them in order, one at a time, each after the previous exited 0', () => {
    const pod = podOf();
    expect(nextInitContainer(pod, rt([sandbox()], []))).toEqual({ kind: 'start', name: 'i1', failed: undefined });
    expect(nextInitContainer(pod, rt([sandbox()], [running(i1)]))).toEqual({ kind: 'running', name: 'i1' });
    expect(nextInitContainer(pod, rt([sandbox()], [exited(i1, 0)]))).toEqual({ kind: 'start', name: 'i2', failed: undefined });
    expect(nextInitContainer(pod, rt([sandbox()], [running(i2), exited(i1, 0)]))).toEqual({ kind: 'running', name: 'i2' });
    expect(nextInitContainer(pod, rt([sandbox()], [exited(i2, 0), exited(i1, 0)]))).toEqual({ kind: 'done' });
    expect(nextInitContainer({ ...pod, spec: { ...pod.spec, initContainers: [] } }, rt([sandbox()], []))).toEqual({ kind: 'done' });
  });

  it('a failed one is restarted unless the policy is Never; a later success counts', () => {
    const bad = exited(i1, 1);
    expect(nextInitContainer(podOf('Always'), rt([sandbox()], [bad]))).toEqual({ kind: 'start', name: 'i1', failed: bad });
    expect(nextInitContainer(podOf('OnFailure'), rt([sandbox()], [bad]))).toMatchObject({ kind: 'start', name: 'i1' });
    expect(nextInitContainer(podOf('Never'), rt([sandbox()], [bad]))).toEqual({ kind: 'failed', name: 'i1' });
    expect(nextInitContainer(podOf(), rt([sandbox()], [exited(i1, 0, { restartCount: 1 }), exited(i1, 1)]))).toMatchObject({ kind: 'start', name: 'i2' });
    expect(nextInitContainer(podOf(), rt([sandbox()], [exited(i1, 0, { reason: 'OOMKilled' })]))).toMatchObject({ kind: 'start', name: 'i1' });
  });

  it('only the current sandbox counts; a running app container means initialization is done', () => {
    const pod = podOf();
    const old = [exited(i2, 0, { sandboxId: 'sb0' }), exited(i1, 0, { sandboxId: 'sb0' })];
    expect(nextInitContainer(pod, rt([sandbox(), sandbox({ id: 'sb0', running: false })], old))).toMatchObject({ kind: 'start', name: 'i1' });
    expect(nextInitContainer(pod, rt([sandbox()], [running(app)]))).toEqual({ kind: 'done' });
  });
});

describe('computePodActions with init containers', () => {
  it('a new pod: the sandbox and the first init container only', () => {
    expect(computePodActions(podOf(), rt([], []), noLiveness)).toEqual({ killPod: false, createSandbox: true, attempt: 0, sandboxId: undefined, start: [], startInit: 'i1', purgeInit: [], kill: [] });
  });

  it('no app container while init runs or fails; app containers once done', () => {
    const pod = podOf();
    expect(computePodActions(pod, rt([sandbox()], [running(i1)]), noLiveness)).toMatchObject({ killPod: false, start: [], kill: [] });
    expect(computePodActions(pod, rt([sandbox()], [running(i1)]), noLiveness).startInit).toBeUndefined();
    expect(computePodActions(pod, rt([sandbox()], [exited(i1, 0)]), noLiveness)).toMatchObject({ start: [], startInit: 'i2' });
    expect(computePodActions(pod, rt([sandbox()], [exited(i1, 2)]), noLiveness)).toMatchObject({ killPod: false, start: [], startInit: 'i1' });
    expect(computePodActions(pod, rt([sandbox()], [exited(i2, 0), exited(i1, 0)]), noLiveness)).toMatchObject({ start: ['app'], kill: [] });
    expect(computePodActions(pod, rt([sandbox()], [exited(i2, 0), exited(i1, 0)]), noLiveness).startInit).toBeUndefined();
  });

  it('a failed init container under Never kills the pod and starts nothing', () => {
    expect(computePodActions(podOf('Never'), rt([sandbox()], [exited(i1, 1)]), noLiveness)).toMatchObject({ killPod: true, createSandbox: false, start: [] });
  });

  it('a new sandbox purges the old init containers and starts from the first; Never does not come back', () => {
    const old = [running(app, { sandboxId: 'sb0' }), exited(i2, 0, { sandboxId: 'sb0' }), exited(i1, 0, { sandboxId: 'sb0' })];
    const r = computePodActions(podOf(), rt([sandbox({ id: 'sb0', running: false, ip: undefined })], old), noLiveness);
    expect(r).toMatchObject({ killPod: true, createSandbox: true, attempt: 1, start: [], startInit: 'i1', purgeInit: [old[1]!.id, old[2]!.id] });
    expect(computePodActions(podOf('Never'), rt([sandbox({ id: 'sb0', running: false, ip: undefined })], old), noLiveness)).toMatchObject({ createSandbox: false });
  });

  it('a running init container is not a stray; a container of neither list is', () => {
    const stray = running(C('gone'));
    const r = computePodActions(podOf(), rt([sandbox()], [running(i1), stray]), noLiveness);
    expect(r.kill).toEqual([{ id: stray.id, name: 'gone', reason: 'container is not in the pod spec' }]);
  });
});

describe('status with init containers', () => {
  it('before the sandbox: Init:0/2, both init and app containers PodInitializing, Pending, not Initialized', () => {
    const pod = podOf();
    const st = status(pod, rt([], []));
    expect(st.phase).toBe('Pending');
    expect(st.initContainerStatuses?.map((s) => s.state)).toEqual([{ waiting: { reason: 'PodInitializing' } }, { waiting: { reason: 'PodInitializing' } }]);
    expect(st.containerStatuses?.[0]?.state).toEqual({ waiting: { reason: 'PodInitializing' } });
    expect(initialized(st)).toMatchObject({ status: 'False', reason: 'ContainersNotInitialized', message: 'containers with incomplete status: [i1 i2]' });
    expect(shown(pod, st)).toBe('Init:0/2');
  });

  it('the first running, then done: Init:0/2, Init:1/2, then PodInitializing, then Running', () => {
    const pod = podOf();
    const a = status(pod, rt([sandbox()], [running(i1)]));
    expect(a.initContainerStatuses?.[0]).toMatchObject({ name: 'i1', ready: false, started: true, state: { running: {} }, containerID: expect.stringMatching(/^docker:\/\//), imageID: 'docker-pullable://busybox@sha256:abc' });
    expect(shown(pod, a)).toBe('Init:0/2');
    const b = status(pod, rt([sandbox()], [running(i2), exited(i1, 0)]));
    expect(b.initContainerStatuses?.[0]).toMatchObject({ ready: true, state: { terminated: { exitCode: 0, reason: 'Completed' } } });
    expect(initialized(b)).toMatchObject({ status: 'False', message: 'containers with incomplete status: [i2]' });
    expect(shown(pod, b)).toBe('Init:1/2');
    const c = status(pod, rt([sandbox()], [exited(i2, 0), exited(i1, 0)]));
    expect(c.phase).toBe('Pending');
    expect(initialized(c)).toMatchObject({ status: 'True' });
    expect(initialized(c)?.reason).toBeUndefined();
    expect(shown(pod, c)).toBe('PodInitializing');
    const d = status(pod, rt([sandbox()], [running(app), exited(i2, 0), exited(i1, 0)]));
    expect(d.phase).toBe('Running');
    expect(d.conditions?.find((x) => x.type === 'Ready')?.status).toBe('True');
    expect(shown(pod, d)).toBe('Running');
  });

  it('a failure: Init:Error, then Init:CrashLoopBackOff with the restart count, Pending; Never: Failed', () => {
    const pod = podOf();
    const failed = status(pod, rt([sandbox()], [exited(i1, 3)]));
    expect(failed.initContainerStatuses?.[0]).toMatchObject({ ready: false, state: { terminated: { exitCode: 3, reason: 'Error' } } });
    expect(failed.phase).toBe('Pending');
    expect(shown(pod, failed)).toBe('Init:Error');
    const backoff = status(pod, rt([sandbox()], [exited(i1, 3, { restartCount: 1 }), exited(i1, 3)]), { i1: { reason: 'CrashLoopBackOff', message: 'back-off 10s' } });
    expect(backoff.initContainerStatuses?.[0]).toMatchObject({ restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 3 } } });
    expect(backoff.containerStatuses?.[0]?.state).toEqual({ waiting: { reason: 'PodInitializing' } });
    expect(shown(pod, backoff)).toBe('Init:CrashLoopBackOff');
    const never = status(podOf('Never'), rt([sandbox({ running: false, ip: undefined })], [exited(i1, 3)]));
    expect(never.phase).toBe('Failed');
    expect(shown(podOf('Never'), never)).toBe('Init:Error');
  });

  it('a pod that succeeded has Initialized True with PodCompleted', () => {
    const pod = podOf('OnFailure');
    const st = status(pod, rt([sandbox({ running: false, ip: undefined })], [exited(app, 0), exited(i2, 0), exited(i1, 0)]));
    expect(st.phase).toBe('Succeeded');
    expect(initialized(st)).toMatchObject({ status: 'True', reason: 'PodCompleted' });
  });

  it('a pod without init containers writes no initContainerStatuses', () => {
    const pod: Pod = { ...podOf(), spec: { containers: [app] } };
    const st = status(pod, rt([], []));
    expect(st).not.toHaveProperty('initContainerStatuses');
    expect(st.containerStatuses?.[0]?.state).toEqual({ waiting: { reason: 'ContainerCreating' } });
  });
});

describe('initContainers validation', () => {
  const raw = (init: Record<string, unknown>[], containers: Record<string, unknown>[] = [{ name: 'app', image: 'busybox' }]) => ({ metadata: { name: 'p' }, spec: { initContainers: init, containers } });

  it('the kubelet: container rules, names unique across both lists, no probes, no sidecars', () => {
    expect(validatePod(raw([{ name: 'i', image: 'busybox' }])).spec.initContainers).toHaveLength(1);
    expect(() => validatePod(raw([{ name: 'app', image: 'busybox' }]))).toThrow('spec.containers[0].name: duplicate container name');
    expect(() => validatePod(raw([{ name: 'i' }]))).toThrow('spec.initContainers[0].image: required');
    expect(() => validatePod(raw([{ name: 'i', image: 'b', readinessProbe: { exec: { command: ['true'] } } }]))).toThrow('spec.initContainers[0].readinessProbe: may not be set for init containers without restartPolicy=Always');
    expect(() => validatePod(raw([{ name: 'i', image: 'b', restartPolicy: 'Always' }]))).toThrow(/spec.initContainers\[0\].restartPolicy: sidecar containers .* are not supported by this kubelet/);
    expect(() => validatePod({ metadata: { name: 'p' }, spec: { initContainers: {}, containers: [{ name: 'a', image: 'b' }] } })).toThrow('spec.initContainers: must be a list');
  });

  const check = (spec: Record<string, unknown>): string => {
    const o: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' }, spec };
    podStrategy.defaults(o);
    const errs = podStrategy.validate(o);
    return errs.length ? invalidMessage('', 'Pod', 'web', errs) : 'valid';
  };

  it('the apiserver: defaults as for containers, duplicate names, probes forbidden, restartPolicy only Always', () => {
    const o: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' }, spec: { initContainers: [{ name: 'i', image: 'busybox' }], containers: [{ name: 'c', image: 'busybox' }] } };
    podStrategy.defaults(o);
    expect((o.spec as { initContainers: unknown[] }).initContainers[0]).toMatchObject({ imagePullPolicy: 'Always', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' });
    expect(podStrategy.validate(o)).toEqual([]);
    expect(check({ initContainers: [{ name: 'c', image: 'busybox' }], containers: [{ name: 'c', image: 'busybox' }] })).toBe('Pod "web" is invalid: spec.containers[0].name: Duplicate value: "c"');
    expect(check({ initContainers: [{ name: 'i', image: 'busybox', livenessProbe: { exec: { command: ['true'] } } }], containers: [{ name: 'c', image: 'busybox' }] })).toBe(
      'Pod "web" is invalid: spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always',
    );
    expect(check({ initContainers: [{ name: 'i', image: 'busybox', restartPolicy: 'Never' }], containers: [{ name: 'c', image: 'busybox' }] })).toBe(
      'Pod "web" is invalid: spec.initContainers[0].restartPolicy: Unsupported value: "Never": supported values: "Always"',
    );
    expect(check({ initContainers: [{ name: 'i', image: 'busybox', restartPolicy: 'Always', readinessProbe: { exec: { command: ['true'] } } }], containers: [{ name: 'c', image: 'busybox' }] })).toBe('valid');
    expect(check({ containers: [{ name: 'c', image: 'busybox', restartPolicy: 'Always' }] })).toBe('Pod "web" is invalid: spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers');
  });
});
