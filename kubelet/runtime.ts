// Pods on Docker: the edge between the kubelet's pure decisions and the Docker Engine API.
//
// A pod is an infra ("pause") container that holds the network namespace on docker0, plus one Docker
// container per spec container joined to it (NetworkMode and IpcMode `container:<infra>`), so every
// container of a pod shares one IP from the node's flannel subnet. Under --network-plugin=cni the infra
// container is on NetworkMode none and the CNI plugins (cni-network.ts) give it its interface and address;
// stopSandbox runs their DEL before the container stops, as dockershim's StopPodSandbox does. Everything the kubelet creates
// carries labels naming the pod (namespace, name, UID), the container, its restart count and its
// spec hash: that is how a restarted kubelet finds and adopts its pods, and how it leaves every other
// container alone (anything without io.kubernetes.pod.uid is never listed, let alone touched).
// Names follow dockershim: k8s_<container>_<pod>_<namespace>_<uid>_<attempt>, k8s_POD_… for the infra.
import { readFile } from 'node:fs/promises';
import type { Container, Pod } from '../cluster/index.js';
import { type Logger, errorMessage } from '../common/index.js';
import type { SandboxNetwork } from './cni-network.js';
import { type ContainerDetails, type ContainerSummary, type DockerClient, DockerError, type DockerVersion, isConflict } from './docker.js';
import { dockerSecurity, isHostNetwork } from './host-config.js';
import { dockerResources, graceOf, namespaceOf } from './spec.js';
import { tarball } from './tar.js';

export const LABELS = {
  podName: 'io.kubernetes.pod.name',
  podNamespace: 'io.kubernetes.pod.namespace',
  podUid: 'io.kubernetes.pod.uid',
  containerName: 'io.kubernetes.container.name',
  type: 'io.kubernetes.docker.type',
  hash: 'io.kubernetes.container.hash',
  restartCount: 'io.kubernetes.container.restartCount',
  attempt: 'io.kubernetes.sandbox.attempt',
  sandboxId: 'io.kubernetes.sandbox.id',
  grace: 'io.kubernetes.pod.terminationGracePeriod',
  /** On a sandbox in the node's network namespace (its address is the node's, not Docker's). */
  hostNetwork: 'io.kubernetes.pod.hostNetwork',
} as const;

export const SANDBOX_NAME = 'POD';

/** A running container of a pod as Docker's list shows it (exec's and attach's lookup). */
export interface RunningContainer {
  readonly id: string;
  readonly name: string;
  readonly restartCount: number;
  /** Unix seconds. */
  readonly created: number;
}
export const DEFAULT_PAUSE_IMAGE = 'flannel-ts/pause:1';

export interface SandboxRecord {
  readonly id: string;
  readonly attempt: number;
  readonly running: boolean;
  readonly ip: string | undefined;
  readonly ip6?: string;
  readonly createdAt: number;
  /** The infra container's process while it runs (its network namespace, for the CNI plugins' DEL). */
  readonly pid?: number;
}

export interface ContainerRecord {
  readonly id: string;
  readonly name: string;
  readonly hash: string;
  readonly restartCount: number;
  readonly sandboxId: string;
  /** Docker's state: created, running, exited, dead, … */
  readonly state: string;
  readonly running: boolean;
  readonly exitCode: number;
  /** Completed, Error, OOMKilled or ContainerCannotRun, once it has stopped. */
  readonly reason: string | undefined;
  readonly message: string | undefined;
  readonly startedAt: string | undefined;
  readonly finishedAt: string | undefined;
  readonly image: string;
  readonly imageId: string;
  readonly createdAt: number;
}

/** What Docker holds for one pod, newest first in each list. */
export interface RuntimePod {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly graceSec: number;
  readonly sandboxes: readonly SandboxRecord[];
  readonly containers: readonly ContainerRecord[];
}

/** One pod's containers as `docker ps -a` lists them (cheap; no inspect). */
export interface RuntimePodSummary {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly graceSec: number;
  readonly containers: readonly ContainerSummary[];
}

/** A container that was created but would not start (bad command, missing mount source…). */
export class StartContainerError extends DockerError {
  constructor(
    readonly containerId: string,
    cause: DockerError,
  ) {
    super('start container', cause.status, cause.detail, { cause });
  }
}

/** Containers grouped by their pod UID label, with the pod's name, namespace and grace from the first. */
function byPod(list: readonly ContainerSummary[]): Map<string, RuntimePodSummary> {
  const out = new Map<string, RuntimePodSummary & { containers: ContainerSummary[] }>();
  for (const c of list) {
    const uid = c.labels[LABELS.podUid];
    if (uid === undefined) continue;
    let p = out.get(uid);
    if (!p) {
      const g = Number(c.labels[LABELS.grace]);
      p = { uid, name: c.labels[LABELS.podName] ?? '', namespace: c.labels[LABELS.podNamespace] ?? '', graceSec: Number.isFinite(g) ? g : 30, containers: [] };
      out.set(uid, p);
    }
    p.containers.push(c);
  }
  return out;
}

export const latestContainer = (rt: RuntimePod | undefined, name: string): ContainerRecord | undefined => rt?.containers.find((c) => c.name === name);

export interface PodRuntimeOptions {
  readonly docker: DockerClient;
  readonly log: Logger;
  readonly pauseImage: string;
  /** A static busybox that becomes the pause image when that image is not present locally. */
  readonly pauseBusybox: string;
  /** The node's address: a host-network pod's IP. */
  readonly hostIP?: string;
  /**
   * --network-plugin=cni: a sandbox not on the host network gets NetworkMode none and its interface from
   * the CNI plugins (its addresses from their result); absent, Docker's bridge gives it one.
   */
  readonly network?: SandboxNetwork;
}

/** The sandbox was started, but the CNI plugins could not give it its network (the sandbox is removed again). */
export class SandboxNetworkError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SandboxNetworkError';
  }
}

export class PodRuntime {
  private readonly docker: DockerClient;
  private readonly log: Logger;
  /** Inspect results of containers that have stopped: they never change again. */
  private readonly finished = new Map<string, ContainerDetails>();
  /**
   * Inspect results of running containers, kept only while Docker's events are followed: any event of
   * a container drops its entry (a lost stream drops all), and nothing else changes a running container's
   * inspect that the kubelet reads. The minute's resync of every pod inspected each container again.
   */
  private readonly running = new Map<string, ContainerDetails>();
  private eventsFollowed = false;
  /** Bumped by every event: an inspect answered across one is not kept (it may predate the change). */
  private eventEpoch = 0;
  private pauseReady: Promise<void> | undefined;

  constructor(private readonly o: PodRuntimeOptions) {
    this.docker = o.docker;
    this.log = o.log.child({ component: 'runtime' });
  }

  /** Every kubelet-made container, grouped by pod UID. */
  async listPods(): Promise<Map<string, RuntimePodSummary>> {
    const all = await this.docker.listContainers(LABELS.podUid);
    const live = new Set(all.map((c) => c.id));
    for (const id of this.finished.keys()) if (!live.has(id)) this.finished.delete(id);
    for (const id of this.running.keys()) if (!live.has(id)) this.running.delete(id);
    return byPod(all);
  }

  /**
   * Docker's lifecycle events of kubelet-made containers (created, started, died, destroyed, …), as a
   * signal that a relist would find a change; exec events (probes, kubectl exec) are not among them.
   */
  async *containerChanges(signal: AbortSignal, onConnected: () => void): AsyncIterable<unknown> {
    const filters = { type: ['container'], label: [LABELS.podUid], event: ['create', 'start', 'die', 'destroy', 'stop', 'kill', 'oom', 'pause', 'unpause', 'restart'] };
    const connected = (): void => {
      this.dropRunning();
      this.eventsFollowed = true;
      onConnected();
    };
    try {
      for await (const ev of this.docker.events(filters, signal, connected)) {
        this.eventEpoch++;
        const id = ev['id'] ?? (ev['Actor'] as { ID?: unknown } | undefined)?.ID;
        if (typeof id === 'string') this.running.delete(id);
        else this.running.clear();
        yield ev;
      }
    } finally {
      this.eventsFollowed = false;
      this.dropRunning();
    }
  }

  private dropRunning(): void {
    this.eventEpoch++;
    this.running.clear();
  }

  /** The full state of one pod, undefined when Docker holds no container of it. */
  async getPod(uid: string): Promise<RuntimePod | undefined> {
    const s = byPod(await this.docker.listContainers(`${LABELS.podUid}=${uid}`)).get(uid);
    return s ? this.podStatus(s) : undefined;
  }

  /**
   * The pod's running containers (not its sandboxes), newest instance first: one Docker list and no inspect,
   * as the kubelet's exec and attach find their container among the runtime's running pods.
   */
  async runningContainers(uid: string): Promise<RunningContainer[]> {
    const list = await this.docker.listContainers(`${LABELS.podUid}=${uid}`, { running: true });
    return list
      .filter((c) => c.state === 'running' && c.labels[LABELS.type] !== 'podsandbox' && c.labels[LABELS.podUid] === uid)
      .map((c) => ({ id: c.id, name: c.labels[LABELS.containerName] ?? '', restartCount: Number(c.labels[LABELS.restartCount] ?? 0) || 0, created: c.created }))
      .sort((a, b) => b.restartCount - a.restartCount || b.created - a.created);
  }

  /** The runtime's version (and the API version the client pins); throws while it is down. */
  version(): Promise<DockerVersion> {
    return this.docker.negotiate();
  }

  ping(): Promise<boolean> {
    return this.docker.ping();
  }

  /** The full state of one pod: every container inspected (stopped ones from the cache). */
  async podStatus(s: RuntimePodSummary): Promise<RuntimePod> {
    const details = await Promise.all(
      s.containers.map(async (c) => {
        const cached = this.finished.get(c.id) ?? (c.state === 'running' ? this.running.get(c.id) : undefined);
        if (cached) return cached;
        try {
          const epoch = this.eventEpoch;
          const d = await this.docker.inspectContainer(c.id);
          if (!d.running && (d.status === 'exited' || d.status === 'dead' || (d.status === 'created' && d.error !== ''))) this.finished.set(c.id, d);
          else if (d.running && this.eventsFollowed && epoch === this.eventEpoch) this.running.set(c.id, d);
          return d;
        } catch (e) {
          if (e instanceof DockerError && e.status === 404) return undefined; // removed meanwhile
          throw e;
        }
      }),
    );
    const sandboxes: SandboxRecord[] = [];
    const containers: ContainerRecord[] = [];
    for (const d of details) {
      if (!d) continue;
      const created = d.createdAt ? Date.parse(d.createdAt) : 0;
      if (d.labels[LABELS.type] === 'podsandbox') {
        const host = d.labels[LABELS.hostNetwork] === 'true';
        // Under CNI Docker knows no address of the sandbox: the plugins' cached result does.
        const cni = !host && !d.ip ? this.o.network?.podIPs(d.id) : undefined;
        const ip = host ? this.o.hostIP : (d.ip ?? cni?.find((a) => !a.includes(':')));
        const ip6 = d.ip6 ?? cni?.find((a) => a.includes(':'));
        sandboxes.push({ id: d.id, attempt: Number(d.labels[LABELS.attempt] ?? 0) || 0, running: d.running, ip: d.running ? ip : undefined, ...(d.running && ip6 && { ip6 }), createdAt: created, ...(d.running && d.pid > 0 && { pid: d.pid }) });
        continue;
      }
      // A container whose start failed stays "created" with State.Error: it counts as exited.
      const startFailed = !d.running && d.status === 'created' && d.error !== '';
      const stopped = (!d.running && d.status !== 'created') || startFailed;
      const neverRan = stopped && d.startedAt === undefined;
      containers.push({
        id: d.id,
        name: d.labels[LABELS.containerName] ?? '',
        hash: d.labels[LABELS.hash] ?? '',
        restartCount: Number(d.labels[LABELS.restartCount] ?? 0) || 0,
        sandboxId: d.labels[LABELS.sandboxId] ?? '',
        state: startFailed ? 'exited' : d.status,
        running: d.running,
        exitCode: startFailed && d.exitCode === 0 ? 128 : d.exitCode,
        reason: !stopped ? undefined : neverRan || d.error ? 'ContainerCannotRun' : d.oomKilled ? 'OOMKilled' : d.exitCode === 0 ? 'Completed' : 'Error',
        message: d.error || undefined,
        startedAt: d.startedAt,
        finishedAt: d.finishedAt ?? (startFailed ? d.createdAt : undefined),
        image: d.image,
        imageId: d.imageId,
        createdAt: created,
      });
    }
    sandboxes.sort((a, b) => b.attempt - a.attempt || b.createdAt - a.createdAt);
    containers.sort((a, b) => b.restartCount - a.restartCount || b.createdAt - a.createdAt);
    return { uid: s.uid, name: s.name, namespace: s.namespace, graceSec: s.graceSec, sandboxes, containers };
  }

  // ---- images

  /** The image's ID when it is present locally (this kubelet never pulls: no registry is reachable). */
  imageId(ref: string): Promise<string | undefined> {
    return this.docker.imageId(ref);
  }

  /** The pause image: used when present, else made from a static busybox with `docker import`. */
  ensurePauseImage(): Promise<void> {
    this.pauseReady ??= this.makePauseImage().catch((e: unknown) => {
      this.pauseReady = undefined;
      throw e;
    });
    return this.pauseReady;
  }

  private async makePauseImage(): Promise<void> {
    if (await this.docker.imageId(this.o.pauseImage)) return;
    const busybox = await readFile(this.o.pauseBusybox);
    const tar = tarball([
      ...['bin', 'dev', 'etc', 'proc', 'sys', 'tmp'].map((path) => ({ type: 'dir' as const, path })),
      { type: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
      { type: 'symlink', path: 'bin/sh', target: 'busybox' },
    ]);
    const colon = this.o.pauseImage.lastIndexOf(':');
    const [repo, tag] = colon > this.o.pauseImage.lastIndexOf('/') ? [this.o.pauseImage.slice(0, colon), this.o.pauseImage.slice(colon + 1)] : [this.o.pauseImage, 'latest'];
    // PID 1 of the infra container: sleeps, exits at once on SIGTERM/SIGINT (PID 1 has no default handlers).
    const cmd = ['/bin/busybox', 'sh', '-c', "trap 'exit 0' TERM INT; while :; do /bin/busybox sleep 3600 & wait $!; done"];
    await this.docker.importImage(tar, repo, tag, [`CMD ${JSON.stringify(cmd)}`]);
    this.log.info({ image: this.o.pauseImage, from: this.o.pauseBusybox }, 'pause image made');
  }

  // ---- create, start, stop, remove

  private labels(pod: Pod, extra: Record<string, string>): Record<string, string> {
    return {
      [LABELS.podName]: pod.metadata.name,
      [LABELS.podNamespace]: namespaceOf(pod),
      [LABELS.podUid]: pod.metadata.uid ?? '',
      [LABELS.grace]: String(graceOf(pod)),
      ...extra,
    };
  }

  /** Creates and starts the infra container; returns it with its address on docker0. */
  async createSandbox(pod: Pod, attempt: number): Promise<SandboxRecord> {
    await this.ensurePauseImage();
    const ns = namespaceOf(pod);
    const name = `k8s_${SANDBOX_NAME}_${pod.metadata.name}_${ns}_${pod.metadata.uid}_${attempt}`;
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostPort: string }[]> = {};
    for (const c of pod.spec.containers) {
      for (const p of c.ports ?? []) {
        if (!p.hostPort) continue;
        const k = `${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}`;
        exposed[k] = {};
        (bindings[k] ??= []).push({ HostPort: String(p.hostPort) });
      }
    }
    const host = isHostNetwork(pod);
    const cni = !host ? this.o.network : undefined;
    // On the node's network the ports are the node's already, and Docker refuses a hostname of the sandbox's own.
    // Under CNI the plugins make the interface (hostPorts would be the portmap plugin's, which is not run here).
    const network = host ? { NetworkMode: 'host' } : cni ? { NetworkMode: 'none' } : { PortBindings: bindings };
    const config = {
      Image: this.o.pauseImage,
      ...(!host && { Hostname: pod.metadata.name.slice(0, 63).replace(/\.+$/, '') }),
      Labels: this.labels(pod, { [LABELS.containerName]: SANDBOX_NAME, [LABELS.type]: 'podsandbox', [LABELS.attempt]: String(attempt), ...(host && { [LABELS.hostNetwork]: 'true' }) }),
      ...(!host && !cni && { ExposedPorts: exposed }),
      HostConfig: { IpcMode: 'shareable', ...network, RestartPolicy: { Name: 'no' } },
    };
    const id = await this.createReplacingStale(name, config);
    try {
      await this.docker.startContainer(id);
    } catch (e) {
      await this.docker.removeContainer(id).catch(() => undefined);
      throw e;
    }
    const d = await this.docker.inspectContainer(id);
    const createdAt = d.createdAt ? Date.parse(d.createdAt) : Date.now();
    if (!cni) return { id, attempt, running: d.running, ip: host ? this.o.hostIP : d.ip, createdAt, ...(d.pid > 0 && { pid: d.pid }) };
    let ips: string[];
    try {
      if (!d.running || !(d.pid > 0)) throw new Error('the sandbox container is not running');
      ips = await cni.setUp({ namespace: ns, name: pod.metadata.name }, id, d.pid);
    } catch (e) {
      await this.docker.removeContainer(id).catch((r: unknown) => this.log.warn({ sandbox: id.slice(0, 12), err: errorMessage(r) }, 'cannot remove a sandbox whose network failed'));
      throw new SandboxNetworkError(`failed to set up sandbox container "${id}" network for pod "${pod.metadata.name}": networkPlugin cni failed to set up pod "${pod.metadata.name}_${ns}" network: ${errorMessage(e)}`, { cause: e });
    }
    const ip6 = ips.find((a) => a.includes(':'));
    return { id, attempt, running: true, ip: ips.find((a) => !a.includes(':')), ...(ip6 && { ip6 }), createdAt, pid: d.pid };
  }

  /**
   * Stops a sandbox as dockershim's StopPodSandbox: its CNI attachment torn down first (DEL, also for a
   * sandbox that died on its own: its plugins then get no netns), then the infra container stopped.
   */
  async stopSandbox(s: Pick<SandboxRecord, 'id' | 'running' | 'pid'>, graceSec = 2): Promise<void> {
    await this.o.network?.tearDown(s.id, s.running ? s.pid : undefined);
    if (s.running) await this.stopContainer(s.id, graceSec);
  }

  /** Creates and starts an app container in the sandbox; a start failure leaves it for the status (StartContainerError). */
  async startContainer(
    pod: Pod,
    c: Container,
    sandboxId: string,
    restartCount: number,
    hash: string,
    cfg: { env: readonly string[]; command: readonly string[] | undefined; args: readonly string[] | undefined; binds: readonly string[] },
  ): Promise<string> {
    const name = `k8s_${c.name}_${pod.metadata.name}_${namespaceOf(pod)}_${pod.metadata.uid}_${restartCount}`;
    const config = {
      Image: c.image,
      ...(cfg.command !== undefined && { Entrypoint: cfg.command }),
      ...(cfg.args !== undefined && { Cmd: cfg.args }),
      Env: cfg.env,
      ...(c.workingDir && { WorkingDir: c.workingDir }),
      Labels: this.labels(pod, {
        [LABELS.containerName]: c.name,
        [LABELS.type]: 'container',
        [LABELS.hash]: hash,
        [LABELS.restartCount]: String(restartCount),
        [LABELS.sandboxId]: sandboxId,
      }),
      HostConfig: {
        NetworkMode: `container:${sandboxId}`,
        IpcMode: `container:${sandboxId}`,
        Binds: cfg.binds,
        RestartPolicy: { Name: 'no' },
        ...dockerResources(c),
        ...dockerSecurity(c),
      },
    };
    const id = await this.createReplacingStale(name, config);
    try {
      await this.docker.startContainer(id);
    } catch (e) {
      if (e instanceof DockerError) throw new StartContainerError(id, e);
      throw e;
    }
    return id;
  }

  /** Creates a container; a container of the same name (left by an earlier failed attempt) is removed first. */
  private async createReplacingStale(name: string, config: Record<string, unknown>): Promise<string> {
    try {
      return await this.docker.createContainer(name, config);
    } catch (e) {
      if (!isConflict(e)) throw e;
      this.log.warn({ container: name }, 'removing a stale container of the same name');
      await this.docker.removeContainer(name);
      return this.docker.createContainer(name, config);
    }
  }

  /** Stop signal, then SIGKILL after graceSec; a container that is already gone is fine. */
  async stopContainer(id: string, graceSec: number): Promise<void> {
    try {
      await this.docker.stopContainer(id, graceSec);
    } catch (e) {
      if (e instanceof DockerError && e.status === 404) return;
      throw e;
    }
  }

  async removeContainer(id: string): Promise<void> {
    await this.docker.removeContainer(id);
    this.finished.delete(id);
  }

  exec(id: string, argv: readonly string[], timeoutMs: number): ReturnType<DockerClient['exec']> {
    return this.docker.exec(id, argv, timeoutMs);
  }
}
