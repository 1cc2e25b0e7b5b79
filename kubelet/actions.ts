// What one sync of a pod must do, from its spec and what Docker holds (kuberuntime's
// computePodActions). Pure: the sync applies the result, and unit tests check the rules. While the
// pod's init containers have not all completed, only the next of them is started (init-containers.ts).
import type { Container, Pod } from '../cluster/index.js';
import { initContainersOf, nextInitContainer } from './init-containers.js';
import { type ContainerRecord, type RuntimePod, latestContainer } from './runtime.js';
import { containerHash, restartPolicyOf } from './spec.js';

export interface KillAction {
  readonly id: string;
  readonly name: string;
  readonly reason: string;
}

export interface PodActions {
  /** Stop every container and the infra container (a new sandbox follows, or the pod is done). */
  readonly killPod: boolean;
  readonly createSandbox: boolean;
  /** The attempt number of the sandbox to create. */
  readonly attempt: number;
  /** The running sandbox to start containers in (when not creating one). */
  readonly sandboxId: string | undefined;
  /** Spec containers to start, in spec order. */
  readonly start: readonly string[];
  /** The init container to start (then no app container starts in this sync). */
  readonly startInit?: string;
  /** Init containers of earlier sandboxes to remove before a new sandbox runs them all again. */
  readonly purgeInit?: readonly string[];
  readonly kill: readonly KillAction[];
}

/** Restart rules of the pod's policy for a container that is not running. */
export function shouldRestart(pod: Pod, last: ContainerRecord | undefined): boolean {
  if (!last) return true; // never started
  if (last.running) return false;
  if (last.state === 'created') return true; // made but never started: start again
  const policy = restartPolicyOf(pod);
  if (policy === 'Never') return false;
  if (policy === 'OnFailure') return last.exitCode !== 0;
  return true;
}

const succeeded = (rt: RuntimePod, c: Container): boolean => {
  const last = latestContainer(rt, c.name);
  return last !== undefined && !last.running && last.state !== 'created' && last.exitCode === 0;
};

/** `livenessFailed(id)`: true when that container's liveness probe has failed. */
export function computePodActions(pod: Pod, rt: RuntimePod, livenessFailed: (containerId: string) => boolean): PodActions {
  const sandbox = rt.sandboxes[0];
  const sandboxChanged = !sandbox || !sandbox.running || !sandbox.ip;
  if (sandboxChanged) {
    const attempt = sandbox ? sandbox.attempt + 1 : 0;
    const hasRunningSomething = rt.sandboxes.some((s) => s.running) || rt.containers.some((c) => c.running);
    // A pod that has run and must not be restarted stays down (Never; or OnFailure with nothing failed).
    if (restartPolicyOf(pod) === 'Never' && sandbox && rt.containers.length > 0) {
      return { killPod: hasRunningSomething, createSandbox: false, attempt, sandboxId: undefined, start: [], kill: [] };
    }
    const start = pod.spec.containers.filter((c) => !(restartPolicyOf(pod) === 'OnFailure' && succeeded(rt, c))).map((c) => c.name);
    if (start.length === 0) return { killPod: hasRunningSomething, createSandbox: false, attempt, sandboxId: undefined, start: [], kill: [] };
    const inits = initContainersOf(pod);
    if (inits.length > 0) {
      const initNames = new Set(inits.map((c) => c.name));
      const purgeInit = rt.containers.filter((c) => initNames.has(c.name)).map((c) => c.id);
      return { killPod: hasRunningSomething, createSandbox: true, attempt, sandboxId: undefined, start: [], startInit: inits[0]!.name, purgeInit, kill: [] };
    }
    return { killPod: hasRunningSomething, createSandbox: true, attempt, sandboxId: undefined, start, kill: [] };
  }

  // Running containers that the spec no longer has.
  const names = new Set([...pod.spec.containers, ...initContainersOf(pod)].map((c) => c.name));
  const strays: KillAction[] = rt.containers.filter((c) => c.running && !names.has(c.name)).map((c) => ({ id: c.id, name: c.name, reason: 'container is not in the pod spec' }));

  const init = nextInitContainer(pod, rt);
  if (init.kind === 'failed') return { killPod: true, createSandbox: false, attempt: sandbox.attempt, sandboxId: sandbox.id, start: [], kill: strays };
  if (init.kind === 'start') return { killPod: false, createSandbox: false, attempt: sandbox.attempt, sandboxId: sandbox.id, start: [], startInit: init.name, kill: strays };
  if (init.kind === 'running') return { killPod: false, createSandbox: false, attempt: sandbox.attempt, sandboxId: sandbox.id, start: [], kill: strays };

  const start: string[] = [];
  const kill: KillAction[] = [];
  let keep = 0;
  for (const c of pod.spec.containers) {
    const last = latestContainer(rt, c.name);
    if (!last || !last.running) {
      if (shouldRestart(pod, last)) start.push(c.name);
      continue;
    }
    let reason: string | undefined;
    let restart = true;
    if (last.sandboxId && last.sandboxId !== sandbox.id) reason = 'container is not in the current sandbox';
    else if (last.hash !== containerHash(c)) reason = 'container spec changed';
    else if (livenessFailed(last.id)) {
      reason = 'container failed its liveness probe';
      restart = restartPolicyOf(pod) !== 'Never';
    }
    if (reason === undefined) {
      keep++;
      continue;
    }
    if (restart) start.push(c.name);
    kill.push({ id: last.id, name: c.name, reason });
  }
  kill.push(...strays);
  if (keep === 0 && start.length === 0) return { killPod: true, createSandbox: false, attempt: sandbox.attempt, sandboxId: sandbox.id, start: [], kill };
  return { killPod: false, createSandbox: false, attempt: sandbox.attempt, sandboxId: sandbox.id, start, kill };
}
