// The kubelet: desired pods (etcd + static manifests) against what Docker holds, one worker per pod.
//
//   sources ─► reconcileDesired ─► podWorkers.sync(pod) / terminate(uid)
//   PLEG (docker relist every --pleg-relist-period) ─► pods whose containers changed ─► sync
//   probes ─► a result changed ─► sync            housekeeping (every --sync-frequency) ─► sync all, orphans
//   syncPod: runtime state → computePodActions (pure) → kill / sandbox / start (back-off, image, env,
//            volumes) → runtime state again → computePodStatus (pure) → CAS write of status if changed
//
// Nothing is started or killed before every source (pods, static pods, services) has listed once.
// A restarted kubelet finds its containers by their labels and syncs them like any other: a
// container whose spec hash matches is kept (adopted), so restart counts and container IDs stay.
import { randomUUID } from 'node:crypto';
import type { Pod, PodStatus, Service } from '../cluster/index.js';
import { keys, type Parser, parseConfigMapObject, parseJsonObject, parseSecretObject, parseServiceObject } from '../cluster/index.js';
import { type Logger, SyncRunner, errorMessage, sleep } from '../common/index.js';
import { computePodActions } from './actions.js';
import { type BackoffPolicy, CrashLoopBackoff, backoffKey } from './backoff.js';
import type { DockerClient } from './docker.js';
import { ContainerConfigError, resolveContainerEnv, secretData } from './env.js';
import { type NodeFacts, NodeStatusManager, type Readiness, machineInfo, readCapacity, readPodCIDR } from './node-status.js';
import { PodWorkers, type PodSyncer, type SyncResult } from './pod-workers.js';
import { ProbeManager } from './prober.js';
import { PodRuntime, type RuntimePod, type RuntimePodSummary, StartContainerError, latestContainer } from './runtime.js';
import { ANNOTATIONS, type ApiPod, type ClusterStore, PrefixCache, StaticPodSource, apiPodFor, servicesIn } from './sources.js';
import { containerHash, graceOf, namespaceOf, podFullName } from './spec.js';
import { type Waiting, computePodStatus, invalidPodStatus, rfc3339 } from './status.js';
import { VolumeError, bindsFor, setUpVolumes, tearDownPodDir } from './volumes.js';

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
  readonly backoff: BackoffPolicy;
  readonly maxPods: number;
}

export interface KubeletDeps {
  readonly log: Logger;
  readonly store: ClusterStore;
  readonly docker: DockerClient;
}

interface Desired {
  readonly pod: Pod;
  /** The etcd key its status goes to (the mirror pod's key for a static pod). */
  readonly key: string;
  readonly isStatic: boolean;
  readonly json: string;
}

/** What decides whether a pod must be synced again: everything but its status. */
const specJson = (p: Pod): string => JSON.stringify({ metadata: { ...p.metadata, resourceVersion: undefined }, spec: p.spec });
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const mirrorHashOf = (o: unknown): string | undefined => {
  if (!isObj(o) || !isObj(o.metadata) || !isObj(o.metadata.annotations)) return undefined;
  const v = o.metadata.annotations[ANNOTATIONS.mirror];
  return typeof v === 'string' ? v : undefined;
};

export class Kubelet implements PodSyncer {
  readonly log: Logger;
  readonly runtime: PodRuntime;
  readonly podWorkers: PodWorkers;
  readonly prober: ProbeManager;
  readonly nodeStatus: NodeStatusManager;
  private readonly store: ClusterStore;
  private readonly docker: DockerClient;
  private readonly backoff: CrashLoopBackoff;
  private readonly podCache: PrefixCache<Record<string, unknown>>;
  private readonly serviceCache: PrefixCache<Service>;
  private readonly staticPods: StaticPodSource;
  private readonly mirrorRunner: SyncRunner;
  private readonly housekeeping: SyncRunner;
  private readonly apiPods = new Map<string, ApiPod>();
  private desired = new Map<string, Desired>();
  private readonly waiting = new Map<string, Map<string, Waiting>>();
  private readonly written = new Map<string, string>();
  private readonly invalidWritten = new Map<string, string>();
  private readonly uidAssigning = new Set<string>();
  private readonly deleteAfter = new Set<string>();
  /** Pods already stopped and removed, until they leave the desired set (no second termination). */
  private readonly finished = new Set<string>();
  private readonly fingerprints = new Map<string, string>();
  private readonly conflicts = new Set<string>();
  private dockerVersion: string | undefined;
  private runtimeUp = false;
  /** Every source has listed once. */
  initialized = false;
  /** When the last Docker relist finished (healthz). */
  lastRelist = 0;

  constructor(
    readonly config: KubeletConfig,
    deps: KubeletDeps,
  ) {
    const root = deps.log.child({ node: config.nodeName });
    this.log = root.child({ component: 'kubelet' });
    this.store = deps.store;
    this.docker = deps.docker;
    this.runtime = new PodRuntime({ docker: deps.docker, log: root, pauseImage: config.pauseImage, pauseBusybox: config.pauseBusybox });
    this.backoff = new CrashLoopBackoff(config.backoff);
    this.podWorkers = new PodWorkers(this, { retryMs: Math.min(config.syncFrequencyMs, 2000), terminateRetryMs: 1000 });
    this.prober = new ProbeManager({
      log: root,
      exec: (id, argv, ms) => this.runtime.exec(id, argv, ms),
      onChange: (uid) => this.requestSync(this.desired.get(uid)),
    });
    this.podCache = new PrefixCache(this.store, keys.pods(), parseJsonObject, this.log, (changed) => this.onPodsChanged(changed));
    this.serviceCache = new PrefixCache(this.store, keys.services(), parseServiceObject, this.log, () => this.onSourceSynced());
    this.staticPods = new StaticPodSource(config.podManifestPath, config.nodeName, config.fileCheckMs, this.log, () => this.onStaticChanged());
    this.mirrorRunner = new SyncRunner({ name: 'mirror-pods', fn: () => this.syncMirrorPods(), minMs: 50, maxMs: 30_000, retryMs: 1000, log: this.log });
    this.housekeeping = new SyncRunner({ name: 'housekeeping', fn: () => this.housekeep(), minMs: 500, maxMs: config.syncFrequencyMs, retryMs: 2000, log: this.log });
    this.nodeStatus = new NodeStatusManager({
      name: config.nodeName,
      store: this.store,
      log: root,
      updateMs: config.nodeStatusUpdateMs,
      monitorPeriodMs: config.nodeMonitorPeriodMs,
      monitorGraceMs: config.nodeMonitorGraceMs,
      facts: () => this.nodeFacts(),
      readiness: () => this.readiness(),
    });
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
    this.podWorkers.start(signal);
    this.prober.start(signal);
    this.runtime.ensurePauseImage().catch((e: unknown) => this.log.error({ image: this.config.pauseImage, err: errorMessage(e) }, 'cannot make the pause image'));
    this.log.info({ rootDir: this.config.rootDir, manifests: this.config.podManifestPath, docker: this.dockerVersion }, 'kubelet starting');
    const loops = [
      this.serviceCache.run(signal),
      this.podCache.run(signal),
      this.staticPods.run(signal),
      nodeStatus,
      this.pleg(signal),
      this.mirrorRunner.run(signal),
      this.housekeeping.run(signal),
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
        const v = await this.docker.negotiate();
        this.dockerVersion = v.version;
        this.runtimeUp = true;
        return;
      } catch (e) {
        if (attempt % 20 === 0) this.log.warn({ err: errorMessage(e) }, 'waiting for the container runtime');
        await sleep(500, signal);
      }
    }
  }

  // ---------------------------------------------------------------- sources → desired pods

  private onSourceSynced(): void {
    if (!this.initialized && this.podCache.synced && this.serviceCache.synced && this.staticPods.synced) {
      this.initialized = true;
      this.log.info({ pods: this.apiPods.size, staticPods: this.staticPods.all().length, services: this.serviceCache.items.size }, 'initial lists complete; syncing pods');
      this.reconcileDesired();
      this.mirrorRunner.request();
      this.housekeeping.request();
    }
  }

  private onPodsChanged(changed: ReadonlySet<string>): void {
    let mirrors = false;
    for (const key of changed) {
      const s = this.podCache.items.get(key);
      if (s && mirrorHashOf(s.obj) !== undefined) mirrors = true;
      const next = s ? apiPodFor(this.config.nodeName, s) : undefined;
      if (next) this.apiPods.set(key, next);
      else {
        this.apiPods.delete(key);
        this.invalidWritten.delete(key);
        mirrors ||= !s; // a deleted key may have been a mirror pod
      }
    }
    if (mirrors) this.mirrorRunner.request();
    if (this.initialized) this.reconcileDesired();
    else this.onSourceSynced();
  }

  private onStaticChanged(): void {
    this.mirrorRunner.request();
    if (this.initialized) this.reconcileDesired();
    else this.onSourceSynced();
  }

  /** The desired pods from every source, diffed against the previous set: syncs and terminations. */
  private reconcileDesired(): void {
    const next = new Map<string, Desired>();
    for (const a of this.apiPods.values()) {
      if (a.kind === 'invalid') {
        this.reportInvalid(a);
        continue;
      }
      const uid = a.pod.metadata.uid;
      if (!uid) {
        this.assignUid(a.key);
        continue;
      }
      if (next.has(uid)) {
        this.log.warn({ key: a.key, uid }, 'two pods share one uid; ignoring the second');
        continue;
      }
      this.invalidWritten.delete(a.key);
      next.set(uid, { pod: a.pod, key: a.key, isStatic: false, json: specJson(a.pod) });
    }
    for (const s of this.staticPods.all()) {
      const uid = s.pod.metadata.uid!;
      if (!next.has(uid)) next.set(uid, { pod: s.pod, key: s.key, isStatic: true, json: specJson(s.pod) });
    }
    for (const [uid, d] of next) {
      const old = this.desired.get(uid);
      if (d.pod.metadata.deletionTimestamp) {
        if (this.finished.has(uid)) continue;
        const g = d.pod.metadata.deletionGracePeriodSeconds;
        this.deleteAfter.add(uid);
        this.podWorkers.terminate(uid, d.pod, typeof g === 'number' ? g : graceOf(d.pod));
        continue;
      }
      if (!old || old.json !== d.json) this.podWorkers.sync(d.pod);
    }
    for (const [uid, old] of this.desired) {
      if (!next.has(uid) && !this.finished.has(uid)) {
        this.log.info({ pod: podFullName(old.pod), uid }, 'pod removed; stopping it');
        this.podWorkers.terminate(uid, old.pod);
      }
    }
    for (const uid of this.finished) if (!next.has(uid) && !this.desired.has(uid)) this.finished.delete(uid);
    this.desired = next;
  }

  /** An API server would have set metadata.uid; without one, the node's kubelet does (CAS). */
  private assignUid(key: string): void {
    if (this.uidAssigning.has(key)) return;
    this.uidAssigning.add(key);
    const now = rfc3339(Date.now());
    this.store
      .update(key, parseJsonObject, (cur) => (cur && isObj(cur.metadata) && !cur.metadata.uid ? { ...cur, metadata: { ...cur.metadata, uid: randomUUID(), creationTimestamp: cur.metadata.creationTimestamp ?? now } } : undefined))
      .catch((e: unknown) => this.log.warn({ key, err: errorMessage(e) }, 'cannot assign a pod uid'))
      .finally(() => this.uidAssigning.delete(key));
  }

  private reportInvalid(a: Extract<ApiPod, { kind: 'invalid' }>): void {
    const message = a.error.message;
    if (this.invalidWritten.get(a.key) === message) return;
    this.invalidWritten.set(a.key, message);
    this.log.warn({ key: a.key, path: a.error.path, reason: a.error.reason }, 'pod is invalid; reporting it in its status');
    const raw = JSON.stringify({ ...a.raw, status: undefined });
    const now = rfc3339(Date.now());
    this.store
      .update(a.key, parseJsonObject, (cur) => {
        if (!cur || JSON.stringify({ ...cur, status: undefined }) !== raw) return undefined;
        const prev = isObj(cur.status) ? (cur.status as PodStatus) : undefined;
        if (prev?.reason === 'InvalidPod' && prev.message === message) return undefined;
        return { ...cur, status: invalidPodStatus(prev, now, message, this.config.nodeIP) };
      })
      .catch((e: unknown) => {
        this.invalidWritten.delete(a.key);
        this.log.warn({ key: a.key, err: errorMessage(e) }, 'cannot write the status of an invalid pod');
      });
  }

  // ---------------------------------------------------------------- mirror pods of static pods

  private async syncMirrorPods(): Promise<void> {
    if (!this.podCache.synced || !this.staticPods.synced) return;
    const want = new Map(this.staticPods.all().map((s) => [s.key, s]));
    for (const [key, s] of want) {
      const hash = s.pod.metadata.annotations?.[ANNOTATIONS.hash] ?? '';
      const cur = this.podCache.items.get(key)?.obj;
      const mirror = { apiVersion: 'v1', kind: 'Pod', metadata: { ...s.pod.metadata, annotations: { ...s.pod.metadata.annotations, [ANNOTATIONS.mirror]: hash }, creationTimestamp: rfc3339(Date.now()) }, spec: s.pod.spec };
      if (cur === undefined) {
        if (await this.store.create(key, mirror)) this.log.info({ key }, 'mirror pod created');
      } else if (mirrorHashOf(cur) === undefined) {
        if (!this.conflicts.has(key)) this.log.warn({ key }, 'a pod that is not a mirror pod holds the static pod name; not replacing it');
        this.conflicts.add(key);
        continue;
      } else if (mirrorHashOf(cur) !== hash) {
        await this.store.update(key, parseJsonObject, (c) => (c && mirrorHashOf(c) !== undefined ? mirror : undefined));
        this.log.info({ key }, 'mirror pod replaced');
      } else {
        continue;
      }
      this.written.delete(s.pod.metadata.uid!);
      this.requestSync(this.desired.get(s.pod.metadata.uid!));
    }
    for (const [key, s] of this.podCache.items) {
      const o = s.obj;
      if (want.has(key) || mirrorHashOf(o) === undefined || !isObj(o) || !isObj(o.spec) || o.spec.nodeName !== this.config.nodeName) continue;
      await this.store.delete(key);
      this.log.info({ key }, 'orphaned mirror pod deleted');
    }
  }

  // ---------------------------------------------------------------- PLEG and housekeeping

  /** Relists Docker; pods whose containers changed are synced, kubelet containers of no desired pod are removed. */
  private async pleg(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        const pods = await this.runtime.listPods();
        this.runtimeUp = true;
        for (const [uid, s] of pods) {
          const fp = s.containers.map((c) => `${c.id}:${c.state}`).sort().join(',');
          if (this.fingerprints.get(uid) === fp) continue;
          this.fingerprints.set(uid, fp);
          this.podChanged(uid);
        }
        for (const uid of [...this.fingerprints.keys()]) if (!pods.has(uid)) this.fingerprints.delete(uid);
        this.lastRelist = Date.now();
        failures = 0;
      } catch (e) {
        this.runtimeUp = false;
        if (failures++ % 20 === 0) this.log.warn({ err: errorMessage(e) }, 'container runtime relist failed');
      }
      await sleep(this.config.plegPeriodMs, signal);
    }
  }

  /** Asks for a sync of a desired pod, unless it is being deleted (its worker terminates it). */
  private requestSync(d: Desired | undefined): void {
    if (d && !d.pod.metadata.deletionTimestamp && !this.finished.has(d.pod.metadata.uid!)) this.podWorkers.sync(d.pod);
  }

  private podChanged(uid: string): void {
    const d = this.desired.get(uid);
    if (d) this.requestSync(d);
    else if (this.initialized && !this.podWorkers.has(uid)) {
      this.log.info({ uid }, 'containers of a pod that is not on this node any more; removing them');
      this.podWorkers.terminate(uid, undefined);
    }
  }

  private async housekeep(): Promise<void> {
    if (!this.initialized) return;
    for (const d of this.desired.values()) this.requestSync(d);
    const pods = await this.runtime.listPods();
    for (const uid of pods.keys()) if (!this.desired.has(uid) && !this.podWorkers.has(uid)) this.podChanged(uid);
    this.backoff.gc();
  }

  // ---------------------------------------------------------------- node status

  private async nodeFacts(): Promise<NodeFacts> {
    return {
      name: this.config.nodeName,
      ip: this.config.nodeIP,
      podCIDR: await readPodCIDR(this.config.subnetFile),
      capacity: await readCapacity(this.config.maxPods),
      nodeInfo: await machineInfo(this.dockerVersion),
    };
  }

  private async readiness(): Promise<Readiness> {
    if (!this.runtimeUp || !(await this.docker.ping())) return { ready: false, reason: 'KubeletNotReady', message: 'container runtime is down' };
    if (!(await readPodCIDR(this.config.subnetFile))) return { ready: false, reason: 'KubeletNotReady', message: `network not ready: no FLANNEL_SUBNET in ${this.config.subnetFile}` };
    return { ready: true, reason: 'KubeletReady', message: 'kubelet is posting ready status' };
  }

  // ---------------------------------------------------------------- the pod syncer

  private async runtimePod(uid: string): Promise<RuntimePod | undefined> {
    const list = await this.docker.listContainers(`io.kubernetes.pod.uid=${uid}`);
    if (list.length === 0) return undefined;
    const first = list[0]!;
    const summary: RuntimePodSummary = {
      uid,
      name: first.labels['io.kubernetes.pod.name'] ?? '',
      namespace: first.labels['io.kubernetes.pod.namespace'] ?? '',
      graceSec: Number(first.labels['io.kubernetes.pod.terminationGracePeriod'] ?? 30) || 0,
      containers: list,
    };
    return this.runtime.podStatus(summary);
  }

  private emptyRuntime(pod: Pod): RuntimePod {
    return { uid: pod.metadata.uid!, name: pod.metadata.name, namespace: namespaceOf(pod), graceSec: graceOf(pod), sandboxes: [], containers: [] };
  }

  async syncPod(pod: Pod, signal: AbortSignal): Promise<SyncResult> {
    const uid = pod.metadata.uid!;
    const log = this.log.child({ pod: podFullName(pod), uid });
    const waiting = new Map<string, Waiting>();
    let requeue: number | undefined;
    const later = (ms: number): void => {
      requeue = requeue === undefined ? ms : Math.min(requeue, ms);
    };
    try {
      let rt = (await this.runtimePod(uid)) ?? this.emptyRuntime(pod);
      const actions = computePodActions(pod, rt, (id) => this.prober.livenessFailed(id));
      let changed = false;
      const killedAt = new Map<string, number>();

      // Kills first: containers that must go, or the whole pod (dead sandbox, or nothing left to run).
      const kills = actions.killPod ? rt.containers.filter((c) => c.running).map((c) => ({ id: c.id, name: c.name, reason: 'pod sandbox changed or pod finished' })) : actions.kill;
      if (kills.length) {
        await Promise.all(kills.map(async (k) => {
          log.info({ container: k.name, containerId: k.id.slice(0, 12), reason: k.reason }, 'killing container');
          await this.runtime.stopContainer(k.id, graceOf(pod));
          killedAt.set(k.name, Date.now());
        }));
        changed = true;
      }
      if (actions.killPod) {
        for (const s of rt.sandboxes.filter((x) => x.running)) await this.runtime.stopContainer(s.id, 2);
        changed = true;
      }
      if (signal.aborted) return {};

      let sandboxId = actions.sandboxId;
      let podIP = actions.createSandbox ? undefined : rt.sandboxes[0]?.ip;
      if (actions.createSandbox) {
        try {
          const sb = await this.runtime.createSandbox(pod, actions.attempt);
          sandboxId = sb.id;
          podIP = sb.ip;
          changed = true;
          log.info({ sandbox: sb.id.slice(0, 12), podIP: sb.ip, attempt: actions.attempt }, 'pod sandbox started');
        } catch (e) {
          log.warn({ err: errorMessage(e) }, 'cannot create the pod sandbox');
          for (const c of pod.spec.containers) waiting.set(c.name, { reason: 'ContainerCreating', message: `failed to create pod sandbox: ${errorMessage(e)}` });
          later(this.config.backoff.baseMs);
        }
      }

      if (sandboxId && actions.start.length && !signal.aborted) {
        let volumes = new Map<string, string>();
        let volumeError: unknown;
        try {
          volumes = await setUpVolumes(this.config.rootDir, pod);
        } catch (e) {
          volumeError = e;
        }
        for (const name of actions.start) {
          if (signal.aborted) break;
          const c = pod.spec.containers.find((x) => x.name === name)!;
          const last = latestContainer(rt, name);
          // Back-off counts from when the last instance finished (or was killed just now).
          const finished = killedAt.get(name) ?? (last && !last.running && last.finishedAt ? Date.parse(last.finishedAt) : undefined);
          if (finished !== undefined) {
            const left = this.backoff.check(backoffKey(uid, name), finished);
            if (left > 0) {
              const delay = this.backoff.current(backoffKey(uid, name)) ?? left;
              waiting.set(name, { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${name} pod=${pod.metadata.name}_${namespaceOf(pod)}(${uid})` });
              later(left);
              continue;
            }
          }
          if (volumeError !== undefined) {
            waiting.set(name, { reason: 'CreateContainerConfigError', message: errorMessage(volumeError) });
            later(this.config.backoff.baseMs);
            continue;
          }
          const missing = await this.imageMissing(c.image, c.imagePullPolicy);
          if (missing) {
            waiting.set(name, missing);
            later(Math.min(this.config.syncFrequencyMs, this.config.backoff.baseMs));
            continue;
          }
          try {
            const resolved = await resolveContainerEnv(pod, c, {
              secret: (ns, n) => this.readData(keys.secret(ns, n), parseSecretObject, (s) => secretData(s)),
              configMap: (ns, n) => this.readData(keys.configMap(ns, n), parseConfigMapObject, (m) => ({ ...(m.data ?? {}) })),
              services: (ns) => servicesIn(this.serviceCache, ns),
              podIP,
              hostIP: this.config.nodeIP,
            });
            const binds = bindsFor(c, volumes);
            const restartCount = last ? last.restartCount + 1 : 0;
            const id = await this.runtime.startContainer(pod, c, sandboxId, restartCount, containerHash(c), { ...resolved, binds });
            log.info({ container: name, containerId: id.slice(0, 12), restartCount }, 'container started');
          } catch (e) {
            if (e instanceof ContainerConfigError || e instanceof VolumeError) {
              waiting.set(name, { reason: 'CreateContainerConfigError', message: e.message });
              log.warn({ container: name, err: e.message }, 'cannot configure container');
            } else if (e instanceof StartContainerError) {
              waiting.set(name, { reason: 'RunContainerError', message: e.detail });
              log.warn({ container: name, err: e.detail }, 'container did not start');
            } else {
              throw e;
            }
            later(this.config.backoff.baseMs);
          }
          changed = true;
        }
      }

      if (changed) rt = (await this.runtimePod(uid)) ?? this.emptyRuntime(pod);
      await this.garbageCollect(rt);
      const stored = this.desired.get(uid);
      this.prober.syncPod(pod, rt, (name, id) => this.wasReady(stored, name, id));
      this.waiting.set(uid, waiting);
      if (!signal.aborted) await this.writeStatus(pod, rt, waiting);
      return requeue === undefined ? {} : { requeueAfterMs: requeue };
    } catch (e) {
      log.warn({ err: errorMessage(e) }, 'pod sync failed');
      throw e;
    }
  }

  /** ErrImageNeverPull / ErrImagePull when the image is not present: this kubelet never pulls (no registry). */
  private async imageMissing(image: string, policy: string | undefined): Promise<Waiting | undefined> {
    if (await this.runtime.imageId(image)) return undefined;
    if (policy === 'Never') return { reason: 'ErrImageNeverPull', message: `Container image "${image}" is not present with pull policy of Never` };
    return { reason: 'ErrImagePull', message: `Container image "${image}" is not present on the node, and this kubelet does not pull images` };
  }

  private async readData<T>(key: string, parse: Parser<T>, pick: (o: T) => Record<string, string>): Promise<Record<string, string> | undefined> {
    const s = await this.store.get(key, parse);
    if (s && !('obj' in s)) this.log.warn({ key, path: s.path, reason: s.reason }, 'skipping a corrupt object');
    return s && 'obj' in s ? pick(s.obj) : undefined;
  }

  /** The stored status showed this very container ready: seed readiness with it (adoption). */
  private wasReady(d: Desired | undefined, name: string, containerId: string): boolean {
    const stored = d ? this.podCache.items.get(d.key)?.obj : undefined;
    const st = isObj(stored) && isObj(stored.status) ? (stored.status as PodStatus) : undefined;
    const cs = st?.containerStatuses?.find((c) => c.name === name);
    return cs?.ready === true && cs.containerID === `docker://${containerId}`;
  }

  /**
   * Keeps the two newest stopped containers per name and the newest sandbox; removes older ones. Two,
   * so that a container that stopped for good still shows the one before it as its lastState, and
   * restart counts and last states come from Docker alone (they survive a kubelet restart).
   */
  private async garbageCollect(rt: RuntimePod): Promise<void> {
    const drop: string[] = [];
    const kept = new Map<string, number>();
    for (const c of rt.containers) {
      if (c.running) continue;
      const n = kept.get(c.name) ?? 0;
      if (n >= 2) drop.push(c.id);
      kept.set(c.name, n + 1);
    }
    for (const s of rt.sandboxes.slice(1)) if (!s.running) drop.push(s.id);
    for (const id of drop) await this.runtime.removeContainer(id).catch((e: unknown) => this.log.debug({ containerId: id, err: errorMessage(e) }, 'gc: remove failed'));
  }

  private async writeStatus(pod: Pod, rt: RuntimePod, waiting: ReadonlyMap<string, Waiting>): Promise<void> {
    const uid = pod.metadata.uid!;
    const d = this.desired.get(uid);
    if (!d) return;
    const storedObj = this.podCache.items.get(d.key)?.obj;
    const prev = isObj(storedObj) && isObj(storedObj.status) ? (storedObj.status as PodStatus) : undefined;
    const status = computePodStatus({
      pod,
      rt,
      hostIP: this.config.nodeIP,
      ready: (id, name) => this.prober.ready(uid, name, id),
      waiting,
      prev,
      now: rfc3339(Date.now()),
    });
    const json = JSON.stringify(status);
    if (this.written.get(uid) === json && JSON.stringify(prev) === json) return;
    const res = await this.store.update(d.key, parseJsonObject, (cur) => {
      if (!cur || !isObj(cur.metadata) || cur.metadata.uid !== uid) return undefined;
      if (d.isStatic && mirrorHashOf(cur) === undefined) return undefined;
      if (JSON.stringify(cur.status) === json) return undefined;
      return { ...cur, status };
    });
    this.written.set(uid, json);
    if (res && (prev?.phase !== status.phase || prev?.podIP !== status.podIP)) this.log.info({ pod: podFullName(pod), phase: status.phase, podIP: status.podIP }, 'pod status');
  }

  async syncTerminatingPod(uid: string, pod: Pod | undefined, graceSec: number | undefined): Promise<void> {
    this.prober.removePod(uid);
    const rt = await this.runtimePod(uid);
    if (!rt) return;
    const grace = graceSec ?? (pod ? graceOf(pod) : rt.graceSec);
    const running = rt.containers.filter((c) => c.running);
    if (running.length) this.log.info({ uid, pod: `${rt.namespace}/${rt.name}`, grace, containers: running.map((c) => c.name) }, 'stopping pod');
    await Promise.all(running.map((c) => this.runtime.stopContainer(c.id, grace)));
    await Promise.all(rt.sandboxes.filter((s) => s.running).map((s) => this.runtime.stopContainer(s.id, 2)));
  }

  async syncTerminatedPod(uid: string, pod: Pod | undefined): Promise<void> {
    const rt = await this.runtimePod(uid);
    for (const c of [...(rt?.containers ?? []), ...(rt?.sandboxes ?? [])]) await this.runtime.removeContainer(c.id);
    const err = await tearDownPodDir(this.config.rootDir, uid);
    if (err) this.log.warn({ uid, err }, 'cannot remove the pod directory');
    this.prober.removePod(uid);
    this.backoff.forgetPod(uid);
    this.waiting.delete(uid);
    this.written.delete(uid);
    this.fingerprints.delete(uid);
    if (this.desired.has(uid)) this.finished.add(uid);
    this.log.info({ uid, pod: pod ? podFullName(pod) : rt ? `${rt.namespace}/${rt.name}` : undefined }, 'pod removed from the node');
    if (this.deleteAfter.delete(uid) && pod) {
      // Graceful deletion through metadata.deletionTimestamp: the pod is gone from the node, so its key goes.
      const key = keys.pod(namespaceOf(pod), pod.metadata.name);
      const cur = await this.store.get(key, parseJsonObject);
      if (cur && 'obj' in cur && isObj(cur.obj.metadata) && cur.obj.metadata.uid === uid) await this.store.delete(key);
    }
  }

  /** For /pods on the healthz port: the pods this kubelet runs. */
  pods(): Pod[] {
    return [...this.desired.values()].map((d) => d.pod);
  }
}

