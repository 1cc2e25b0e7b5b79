// The kubelet: desired pods (etcd + static manifests) against what Docker holds, one worker per pod.
// This file wires the parts; each job has its module:
//
//   sources (sources.ts: pod and service caches, static pod files) ─► DesiredPods (desired.ts) ─►
//       podWorkers.sync(pod) / terminate(uid)                        MirrorPods (mirror-pods.ts)
//   PLEG (pleg.ts: Docker relist every --pleg-relist-period) ─► pods whose containers changed ─► sync
//   probes ─► a result changed ─► sync            housekeeping (pleg.ts, every --sync-frequency)
//   pod workers (pod-workers.ts) ─► PodSync (sync-pod.ts): syncPod, syncTerminatingPod, syncTerminatedPod
//   node status (node-status.ts): heartbeats with the runtime's and the subnet file's readiness
//   --network-plugin=cni (cni-network.ts): sandboxes get their interface from the CNI plugins, and the
//       node's network readiness is the conf dir's instead of the subnet file's
//
// Nothing is started or killed before every source (pods, static pods, services) has listed once.
import type { Pod, Service } from '../cluster/index.js';
import { CorrelatingEventRecorder, type EventSink, involvedOf, keys, parseJsonObject, parseServiceObject, storeEventSink } from '../cluster/index.js';
import { type Logger, SyncRunner, errorMessage, sleep } from '../common/index.js';
import type { BackoffPolicy } from './backoff.js';
import { DesiredPods } from './desired.js';
import type { DockerClient } from './docker.js';
import { MirrorPods } from './mirror-pods.js';
import { MACHINE_FACTS_MS, type NodeFacts, NodeStatusManager, type Readiness, SlowRefresh, machineInfo, readCapacity } from './node-status.js';
import { EVENTED_RELIST_MS, Pleg, housekeep } from './pleg.js';
import { PodWorkers } from './pod-workers.js';
import { ProbeManager } from './prober.js';
import { PodRuntime } from './runtime.js';
import { CniNetwork } from './cni-network.js';
import { type ClusterStore, type StoreCache, StaticPodSource, storeCache } from './sources.js';
import { networkReadiness } from './subnet-file.js';
import { PodSync } from './sync-pod.js';
import { type IssuedToken, TokenCache, type TokenRequestArgs } from './projected.js';

export interface KubeletConfig {
  readonly nodeName: string;
  /** The node's address (pod hostIP, node InternalIP). */
  readonly nodeIP: string | undefined;
  readonly rootDir: string;
  readonly podManifestPath: string | undefined;
  readonly subnetFile: string;
  readonly pauseImage: string;
  readonly pauseBusybox: string;
  readonly syncFrequencyMs: number;
  readonly plegPeriodMs: number;
  readonly fileCheckMs: number;
  readonly nodeStatusUpdateMs: number;
  readonly nodeMonitorPeriodMs: number;
  readonly nodeMonitorGraceMs: number;
  /**
   * Whether this kubelet marks stale peers NotReady (node-status.ts): on etcd, where there is no controller
   * manager; not on the API, where a node's credentials may read and write only its own Node.
   */
  readonly monitorPeers?: boolean;
  readonly backoff: BackoffPolicy;
  readonly maxPods: number;
  /** --cluster-dns, --cluster-domain, --resolv-conf (pods' resolv.conf). */
  readonly dns?: { readonly clusterDns: readonly string[]; readonly clusterDomain: string; readonly resolvConf: string };
  /** The port of the kubelet's HTTPS server, reported in the Node's status.daemonEndpoints (absent: not served). */
  readonly kubeletPort?: number;
  /** --network-plugin=cni with its dirs; absent: Docker's bridge (the subnet file says when the network is up). */
  readonly cni?: { readonly confDir: string; readonly binDirs: readonly string[]; readonly cacheDir: string };
}

export interface KubeletDeps {
  readonly log: Logger;
  readonly store: ClusterStore;
  readonly docker: DockerClient;
  /** TokenRequest through the API (absent on etcd: pods with a token projection report why they cannot start). */
  readonly requestToken?: (req: TokenRequestArgs) => Promise<IssuedToken>;
  /** Where the pods' events go (default: the store; on the API, apiEventSink: a node may create and patch events, not read them). */
  readonly events?: EventSink;
}

export class Kubelet {
  readonly log: Logger;
  readonly runtime: PodRuntime;
  readonly podWorkers: PodWorkers;
  readonly prober: ProbeManager;
  readonly nodeStatus: NodeStatusManager;
  readonly desired: DesiredPods;
  private readonly syncer: PodSync;
  private readonly pleg: Pleg;
  private readonly podCache: StoreCache<unknown>;
  private readonly serviceCache: StoreCache<Service>;
  private readonly staticPods: StaticPodSource;
  private readonly mirrorRunner: SyncRunner;
  private readonly housekeeping: SyncRunner;
  private dockerVersion: string | undefined;
  /** --network-plugin=cni */
  readonly cni: CniNetwork | undefined;
  private subnetProblem: string | undefined;
  /** Capacity and machine info hardly ever change: read at the first heartbeat, then every MACHINE_FACTS_MS. */
  private readonly machineFacts = new SlowRefresh(MACHINE_FACTS_MS, async (dockerVersion: string) => ({
    capacity: await readCapacity(this.config.maxPods),
    nodeInfo: await machineInfo(dockerVersion || undefined),
  }));

  constructor(
    readonly config: KubeletConfig,
    deps: KubeletDeps,
  ) {
    const root = deps.log.child({ node: config.nodeName });
    const log = root.child({ component: 'kubelet' });
    this.log = log;
    const store = deps.store;
    this.cni = config.cni ? new CniNetwork({ ...config.cni, log: root }) : undefined;
    const cni = this.cni;
    this.runtime = new PodRuntime({ docker: deps.docker, log: root, pauseImage: config.pauseImage, pauseBusybox: config.pauseBusybox, ...(config.nodeIP && { hostIP: config.nodeIP }), ...(cni && { network: cni }) });
    // The sync functions are bound late: the syncer needs the desired pods, which need the workers.
    this.podWorkers = new PodWorkers(
      { syncPod: (p, s) => this.syncer.syncPod(p, s), syncTerminatingPod: (u, p, g) => this.syncer.syncTerminatingPod(u, p, g), syncTerminatedPod: (u, p) => this.syncer.syncTerminatedPod(u, p) },
      { log, retryMs: Math.min(config.syncFrequencyMs, 2000), terminateRetryMs: 1000, terminateMaxRetryMs: 16_000 },
    );
    const events = new CorrelatingEventRecorder(deps.events ?? storeEventSink(store), { component: 'kubelet', host: config.nodeName }, log);
    this.prober = new ProbeManager({
      log: root,
      exec: (id, argv, ms) => this.runtime.exec(id, argv, ms),
      onChange: (uid) => this.desired.requestSync(uid),
      onFailure: (pod, container, kind, message) =>
        void events.event(involvedOf('v1', 'Pod', pod as unknown as Record<string, unknown>, `spec.containers{${container}}`), 'Warning', 'Unhealthy', `${kind === 'liveness' ? 'Liveness' : 'Readiness'} probe failed: ${message}`),
    });
    this.podCache = storeCache(store, keys.pods(), parseJsonObject, log, (changed) => this.desired.onPodsChanged(changed), { fieldSelector: `spec.nodeName=${config.nodeName}` });
    this.serviceCache = storeCache(store, keys.services(), parseServiceObject, log, () => this.desired.onSourceSynced());
    this.staticPods = new StaticPodSource(config.podManifestPath, config.nodeName, config.fileCheckMs, log, () => this.desired.onStaticChanged());
    this.desired = new DesiredPods({
      nodeName: config.nodeName,
      nodeIP: config.nodeIP,
      store,
      log,
      workers: this.podWorkers,
      podCache: this.podCache,
      serviceCache: this.serviceCache,
      staticPods: this.staticPods,
      onInitialized: () => {
        this.mirrorRunner.request();
        this.housekeeping.request();
      },
      onMirrorsChanged: () => this.mirrorRunner.request(),
    });
    this.pleg = new Pleg({ runtime: this.runtime, log, periodMs: config.plegPeriodMs, onPodChanged: (uid) => this.desired.containersChanged(uid) });
    this.syncer = new PodSync({
      rootDir: config.rootDir,
      nodeIP: config.nodeIP,
      syncFrequencyMs: config.syncFrequencyMs,
      backoff: config.backoff,
      log,
      store,
      runtime: this.runtime,
      prober: this.prober,
      desired: this.desired,
      pleg: this.pleg,
      podCache: this.podCache,
      serviceCache: this.serviceCache,
      ...(deps.requestToken && { tokens: new TokenCache(deps.requestToken) }),
      ...(config.dns && { dns: config.dns }),
      ...(cni && { networkNotReady: () => cni.notReadyMessage() }),
      events,
    });
    const mirrors = new MirrorPods({
      nodeName: config.nodeName,
      store,
      log,
      podCache: this.podCache,
      staticPods: this.staticPods,
      onWritten: (uid) => {
        this.syncer.forgetWritten(uid);
        this.desired.requestSync(uid);
      },
    });
    this.mirrorRunner = new SyncRunner({ name: 'mirror-pods', fn: () => mirrors.sync(), minMs: 50, maxMs: 30_000, retryMs: 1000, log });
    this.housekeeping = new SyncRunner({
      name: 'housekeeping',
      fn: () => housekeep(this.desired, this.runtime, this.podWorkers, this.syncer.crashLoop),
      minMs: 500,
      maxMs: config.syncFrequencyMs,
      retryMs: 2000,
      log,
    });
    this.nodeStatus = new NodeStatusManager({
      name: config.nodeName,
      store,
      log: root,
      updateMs: config.nodeStatusUpdateMs,
      monitorPeriodMs: config.nodeMonitorPeriodMs,
      monitorGraceMs: config.nodeMonitorGraceMs,
      monitorPeers: config.monitorPeers ?? true,
      facts: () => this.nodeFacts(),
      readiness: () => this.readiness(),
    });
  }

  /** Every source has listed once. */
  get initialized(): boolean {
    return this.desired.initialized;
  }

  /** When the last Docker relist finished (healthz). */
  get lastRelist(): number {
    return this.pleg.lastRelist;
  }

  /** Runs until the signal aborts; resolves after the workers, probes and loops have stopped. Pods keep running. */
  async run(signal: AbortSignal): Promise<void> {
    // The node registers (NotReady) even while the container runtime is not up yet.
    const nodeStatus = this.nodeStatus.run(signal);
    await this.waitForRuntime(signal);
    if (signal.aborted) {
      await nodeStatus;
      return;
    }
    if (this.cni) {
      // Before any pod syncs: a running sandbox's address comes back from the cache, never from another ADD.
      await this.cni.loadCache();
      await this.cni.refresh().catch((e: unknown) => this.log.warn({ err: errorMessage(e) }, 'cannot read the CNI config'));
    }
    this.podWorkers.start(signal);
    this.prober.start(signal);
    this.runtime.ensurePauseImage().catch((e: unknown) => this.log.error({ image: this.config.pauseImage, err: errorMessage(e) }, 'cannot make the pause image'));
    this.log.info({ rootDir: this.config.rootDir, manifests: this.config.podManifestPath, docker: this.dockerVersion }, 'kubelet starting');
    const loops = [
      this.serviceCache.run(signal),
      this.podCache.run(signal),
      this.staticPods.run(signal),
      nodeStatus,
      this.pleg.run(signal),
      this.mirrorRunner.run(signal),
      this.housekeeping.run(signal),
      ...(this.cni ? [this.cni.run(signal)] : []),
    ];
    const results = await Promise.allSettled(loops);
    await this.podWorkers.stop();
    await this.prober.stop();
    for (const r of results) if (r.status === 'rejected') this.log.error({ err: errorMessage(r.reason) }, 'kubelet loop failed');
    this.log.info({}, 'kubelet stopped');
  }

  private async waitForRuntime(signal: AbortSignal): Promise<void> {
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        const v = await this.runtime.version();
        this.dockerVersion = v.version;
        this.pleg.runtimeUp = true;
        return;
      } catch (e) {
        if (attempt % 20 === 0) this.log.warn({ err: errorMessage(e) }, 'waiting for the container runtime');
        await sleep(500, signal);
      }
    }
  }

  // ---------------------------------------------------------------- node status

  private async nodeFacts(): Promise<NodeFacts> {
    const machine = await this.machineFacts.get(this.dockerVersion ?? '');
    return {
      name: this.config.nodeName,
      ip: this.config.nodeIP,
      podCIDR: await this.network().then((n) => (n.ready ? n.podCIDR : undefined)),
      capacity: machine.capacity,
      nodeInfo: machine.nodeInfo,
      ...(this.config.kubeletPort !== undefined && { kubeletPort: this.config.kubeletPort }),
    };
  }

  private async readiness(): Promise<Readiness> {
    if (!this.pleg.runtimeUp || !(await this.runtime.ping())) return { ready: false, reason: 'KubeletNotReady', message: 'container runtime is down' };
    if (this.cni) {
      const m = this.cni.notReadyMessage();
      if (m !== undefined) return { ready: false, reason: 'KubeletNotReady', message: m };
      return { ready: true, reason: 'KubeletReady', message: 'kubelet is posting ready status' };
    }
    const n = await this.network();
    if (!n.ready) return { ready: false, reason: 'KubeletNotReady', message: n.message };
    return { ready: true, reason: 'KubeletReady', message: 'kubelet is posting ready status' };
  }

  /** The subnet file's state; a malformed file is logged once per distinct problem. */
  private async network(): ReturnType<typeof networkReadiness> {
    const n = await networkReadiness(this.config.subnetFile);
    const problem = n.ready ? undefined : n.error?.message;
    if (problem !== this.subnetProblem && !n.ready && n.error) this.log.warn({ path: n.error.path, line: n.error.line, reason: n.error.reason }, 'subnet file is malformed');
    this.subnetProblem = problem;
    return n;
  }

  /** /healthz: the Docker relist keeps running (Kubernetes' PLEG health). */
  health(): { ok: boolean; message: string } {
    // Three missed relists; while Docker's events are followed the relists are EVENTED_RELIST_MS apart.
    const staleMs = Math.max(10_000, 3 * this.config.plegPeriodMs) + EVENTED_RELIST_MS;
    const age = Date.now() - this.lastRelist;
    const ok = this.lastRelist > 0 && age < staleMs;
    return { ok, message: ok ? 'ok' : `pleg was last seen active ${this.lastRelist ? `${age} ms ago` : 'never'}` };
  }

  /** What Docker holds for one pod (the server's logs, exec and port-forward). */
  getRuntimePod(uid: string): ReturnType<PodRuntime['getPod']> {
    return this.runtime.getPod(uid);
  }

  /** The pod's running containers, newest first (the server's exec, attach and run). */
  runningContainers(uid: string): ReturnType<PodRuntime['runningContainers']> {
    return this.runtime.runningContainers(uid);
  }

  /** For /pods on the healthz port: the pods this kubelet runs. */
  pods(): Pod[] {
    return [...this.desired.values()].map((d) => d.pod);
  }
}
