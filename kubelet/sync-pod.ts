// syncPod and the two termination steps (the PodSyncer the pod workers drive).
//
//   syncPod: runtime state → computePodActions (pure) → kill / sandbox / start (back-off, image, env,
//            volumes) → runtime state again → computePodStatus (pure) → CAS write of status if changed
//            (no new sandbox off the host network while the CNI network is not ready; a failed sandbox
//            is retried with the crash-loop back-off)
//   syncTerminatingPod: stop every container, then the sandbox, its CNI DEL first (throws to be retried)
//   syncTerminatedPod: remove the containers and the pod directory, forget the pod; delete its key
//            when it was deleted gracefully (metadata.deletionTimestamp)
// A restarted kubelet syncs the pods it finds like any other: a container whose spec hash matches is
// kept (adopted), so restart counts and container IDs stay.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type EventRecorder, type EventType, involvedOf, type Pod, type PodStatus, type Service } from '../cluster/index.js';
import { parseResolvConf, renderResolvConf } from '../dns/index.js';
import { keys, type Parser, parseConfigMapObject, parseJsonObject, parseSecretObject } from '../cluster/index.js';
import { type Logger, errorMessage, isObject } from '../common/index.js';
import { computePodActions } from './actions.js';
import { type BackoffPolicy, CrashLoopBackoff, backoffKey } from './backoff.js';
import { type Desired, type DesiredPods, mirrorHashOf } from './desired.js';
import { inCurrentSandbox, initContainersOf } from './init-containers.js';
import { ContainerConfigError, resolveContainerEnv, secretData } from './env.js';
import type { Pleg } from './pleg.js';
import type { PodSyncer, SyncResult } from './pod-workers.js';
import type { ProbeManager } from './prober.js';
import { type PodRuntime, type RuntimePod, StartContainerError, latestContainer } from './runtime.js';
import { type ClusterStore, type StoreCache, servicesIn } from './sources.js';
import { containerHash, graceOf, namespaceOf, podFullName } from './spec.js';
import { isHostNetwork } from './host-config.js';
import { type Waiting, computePodStatus, rfc3339 } from './status.js';
import type { ProjectionSources, TokenCache } from './projected.js';
import { type ClusterDnsSettings, kubeletManagesDns, podDnsConfig } from './dns-config.js';
import { VolumeError, bindsFor, hasFileVolumes, podDir, setUpVolumes, tearDownPodDir } from './volumes.js';

export interface PodSyncOptions {
  readonly rootDir: string;
  readonly nodeIP: string | undefined;
  readonly syncFrequencyMs: number;
  readonly backoff: BackoffPolicy;
  readonly log: Logger;
  readonly store: ClusterStore;
  readonly runtime: PodRuntime;
  readonly prober: ProbeManager;
  readonly desired: DesiredPods;
  readonly pleg: Pleg;
  readonly podCache: StoreCache<unknown>;
  readonly serviceCache: StoreCache<Service>;
  /** Service-account tokens from the TokenRequest API (absent on etcd: a token projection cannot be filled). */
  readonly tokens?: TokenCache;
  /** --cluster-dns, --cluster-domain and --resolv-conf (the node's file, read at every pod start). */
  readonly dns?: { readonly clusterDns: readonly string[]; readonly clusterDomain: string; readonly resolvConf: string };
  /** The pods' events (Pulled, Created, Started, Killing, BackOff, Failed), as `kubectl describe pod` shows them. */
  readonly events?: EventRecorder;
  /**
   * --network-plugin=cni: why the pod network is not ready (no CNI config yet), undefined once it is; a
   * pod off the host network gets no sandbox meanwhile.
   */
  readonly networkNotReady?: () => string | undefined;
}

/** The back-off key of a pod's sandbox (no container is named so: container names are lower case). */
const SANDBOX_KEY = 'POD';

/** The Killing event's message for a kill reason of computePodActions, in the kubelet's words. */
function killingMessage(container: string, reason: string): string {
  if (reason === 'container failed its liveness probe') return `Container ${container} failed liveness probe, will be restarted`;
  if (reason === 'container spec changed') return `Container ${container} definition changed, will be restarted`;
  return `Stopping container ${container}`;
}

// The pod of a termination may be a stand-in from Docker's labels, without a spec.
const isInit = (pod: Pod, name: string): boolean => ((pod.spec as Pod['spec'] | undefined)?.initContainers ?? []).some((c) => c.name === name);
const emptyRuntime = (pod: Pod): RuntimePod => ({ uid: pod.metadata.uid!, name: pod.metadata.name, namespace: namespaceOf(pod), graceSec: graceOf(pod), sandboxes: [], containers: [] });

export class PodSync implements PodSyncer {
  private readonly log: Logger;
  private readonly runtime: PodRuntime;
  private readonly prober: ProbeManager;
  readonly crashLoop: CrashLoopBackoff;
  /** The last status written per pod UID (not written again while unchanged). */
  private readonly written = new Map<string, string>();
  /** When the pod's last sandbox creation failed (its back-off counts from there). */
  private readonly sandboxFailedAt = new Map<string, number>();

  constructor(private readonly o: PodSyncOptions) {
    this.log = o.log;
    this.runtime = o.runtime;
    this.prober = o.prober;
    this.crashLoop = new CrashLoopBackoff(o.backoff);
  }

  /** The status of this pod must be written again (its mirror pod was just replaced). */
  forgetWritten(uid: string): void {
    this.written.delete(uid);
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
      let rt = (await this.runtime.getPod(uid)) ?? emptyRuntime(pod);
      const actions = computePodActions(pod, rt, (id) => this.prober.livenessFailed(id));
      let changed = false;
      const killedAt = new Map<string, number>();

      // Kills first: containers that must go, or the whole pod (dead sandbox, or nothing left to run).
      const kills = actions.killPod ? rt.containers.filter((c) => c.running).map((c) => ({ id: c.id, name: c.name, reason: 'pod sandbox changed or pod finished' })) : actions.kill;
      if (kills.length) {
        await Promise.all(kills.map(async (k) => {
          log.info({ container: k.name, containerId: k.id.slice(0, 12), reason: k.reason }, 'killing container');
          this.event(pod, k.name, 'Normal', 'Killing', killingMessage(k.name, k.reason), isInit(pod, k.name));
          await this.runtime.stopContainer(k.id, graceOf(pod));
          killedAt.set(k.name, Date.now());
        }));
        changed = true;
      }
      if (actions.killPod) {
        // Every sandbox, running or dead: a dead one's CNI attachment still holds its address.
        for (const s of rt.sandboxes) await this.runtime.stopSandbox(s);
        changed = true;
      }
      // A new sandbox runs every init container again: the old instances go first (kuberuntime's purge).
      for (const id of actions.createSandbox ? (actions.purgeInit ?? []) : []) {
        await this.runtime.removeContainer(id).catch((e: unknown) => log.debug({ containerId: id, err: errorMessage(e) }, 'cannot remove an old init container'));
      }
      if (signal.aborted) return {};

      let sandboxId = actions.sandboxId;
      let podIP = actions.createSandbox ? undefined : rt.sandboxes[0]?.ip;
      const initial = initContainersOf(pod).length > 0 ? 'PodInitializing' : 'ContainerCreating';
      const waitAll = (message: string): void => {
        for (const c of [...initContainersOf(pod), ...pod.spec.containers]) waiting.set(c.name, { reason: initial, message });
      };
      const networkProblem = actions.createSandbox && !isHostNetwork(pod) ? this.o.networkNotReady?.() : undefined;
      const sandboxFailed = this.sandboxFailedAt.get(uid);
      const sandboxWait = actions.createSandbox && networkProblem === undefined && sandboxFailed !== undefined ? this.crashLoop.check(backoffKey(uid, SANDBOX_KEY), sandboxFailed) : 0;
      if (networkProblem !== undefined) {
        // The kubelet's NetworkNotReady: no sandbox until the CNI config is there (host-network pods run).
        this.event(pod, undefined, 'Warning', 'NetworkNotReady', `network is not ready: ${networkProblem}`);
        waitAll(`network is not ready: ${networkProblem}`);
        later(Math.min(2000, this.o.syncFrequencyMs));
      } else if (sandboxWait > 0) {
        waitAll('back-off creating the pod sandbox after a failure');
        later(sandboxWait);
      } else if (actions.createSandbox) {
        try {
          const sb = await this.runtime.createSandbox(pod, actions.attempt);
          sandboxId = sb.id;
          podIP = sb.ip;
          changed = true;
          this.sandboxFailedAt.delete(uid);
          log.info({ sandbox: sb.id.slice(0, 12), podIP: sb.ip, attempt: actions.attempt }, 'pod sandbox started');
        } catch (e) {
          log.warn({ err: errorMessage(e) }, 'cannot create the pod sandbox');
          this.event(pod, undefined, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${errorMessage(e)}`);
          waitAll(`failed to create pod sandbox: ${errorMessage(e)}`);
          this.sandboxFailedAt.set(uid, Date.now());
          // The next try waits as a crashing container's restart does: base, then doubling up to max.
          const left = this.crashLoop.check(backoffKey(uid, SANDBOX_KEY), Date.now());
          later(left > 0 ? left : this.o.backoff.baseMs);
        }
      }

      // File volumes (tokens, config maps) are rewritten on every sync, not only when a container starts.
      const fileVolumes = hasFileVolumes(pod);
      const toStart = [
        ...(actions.startInit !== undefined ? [{ c: initContainersOf(pod).find((x) => x.name === actions.startInit)!, init: true }] : []),
        ...actions.start.map((name) => ({ c: pod.spec.containers.find((x) => x.name === name)!, init: false })),
      ];
      if (sandboxId && (toStart.length || fileVolumes) && !signal.aborted) {
        let volumes = new Map<string, string>();
        let volumeError: unknown;
        let dnsBinds: string[] = [];
        try {
          volumes = await setUpVolumes(this.o.rootDir, pod, this.projectionSources());
          dnsBinds = await this.writeResolvConf(pod, log);
        } catch (e) {
          volumeError = e;
          if (!toStart.length) log.warn({ err: errorMessage(e) }, 'cannot update the pod volumes');
        }
        if (fileVolumes) {
          const due = this.o.tokens?.nextRefreshIn(uid);
          later(Math.min(this.o.syncFrequencyMs, due ?? this.o.syncFrequencyMs));
        }
        for (const { c, init } of toStart) {
          if (signal.aborted) break;
          const name = c.name;
          const event = (type: EventType, reason: string, message: string): void => this.event(pod, name, type, reason, message, init);
          // An init container's instances in older sandboxes do not count (they were purged, or are on their way out).
          const last = init ? inCurrentSandbox(rt, name)[0] : latestContainer(rt, name);
          // Back-off counts from when the last instance finished (or was killed just now).
          const finished = killedAt.get(name) ?? (last && !last.running && last.finishedAt ? Date.parse(last.finishedAt) : undefined);
          if (finished !== undefined) {
            const left = this.crashLoop.check(backoffKey(uid, name), finished);
            if (left > 0) {
              const delay = this.crashLoop.current(backoffKey(uid, name)) ?? left;
              waiting.set(name, { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${name} pod=${pod.metadata.name}_${namespaceOf(pod)}(${uid})` });
              event('Warning', 'BackOff', `Back-off restarting failed container ${name} in pod ${pod.metadata.name}_${namespaceOf(pod)}(${uid})`);
              later(left);
              continue;
            }
          }
          if (volumeError !== undefined) {
            waiting.set(name, { reason: 'CreateContainerConfigError', message: errorMessage(volumeError) });
            event('Warning', 'Failed', `Error: ${errorMessage(volumeError)}`);
            later(this.o.backoff.baseMs);
            continue;
          }
          const missing = await this.imageMissing(c.image, c.imagePullPolicy);
          if (missing) {
            waiting.set(name, missing);
            event('Warning', missing.reason, missing.message ?? missing.reason);
            event('Warning', 'Failed', `Error: ${missing.reason}`);
            later(Math.min(this.o.syncFrequencyMs, this.o.backoff.baseMs));
            continue;
          }
          event('Normal', 'Pulled', `Container image "${c.image}" already present on machine`);
          try {
            const resolved = await resolveContainerEnv(pod, c, {
              secret: (ns, n) => this.readData(keys.secret(ns, n), parseSecretObject, (s) => secretData(s)),
              configMap: (ns, n) => this.readData(keys.configMap(ns, n), parseConfigMapObject, (m) => ({ ...(m.data ?? {}) })),
              services: (ns) => servicesIn(this.o.serviceCache, ns),
              podIP,
              hostIP: this.o.nodeIP,
            });
            const binds = [...bindsFor(c, volumes), ...dnsBinds];
            const restartCount = last ? last.restartCount + 1 : 0;
            const id = await this.runtime.startContainer(pod, c, sandboxId, restartCount, containerHash(c), { ...resolved, binds });
            log.info({ container: name, containerId: id.slice(0, 12), restartCount, ...(init && { init }) }, init ? 'init container started' : 'container started');
            event('Normal', 'Created', `Created container ${name}`);
            event('Normal', 'Started', `Started container ${name}`);
          } catch (e) {
            if (e instanceof ContainerConfigError || e instanceof VolumeError) {
              waiting.set(name, { reason: 'CreateContainerConfigError', message: e.message });
              event('Warning', 'Failed', `Error: ${e.message}`);
              log.warn({ container: name, err: e.message }, 'cannot configure container');
            } else if (e instanceof StartContainerError) {
              waiting.set(name, { reason: 'RunContainerError', message: e.detail });
              event('Warning', 'Failed', `Error: ${e.detail}`);
              log.warn({ container: name, err: e.detail }, 'container did not start');
            } else {
              throw e;
            }
            later(this.o.backoff.baseMs);
          }
          changed = true;
        }
      }

      if (changed) rt = (await this.runtime.getPod(uid)) ?? emptyRuntime(pod);
      await this.garbageCollect(rt);
      const stored = this.o.desired.get(uid);
      this.prober.syncPod(pod, rt, (name, id) => this.wasReady(stored, name, id));
      if (!signal.aborted) await this.writeStatus(pod, rt, waiting);
      return requeue === undefined ? {} : { requeueAfterMs: requeue };
    } catch (e) {
      log.warn({ err: errorMessage(e) }, 'pod sync failed');
      throw e;
    }
  }

  /** An event on the pod (or one of its containers), posted beside the sync, never awaited by it. */
  private event(pod: Pod, container: string | undefined, type: EventType, reason: string, message: string, init = false): void {
    const rec = this.o.events;
    if (!rec) return;
    const fieldPath = container === undefined ? undefined : `spec.${init ? 'initContainers' : 'containers'}{${container}}`;
    void rec.event(involvedOf('v1', 'Pod', pod as unknown as Record<string, unknown>, fieldPath), type, reason, message);
  }

  /** The data of the pod's file volumes: config maps and secrets from the store, tokens through the token cache. */
  private projectionSources(): ProjectionSources {
    const tokens = this.o.tokens;
    return {
      secret: (ns, n) => this.readData(keys.secret(ns, n), parseSecretObject, (s) => secretData(s)),
      configMap: (ns, n) => this.readData(keys.configMap(ns, n), parseConfigMapObject, (m) => ({ ...(m.data ?? {}) })),
      ...(tokens && { token: (r) => tokens.get(r) }),
    };
  }

  /**
   * The pod's resolv.conf (dns-config.ts) written to its directory, as the bind mount over /etc/resolv.conf
   * for each of its containers; none where Docker's own copy of the node's file is the answer.
   */
  private async writeResolvConf(pod: Pod, log: Logger): Promise<string[]> {
    const d = this.o.dns;
    if (!d) return [];
    const host = d.resolvConf ? parseResolvConf(await readFile(d.resolvConf, 'utf8').catch(() => '')) : { nameservers: [], searches: [], options: [] };
    const settings: ClusterDnsSettings = { clusterDns: d.clusterDns, clusterDomain: d.clusterDomain, host };
    if (!kubeletManagesDns(pod, settings)) return [];
    const { conf, warnings } = podDnsConfig(pod, settings);
    for (const w of warnings) log.warn({ reason: 'DNSConfigForming' }, w);
    const dir = podDir(this.o.rootDir, pod.metadata.uid ?? '');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, 'etc-resolv.conf');
    await writeFile(file, renderResolvConf(conf));
    return [`${file}:/etc/resolv.conf`];
  }

  /** ErrImageNeverPull / ErrImagePull when the image is not present: this kubelet never pulls (no registry). */
  private async imageMissing(image: string, policy: string | undefined): Promise<Waiting | undefined> {
    if (await this.runtime.imageId(image)) return undefined;
    if (policy === 'Never') return { reason: 'ErrImageNeverPull', message: `Container image "${image}" is not present with pull policy of Never` };
    return { reason: 'ErrImagePull', message: `Container image "${image}" is not present on the node, and this kubelet does not pull images` };
  }

  private async readData<T>(key: string, parse: Parser<T>, pick: (o: T) => Record<string, string>): Promise<Record<string, string> | undefined> {
    const s = await this.o.store.get(key, parse);
    if (s && !('obj' in s)) this.log.warn({ key, path: s.path, reason: s.reason }, 'skipping a corrupt object');
    return s && 'obj' in s ? pick(s.obj) : undefined;
  }

  /** The stored status showed this very container ready: seed readiness with it (adoption). */
  private wasReady(d: Desired | undefined, name: string, containerId: string): boolean {
    const stored = d ? this.o.podCache.items.get(d.key)?.obj : undefined;
    const st = isObject(stored) && isObject(stored.status) ? (stored.status as PodStatus) : undefined;
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
    for (const s of rt.sandboxes.slice(1)) {
      if (s.running) continue;
      // A sandbox that died without being stopped by this kubelet may still hold a CNI attachment.
      const torn = await this.runtime.stopSandbox(s).then(() => true, (e: unknown) => (this.log.warn({ sandbox: s.id.slice(0, 12), err: errorMessage(e) }, 'gc: cannot tear down the sandbox network'), false));
      if (torn) drop.push(s.id);
    }
    for (const id of drop) await this.runtime.removeContainer(id).catch((e: unknown) => this.log.debug({ containerId: id, err: errorMessage(e) }, 'gc: remove failed'));
  }

  private async writeStatus(pod: Pod, rt: RuntimePod, waiting: ReadonlyMap<string, Waiting>): Promise<void> {
    const uid = pod.metadata.uid!;
    const d = this.o.desired.get(uid);
    if (!d) return;
    const storedObj = this.o.podCache.items.get(d.key)?.obj;
    const prev = isObject(storedObj) && isObject(storedObj.status) ? (storedObj.status as PodStatus) : undefined;
    const status = computePodStatus({
      pod,
      rt,
      hostIP: this.o.nodeIP,
      ready: (id, name) => this.prober.ready(uid, name, id),
      waiting,
      prev,
      now: rfc3339(Date.now()),
    });
    const json = JSON.stringify(status);
    if (this.written.get(uid) === json && JSON.stringify(prev) === json) return;
    const res = await this.o.store.update(d.key, parseJsonObject, (cur) => {
      if (!cur || !isObject(cur.metadata) || cur.metadata.uid !== uid) return undefined;
      if (d.isStatic && mirrorHashOf(cur) === undefined) return undefined;
      if (JSON.stringify(cur.status) === json) return undefined;
      return { ...cur, status };
    });
    this.written.set(uid, json);
    if (res && (prev?.phase !== status.phase || prev?.podIP !== status.podIP)) this.log.info({ pod: podFullName(pod), phase: status.phase, podIP: status.podIP }, 'pod status');
  }

  async syncTerminatingPod(uid: string, pod: Pod | undefined, graceSec: number | undefined): Promise<void> {
    this.prober.removePod(uid);
    const rt = await this.runtime.getPod(uid);
    if (!rt) return;
    const grace = graceSec ?? (pod ? graceOf(pod) : rt.graceSec);
    const running = rt.containers.filter((c) => c.running);
    if (running.length) this.log.info({ uid, pod: `${rt.namespace}/${rt.name}`, grace, containers: running.map((c) => c.name) }, 'stopping pod');
    const involved = pod ?? ({ metadata: { name: rt.name, namespace: rt.namespace, uid } } as unknown as Pod);
    for (const c of running) this.event(involved, c.name, 'Normal', 'Killing', `Stopping container ${c.name}`, isInit(involved, c.name));
    await Promise.all(running.map((c) => this.runtime.stopContainer(c.id, grace)));
    await Promise.all(rt.sandboxes.map((s) => this.runtime.stopSandbox(s)));
  }

  async syncTerminatedPod(uid: string, pod: Pod | undefined): Promise<void> {
    const rt = await this.runtime.getPod(uid);
    // Torn down while terminating; again here for a sandbox that died since (DEL of what is gone is fine).
    for (const s of rt?.sandboxes ?? []) await this.runtime.stopSandbox(s);
    for (const c of [...(rt?.containers ?? []), ...(rt?.sandboxes ?? [])]) await this.runtime.removeContainer(c.id);
    const err = await tearDownPodDir(this.o.rootDir, uid);
    if (err) this.log.warn({ uid, err }, 'cannot remove the pod directory');
    this.prober.removePod(uid);
    this.crashLoop.forgetPod(uid);
    this.sandboxFailedAt.delete(uid);
    this.o.tokens?.forgetPod(uid);
    this.written.delete(uid);
    this.o.pleg.forget(uid);
    const deleteKey = this.o.desired.removed(uid);
    this.log.info({ uid, pod: pod ? podFullName(pod) : rt ? `${rt.namespace}/${rt.name}` : undefined }, 'pod removed from the node');
    if (deleteKey && pod) {
      // Graceful deletion through metadata.deletionTimestamp: the pod is gone from the node, so its key goes.
      // Only this uid's: a pod recreated under the same name stays (on the API, a delete with no grace period).
      await this.o.store.delete(keys.pod(namespaceOf(pod), pod.metadata.name), { uid });
    }
  }
}
