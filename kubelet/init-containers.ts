// Init containers, as the kubelet runs them: one at a time, in spec order, each to exit 0 before the
// next, in the live sandbox, before any app container. Pure: which one to run next is read from what
// Docker holds for the current sandbox (never from memory), so a restarted kubelet or a missed event
// does not run a completed one again; a new sandbox has none of them, so they all run again.
// Also the pod's Initialized condition from the init containers' statuses (GeneratePodInitializedCondition).
import type { Container, ContainerStatus, Pod, PodCondition } from '../cluster/index.js';
import type { ContainerRecord, RuntimePod } from './runtime.js';
import { restartPolicyOf } from './spec.js';

export const initContainersOf = (pod: Pod): readonly Container[] => pod.spec.initContainers ?? [];

/** Records of one container in the pod's newest sandbox, newest first (older sandboxes' do not count). */
export function inCurrentSandbox(rt: RuntimePod | undefined, name: string): ContainerRecord[] {
  const sb = rt?.sandboxes[0];
  return (rt?.containers ?? []).filter((c) => c.name === name && (!sb || c.sandboxId === sb.id));
}

/** An init container that ended badly: a non-zero exit (including a failed start) or the OOM killer. */
export const initFailed = (c: ContainerRecord): boolean => !c.running && c.state !== 'created' && (c.exitCode !== 0 || c.reason === 'OOMKilled');
const initSucceeded = (c: ContainerRecord): boolean => !c.running && c.state !== 'created' && !initFailed(c);

export type InitProgress =
  /** Every init container has completed (or the pod has none): the app containers may run. */
  | { readonly kind: 'done' }
  /** One is running: wait for it. */
  | { readonly kind: 'running'; readonly name: string }
  /** Start this one next; `failed` is its last instance when it is being restarted after a failure. */
  | { readonly kind: 'start'; readonly name: string; readonly failed: ContainerRecord | undefined }
  /** One failed and the pod's restartPolicy is Never: the pod has failed. */
  | { readonly kind: 'failed'; readonly name: string };

/** findNextInitContainerToRun: where the pod's initialization stands in its current sandbox. */
export function nextInitContainer(pod: Pod, rt: RuntimePod | undefined): InitProgress {
  const inits = initContainersOf(pod);
  if (inits.length === 0) return { kind: 'done' };
  // A running app container means initialization finished once, even if those records are gone since.
  if (pod.spec.containers.some((c) => inCurrentSandbox(rt, c.name)[0]?.running)) return { kind: 'done' };
  for (let i = inits.length - 1; i >= 0; i--) {
    const last = inCurrentSandbox(rt, inits[i]!.name)[0];
    if (last && initFailed(last)) return restartPolicyOf(pod) === 'Never' ? { kind: 'failed', name: last.name } : { kind: 'start', name: last.name, failed: last };
  }
  for (let i = inits.length - 1; i >= 0; i--) {
    const last = inCurrentSandbox(rt, inits[i]!.name)[0];
    if (!last) continue;
    if (last.running) return { kind: 'running', name: last.name };
    if (initSucceeded(last)) return i === inits.length - 1 ? { kind: 'done' } : { kind: 'start', name: inits[i + 1]!.name, failed: undefined };
    // Made but never started: start it again.
    return { kind: 'start', name: last.name, failed: undefined };
  }
  return { kind: 'start', name: inits[0]!.name, failed: undefined };
}

/**
 * The Initialized condition (without times): True without init containers, once every one has exited 0,
 * or once an app container has started (PodCompleted when the pod has succeeded); else False, naming the incomplete ones in spec order.
 */
export function initializedCondition(pod: Pod, phase: string, inits: readonly ContainerStatus[], apps: readonly ContainerStatus[]): Omit<PodCondition, 'lastTransitionTime' | 'lastProbeTime'> {
  const specs = initContainersOf(pod);
  if (specs.length === 0) return { type: 'Initialized', status: 'True' };
  const unknown: string[] = [];
  const incomplete: string[] = [];
  for (const c of specs) {
    const s = inits.find((x) => x.name === c.name);
    if (!s) unknown.push(c.name);
    else if (s.state.terminated?.exitCode !== 0) incomplete.push(c.name);
  }
  if (phase === 'Succeeded' && unknown.length === 0) return { type: 'Initialized', status: 'True', reason: 'PodCompleted' };
  if (apps.some((s) => s.state.running || s.state.terminated)) return { type: 'Initialized', status: 'True' };
  const parts = [...(unknown.length ? [`containers with unknown status: [${unknown.join(' ')}]`] : []), ...(incomplete.length ? [`containers with incomplete status: [${incomplete.join(' ')}]`] : [])];
  if (parts.length === 0) return { type: 'Initialized', status: 'True' };
  return { type: 'Initialized', status: 'False', reason: 'ContainersNotInitialized', message: parts.join(', ') };
}

/** getPhase's count over the init containers: how many are still to complete, and how many failed. */
export function initCounts(pod: Pod, inits: readonly ContainerStatus[]): { pending: number; failed: number } {
  let pending = 0;
  let failed = 0;
  for (const c of initContainersOf(pod)) {
    const s = inits.find((x) => x.name === c.name);
    if (!s || s.state.running) pending++;
    else if (s.state.terminated) {
      if (s.state.terminated.exitCode !== 0) failed++;
    } else if (s.lastState?.terminated) {
      if (s.lastState.terminated.exitCode !== 0) failed++;
    } else pending++;
  }
  return { pending, failed };
}
