// From a path's pod and container to the Docker container a request works on, with the kubelet's answers
// when there is none (404 for an unknown pod or container name, 400 for a container that has no
// instance to read yet or no previous one).
import type { Pod } from '../../cluster/index.js';
import type { ContainerRecord, RunningContainer, RuntimePod } from '../runtime.js';
import type { PodRef } from './paths.js';

export class LookupError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** What the server reads of the kubelet. */
export interface PodSource {
  pods(): Pod[];
  getRuntimePod(uid: string): Promise<RuntimePod | undefined>;
  /** The pod's running containers, newest instance first (one runtime list, no inspect). */
  runningContainers(uid: string): Promise<RunningContainer[]>;
}

export function findPod(src: PodSource, ref: PodRef): Pod {
  const pod = src.pods().find((p) => p.metadata.name === ref.pod && (p.metadata.namespace ?? 'default') === ref.namespace && (ref.uid === undefined || p.metadata.uid === ref.uid));
  if (!pod) throw new LookupError(404, `pod ${JSON.stringify(`${ref.namespace}/${ref.pod}`)} does not exist`);
  return pod;
}

function specContainer(pod: Pod, name: string): void {
  if (!pod.spec.containers.some((c) => c.name === name) && !((pod.spec as { initContainers?: { name: string }[] }).initContainers ?? []).some((c) => c.name === name)) {
    throw new LookupError(404, `container ${JSON.stringify(name)} not found in pod ${JSON.stringify(pod.metadata.name)}`);
  }
}

/**
 * The container whose logs are read: the newest instance of `name`, or with `previous` the one before it.
 * Pure over the runtime's view (newest first).
 */
export function logContainer(pod: Pod, rt: RuntimePod | undefined, name: string, previous: boolean): ContainerRecord {
  specContainer(pod, name);
  const instances = (rt?.containers ?? []).filter((c) => c.name === name);
  const podName = pod.metadata.name;
  if (previous) {
    const prev = instances[1];
    if (!prev) throw new LookupError(400, `previous terminated container ${JSON.stringify(name)} in pod ${JSON.stringify(podName)} not found`);
    return prev;
  }
  const cur = instances[0];
  if (!cur) throw new LookupError(400, `container ${JSON.stringify(name)} in pod ${JSON.stringify(podName)} is waiting to start: ContainerCreating`);
  return cur;
}

/** The running instance of `name` (exec, attach, run), among the pod's running containers (newest first). Pure. */
export function runningContainer(pod: Pod, running: readonly RunningContainer[], name: string): RunningContainer {
  specContainer(pod, name);
  const c = running.find((x) => x.name === name);
  if (!c) throw new LookupError(400, `container ${JSON.stringify(name)} in pod ${JSON.stringify(pod.metadata.name)} is not running`);
  return c;
}
