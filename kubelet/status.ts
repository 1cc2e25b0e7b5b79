// The pod status the kubelet writes back: phase, podIP/hostIP, conditions (Ready from readiness
// probes, Initialized from the init containers) and one containerStatus per spec container (and one
// initContainerStatus per init container) with its restart count, state and reasons.
// Pure: computed from the spec, what Docker holds, probe results and the reasons recorded by the last
// sync; times of unchanged conditions are carried over from the previous status, so a status that did
// not change compares equal and is not rewritten.
import type { Container, ContainerState, ContainerStatus, Pod, PodCondition, PodStatus } from '../cluster/index.js';
import { shouldRestart } from './actions.js';
import { inCurrentSandbox, initContainersOf, initCounts, initializedCondition } from './init-containers.js';
import type { ContainerRecord, RuntimePod } from './runtime.js';
import { restartPolicyOf } from './spec.js';

export interface Waiting {
  readonly reason: string;
  readonly message?: string;
}

export interface StatusInput {
  readonly pod: Pod;
  readonly rt: RuntimePod | undefined;
  readonly hostIP: string | undefined;
  /** Readiness of a running container: true/false from its probe, undefined when it has no readiness probe. */
  readonly ready: (containerId: string, containerName: string) => boolean | undefined;
  /** Why a container is not running, from the last sync (CrashLoopBackOff, ErrImageNeverPull, …). */
  readonly waiting: ReadonlyMap<string, Waiting>;
  readonly prev: PodStatus | undefined;
  /** RFC 3339, seconds. */
  readonly now: string;
}

export const rfc3339 = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const secs = (t: string | undefined): string | undefined => (t === undefined ? undefined : rfc3339(Date.parse(t)));

function terminated(c: ContainerRecord): ContainerState {
  return {
    terminated: {
      exitCode: c.exitCode,
      ...(c.reason && { reason: c.reason }),
      ...(c.message && { message: c.message }),
      ...(c.startedAt && { startedAt: secs(c.startedAt) }),
      ...(c.finishedAt && { finishedAt: secs(c.finishedAt) }),
      containerID: `docker://${c.id}`,
    } as NonNullable<ContainerState['terminated']>,
  };
}

export function containerStatuses(i: StatusInput): ContainerStatus[] {
  // Kubernetes shows every app container of a pod with init containers as PodInitializing until it exists.
  const initial = initContainersOf(i.pod).length > 0 ? 'PodInitializing' : 'ContainerCreating';
  return i.pod.spec.containers.map((c) => statusOf(i, c, (i.rt?.containers ?? []).filter((x) => x.name === c.name), initial, false));
}

/** The init containers' statuses, from their instances in the current sandbox (a new sandbox runs them again). */
export function initContainerStatuses(i: StatusInput): ContainerStatus[] {
  return initContainersOf(i.pod).map((c) => statusOf(i, c, inCurrentSandbox(i.rt, c.name), 'PodInitializing', true));
}

function statusOf(i: StatusInput, c: Container, all: readonly ContainerRecord[], initial: string, init: boolean): ContainerStatus {
  const last = all[0];
  const w = i.waiting.get(c.name);
  const base = { name: c.name, image: c.image, restartCount: last?.restartCount ?? 0 };
  if (!last) return { ...base, ready: false, started: false, state: { waiting: { reason: w?.reason ?? initial, ...(w?.message && { message: w.message }) } } };
  const ids = { imageID: last.imageId ? `docker-pullable://${last.image}@${last.imageId}` : '', containerID: `docker://${last.id}` };
  const prevTerminated = all.find((x, k) => k > 0 && !x.running && x.state !== 'created');
  if (last.running) {
    // An init container is ready once it has completed, never while it runs.
    const ready = init ? false : (i.ready(last.id, c.name) ?? true);
    return {
      ...base,
      ...ids,
      ready,
      started: true,
      state: { running: { startedAt: secs(last.startedAt) ?? i.now } },
      ...(prevTerminated && { lastState: terminated(prevTerminated) }),
    };
  }
  // Not running: waiting to be restarted (with the reason the sync recorded), or terminated for good.
  if (w || (last.state === 'created' && shouldRestart(i.pod, last))) {
    const stopped = last.state === 'created' ? prevTerminated : last;
    return {
      ...base,
      ...ids,
      ready: false,
      started: false,
      state: { waiting: { reason: w?.reason ?? initial, ...(w?.message && { message: w.message }) } },
      ...(stopped && { lastState: terminated(stopped) }),
    };
  }
  return { ...base, ...ids, ready: init && last.exitCode === 0, started: false, state: terminated(last), ...(prevTerminated && { lastState: terminated(prevTerminated) }) };
}

/**
 * Kubernetes' getPhase: Pending until initialization is done and every container has started; Failed
 * once an init container failed under restartPolicy Never; terminal only when nothing will restart.
 */
export function podPhase(pod: Pod, statuses: readonly ContainerStatus[], inits: readonly ContainerStatus[] = []): NonNullable<PodStatus['phase']> {
  const init = initCounts(pod, inits);
  let waiting = 0;
  let running = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const s of statuses) {
    if (s.state.running) running++;
    else if (s.state.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state.waiting) {
      if (s.lastState?.terminated) stopped++;
      else waiting++;
    }
  }
  if (init.failed > 0 && restartPolicyOf(pod) === 'Never') return 'Failed';
  if (init.pending > 0 || waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    const policy = restartPolicyOf(pod);
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

function condition(prev: PodStatus | undefined, now: string, c: Omit<PodCondition, 'lastTransitionTime' | 'lastProbeTime'>): PodCondition {
  const old = prev?.conditions?.find((x) => x.type === c.type);
  const since = old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : now;
  return { type: c.type, status: c.status, lastProbeTime: null, lastTransitionTime: since, ...(c.reason && { reason: c.reason }), ...(c.message && { message: c.message }) };
}

export function computePodStatus(i: StatusInput): PodStatus {
  const statuses = containerStatuses(i);
  const inits = initContainerStatuses(i);
  const phase = podPhase(i.pod, statuses, inits);
  const sandbox = i.rt?.sandboxes[0];
  const podIP = sandbox?.running ? (sandbox.ip ?? sandbox.ip6) : undefined;
  // Dual stack (docker --ipv6): the v4 address first, as podIP, then the v6 one.
  const podIPs = podIP ? [podIP, ...(sandbox?.ip6 && sandbox.ip6 !== podIP ? [sandbox.ip6] : [])].map((ip) => ({ ip })) : [];
  const terminal = phase === 'Succeeded' || phase === 'Failed';
  const unready = statuses.filter((s) => !s.ready).map((s) => s.name);
  const ready = unready.length === 0 && !terminal;
  const notReady = terminal ? { reason: 'PodCompleted' } : { reason: 'ContainersNotReady', message: `containers with unready status: [${unready.join(' ')}]` };
  const conditions = [
    condition(i.prev, i.now, initializedCondition(i.pod, phase, inits, statuses)),
    condition(i.prev, i.now, ready ? { type: 'Ready', status: 'True' } : { type: 'Ready', status: 'False', ...notReady }),
    condition(i.prev, i.now, ready ? { type: 'ContainersReady', status: 'True' } : { type: 'ContainersReady', status: 'False', ...notReady }),
    condition(i.prev, i.now, { type: 'PodScheduled', status: 'True' }),
  ];
  return {
    phase,
    conditions,
    ...(i.hostIP && { hostIP: i.hostIP }),
    ...(podIP && { podIP, podIPs }),
    startTime: i.prev?.startTime ?? i.now,
    ...(inits.length > 0 && { initContainerStatuses: inits }),
    containerStatuses: statuses,
  };
}

/** A pod the kubelet cannot run (malformed spec): Failed with the reason and the field at fault. */
export function invalidPodStatus(prev: PodStatus | undefined, now: string, message: string, hostIP: string | undefined): PodStatus {
  return {
    phase: 'Failed',
    reason: 'InvalidPod',
    message,
    ...(hostIP && { hostIP }),
    conditions: [condition(prev, now, { type: 'Ready', status: 'False', reason: 'InvalidPod', message }), condition(prev, now, { type: 'PodScheduled', status: 'True' })],
    startTime: prev?.startTime ?? now,
  };
}
