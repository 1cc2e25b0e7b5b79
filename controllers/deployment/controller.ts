// The deployment controller's loop: Deployments, ReplicaSets and pods from the shared list+watch
// caches; a change queues the Deployments it concerns; a worker syncs one Deployment as Kubernetes'
// syncDeployment does (claim ReplicaSets, paused and scaling events, Recreate or RollingUpdate, revision
// history, status). The arithmetic is in rollout.ts, revision.ts and status.ts; this file reads the
// caches, writes through the API, and keeps, within one sync, the objects its own writes returned.
import { type ApiClient, ApiStatusError, isStatus, type Corrupt, matchesLabels, REGISTRY, type Stored } from '../../cluster/index.js';
import { errorMessage, type Logger, type PrefixCache } from '../../common/index.js';
import { recordEvent } from '../events.js';
import type { WorkQueue } from '../queue.js';
import { podOf } from '../replication/index.js';
import { computeHash, equalIgnoreHash, POD_TEMPLATE_HASH } from './hash.js';
import { activeOf, byCreation, controllerRefOf, type Deployment, deploymentOf, deploymentRef, type DeploymentStatus, type ReplicaSet, replicaSetOf } from './model.js';
import { maxRevision, newReplicaSetAnnotations, REVISION, historyToDelete } from './revision.js';
import { isScalingEvent, newRSNewReplicas, oldPodsRunning, type PodPhase, reconcileNewPlan, reconcileOldPlan, recreateDownPlan, replicasAnnotations, type Scaling, scalePlan } from './rollout.js';
import { calculateStatus, compactStatus, conditionOf, newCondition, pausedStatus, progressCheckAfter, PROGRESSING, REASON, rolloutStatus, sameStatus, setCondition } from './status.js';

type Obj = Record<string, unknown>;
type Cache = PrefixCache<Stored<Obj>, Corrupt>;

export const DEPLOYMENT_PREFIX = `${REGISTRY}/deployments/`;
export const REPLICASET_PREFIX = `${REGISTRY}/replicasets/`;
const COMPONENT = 'deployment-controller';
const enc = encodeURIComponent;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const rsPath = (ns: string, name?: string): string => `/apis/apps/v1/namespaces/${enc(ns)}/replicasets${name ? `/${enc(name)}` : ''}`;
const deployPath = (ns: string, name: string): string => `/apis/apps/v1/namespaces/${enc(ns)}/deployments/${enc(name)}`;

export interface DeploymentControllerDeps {
  readonly client: ApiClient;
  readonly deployments: Cache;
  readonly replicaSets: Cache;
  readonly pods: Cache;
  readonly queue: WorkQueue;
  readonly log: Logger;
  readonly now?: () => number;
  /** Aborts every request in flight (the lease lost). */
  readonly signal?: AbortSignal;
}

export class DeploymentController {
  readonly kind = 'Deployment';
  /** ReplicaSet key → the Deployment key it belonged to when last seen (deletes carry no object). */
  private readonly rsOwner = new Map<string, string>();
  /** Pod key → its ReplicaSet key. */
  private readonly podOwner = new Map<string, string>();
  private readonly now: () => number;
  private readonly sig: { signal?: AbortSignal };

  constructor(private readonly d: DeploymentControllerDeps) {
    this.now = d.now ?? Date.now;
    this.sig = d.signal ? { signal: d.signal } : {};
  }

  deploymentsChanged(keys: ReadonlySet<string>): void {
    for (const k of keys) if (k.startsWith(DEPLOYMENT_PREFIX)) this.d.queue.add(k.slice(DEPLOYMENT_PREFIX.length));
  }

  private deploymentsIn(ns: string): Deployment[] {
    const out: Deployment[] = [];
    for (const [k, s] of this.d.deployments.items) if (k.startsWith(`${DEPLOYMENT_PREFIX}${ns}/`)) out.push(deploymentOf(s.obj));
    return out;
  }

  /** ReplicaSets changed: their old and new owners, or for an orphan every Deployment that would adopt it. */
  replicaSetsChanged(keys: ReadonlySet<string>): void {
    for (const k of keys) {
      const old = this.rsOwner.get(k);
      if (old) this.d.queue.add(old);
      const s = this.d.replicaSets.items.get(k);
      if (!s) {
        this.rsOwner.delete(k);
        continue;
      }
      const rs = replicaSetOf(s.obj);
      const ref = controllerRefOf(rs);
      if (ref) {
        if (ref.kind !== 'Deployment') {
          this.rsOwner.delete(k);
          continue;
        }
        const key = `${rs.namespace}/${ref.name}`;
        this.rsOwner.set(k, key);
        this.d.queue.add(key);
      } else {
        this.rsOwner.delete(k);
        for (const d of this.deploymentsIn(rs.namespace)) if (matchesLabels(d.selector, rs.labels)) this.d.queue.add(`${d.namespace}/${d.name}`);
      }
    }
  }

  /** Pods changed: a deleted pod may let a Recreate rollout go on. */
  podsChanged(keys: ReadonlySet<string>): void {
    for (const k of keys) {
      const s = this.d.pods.items.get(k);
      if (s) {
        const p = podOf(s.obj);
        const ref = p.ownerReferences.find((r) => r.controller === true && r.kind === 'ReplicaSet');
        if (ref) this.podOwner.set(k, `${REPLICASET_PREFIX}${p.namespace}/${ref.name}`);
        else this.podOwner.delete(k);
        continue;
      }
      const rsKey = this.podOwner.get(k);
      this.podOwner.delete(k);
      const owner = rsKey && this.rsOwner.get(rsKey);
      if (!owner) continue;
      const d = this.d.deployments.items.get(`${DEPLOYMENT_PREFIX}${owner}`);
      if (d && deploymentOf(d.obj).strategy === 'Recreate') this.d.queue.add(owner);
    }
  }

  /** One sync of the Deployment `ns/name`; throws to be retried; a delay to look again (the progress deadline), if any. */
  async sync(key: string): Promise<number | undefined> {
    const s = this.d.deployments.items.get(`${DEPLOYMENT_PREFIX}${key}`);
    if (!s) return undefined;
    return new Sync(this.d, this.sig, this.now, deploymentOf(s.obj), this.d.log.child({ deployment: key })).run();
  }
}

/** One sync's state: the Deployment and its ReplicaSets as this sync last wrote or read them. */
class Sync {
  private rss: ReplicaSet[] = [];

  constructor(
    private readonly deps: DeploymentControllerDeps,
    private readonly sig: { signal?: AbortSignal },
    private readonly now: () => number,
    private d: Deployment,
    private readonly log: Logger,
  ) {}

  async run(): Promise<number | undefined> {
    const d = this.d;
    if (Object.keys(d.selectorRaw).length === 0) {
      this.event('Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      if ((d.status.observedGeneration ?? 0) < d.generation) await this.writeStatus({ ...d.status, observedGeneration: d.generation });
      return undefined;
    }
    await this.claimReplicaSets();
    if (d.deleting) return this.syncStatusOnly();
    const paused = pausedStatus(this.d, this.now());
    if (paused) await this.writeStatus(paused);
    if (this.d.paused) return this.syncScale();
    const [newRS, oldRSs] = await this.allReplicaSets(false);
    if (isScalingEvent(this.d, [...oldRSs, newRS])) return this.syncScale();
    return this.d.strategy === 'Recreate' ? this.rolloutRecreate() : this.rolloutRolling();
  }

  // --- reading and claiming ---------------------------------------------------------------------------

  private async claimReplicaSets(): Promise<void> {
    const d = this.d;
    const prefix = `${REPLICASET_PREFIX}${d.namespace}/`;
    const owned: ReplicaSet[] = [];
    let fresh: boolean | undefined;
    for (const [k, s] of this.deps.replicaSets.items) {
      if (!k.startsWith(prefix)) continue;
      const rs = replicaSetOf(s.obj);
      const ref = controllerRefOf(rs);
      const matches = matchesLabels(d.selector, rs.labels);
      if (ref) {
        if (ref.uid !== d.uid) continue;
        if (matches) owned.push(rs);
        else if (!d.deleting) await this.patchOwners(rs, rs.ownerReferences.filter((r) => r.uid !== d.uid), 'released replica set');
        continue;
      }
      if (d.deleting || !matches || rs.deleting) continue;
      // RecheckDeletionTimestamp: adopt only for the Deployment as it is now.
      fresh ??= await this.stillThisDeployment();
      if (!fresh) continue;
      const adopted = await this.patchOwners(rs, [...rs.ownerReferences, deploymentRef(d)], 'adopted replica set');
      if (adopted) owned.push(adopted);
    }
    this.rss = owned;
  }

  private async stillThisDeployment(): Promise<boolean> {
    try {
      const o = deploymentOf((await this.deps.client.request('GET', deployPath(this.d.namespace, this.d.name), this.sig)) as Obj);
      return o.uid === this.d.uid && !o.deleting;
    } catch (e) {
      if (isStatus(e, 404)) return false;
      throw e;
    }
  }

  private async patchOwners(rs: ReplicaSet, refs: readonly object[], what: string): Promise<ReplicaSet | undefined> {
    try {
      const r = (await this.deps.client.request('PATCH', rsPath(rs.namespace, rs.name), { body: { metadata: { resourceVersion: (rs.raw.metadata as Obj).resourceVersion, ownerReferences: refs } }, attempts: 1, ...this.sig })) as Obj;
      this.log.info({ replicaSet: rs.name }, what);
      return replicaSetOf(r);
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      throw e;
    }
  }

  /** Recreate's view of the pods: those of the Deployment's ReplicaSets and their phase. */
  private podPhases(): PodPhase[] {
    const uids = new Set(this.rss.map((r) => r.uid));
    const out: PodPhase[] = [];
    const prefix = `${REGISTRY}/pods/${this.d.namespace}/`;
    for (const [k, s] of this.deps.pods.items) {
      if (!k.startsWith(prefix)) continue;
      const p = podOf(s.obj);
      const ref = p.ownerReferences.find((r) => r.controller === true);
      if (ref && uids.has(ref.uid) && matchesLabels(this.d.selector, p.labels)) out.push({ ownerUid: ref.uid, phase: p.phase });
    }
    return out;
  }

  // --- the new ReplicaSet and revisions ---------------------------------------------------------------

  /** getAllReplicaSetsAndSyncRevision: the new ReplicaSet (created when asked and missing) and the old ones. */
  private async allReplicaSets(create: boolean): Promise<[ReplicaSet | undefined, ReplicaSet[]]> {
    const sorted = [...this.rss].sort(byCreation);
    const existing = sorted.find((rs) => equalIgnoreHash(rs.template, this.d.template));
    const olds = sorted.filter((rs) => rs !== existing);
    const newRevision = maxRevision(olds) + 1;
    if (existing) return [await this.syncExisting(existing, newRevision), olds];
    if (!create) return [undefined, olds];
    return [await this.createNew(olds, newRevision), olds];
  }

  private async syncExisting(rs: ReplicaSet, newRevision: number): Promise<ReplicaSet> {
    const d = this.d;
    const { annotations, changed } = newReplicaSetAnnotations(d, rs.annotations, newRevision, true, replicasAnnotations(d));
    if (changed || rs.minReadySeconds !== d.minReadySeconds) {
      return this.updateRS(rs, (o) => {
        (o.metadata as Obj).annotations = annotations;
        (o.spec as Obj).minReadySeconds = d.minReadySeconds;
      });
    }
    const revision = rs.annotations[REVISION];
    let annotationsChanged = false;
    let status = d.status;
    if (revision !== undefined && d.annotations[REVISION] !== revision) annotationsChanged = true;
    if (d.progressDeadlineSeconds !== undefined && !conditionOf(d.status, PROGRESSING)) {
      status = setCondition(status, newCondition(PROGRESSING, 'True', REASON.foundNewRS, `Found new replica set "${rs.name}"`, this.now()));
    }
    if (annotationsChanged || status !== d.status) await this.writeStatus(status, annotationsChanged ? { [REVISION]: revision! } : undefined);
    return rs;
  }

  private async createNew(olds: readonly ReplicaSet[], newRevision: number): Promise<ReplicaSet> {
    const d = this.d;
    const hash = computeHash(d.template, d.status.collisionCount);
    const tmeta = isObj(d.template.metadata) ? d.template.metadata : {};
    const labels = { ...(isObj(tmeta.labels) ? tmeta.labels : {}), [POD_TEMPLATE_HASH]: hash };
    const template = { ...structuredClone(d.template), metadata: { ...structuredClone(tmeta), labels } };
    const sel = structuredClone(d.selectorRaw);
    sel.matchLabels = { ...(isObj(sel.matchLabels) ? sel.matchLabels : {}), [POD_TEMPLATE_HASH]: hash };
    const name = `${d.name}-${hash}`;
    const draft = replicaSetOf({ metadata: { name, namespace: d.namespace, labels }, spec: { replicas: 0, template } });
    const replicas = newRSNewReplicas(d, [...olds, draft], draft);
    const { annotations } = newReplicaSetAnnotations(d, {}, newRevision, false, replicasAnnotations(d));
    const body = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name, namespace: d.namespace, labels, annotations, ownerReferences: [deploymentRef(d)] },
      spec: { replicas, minReadySeconds: d.minReadySeconds, selector: sel, template },
    };
    let created: ReplicaSet;
    let alreadyExists = false;
    try {
      created = replicaSetOf((await this.deps.client.request('POST', rsPath(d.namespace), { body, attempts: 1, ...this.sig })) as Obj);
    } catch (e) {
      if (isStatus(e, 409)) {
        // Ours from a sync the cache has not caught up with, or a hash collision.
        const cur = replicaSetOf((await this.deps.client.request('GET', rsPath(d.namespace, name), this.sig)) as Obj);
        const ref = controllerRefOf(cur);
        if (!(ref?.uid === d.uid && equalIgnoreHash(d.template, cur.template))) {
          const collisionCount = (d.status.collisionCount ?? 0) + 1;
          await this.writeStatus({ ...d.status, collisionCount });
          this.log.info({ replicaSet: name, collisionCount }, 'hash collision; collisionCount raised');
          throw e;
        }
        created = cur;
        alreadyExists = true;
      } else {
        const msg = `Failed to create new replica set "${name}": ${e instanceof ApiStatusError ? e.statusMessage : errorMessage(e)}`;
        if (d.progressDeadlineSeconds !== undefined) await this.writeStatus(setCondition(d.status, newCondition(PROGRESSING, 'False', REASON.failedRSCreate, msg, this.now()))).catch(() => undefined);
        this.event('Warning', REASON.failedRSCreate, msg);
        throw e;
      }
    }
    this.rss.push(created);
    if (!alreadyExists) this.log.info({ replicaSet: name, replicas, revision: newRevision }, 'created replica set');
    if (!alreadyExists && replicas > 0) this.event('Normal', 'ScalingReplicaSet', `Scaled up replica set ${name} from 0 to ${replicas}`);
    let status = d.status;
    if (!alreadyExists && d.progressDeadlineSeconds !== undefined) status = setCondition(status, newCondition(PROGRESSING, 'True', REASON.newReplicaSet, `Created new replica set "${name}"`, this.now()));
    const revisionChanged = this.d.annotations[REVISION] !== String(newRevision);
    if (revisionChanged || status !== d.status) await this.writeStatus(status, revisionChanged ? { [REVISION]: String(newRevision) } : undefined);
    return created;
  }

  // --- scaling --------------------------------------------------------------------------------------

  private latest(rs: ReplicaSet): ReplicaSet {
    return this.rss.find((r) => r.uid === rs.uid) ?? rs;
  }

  private async apply(plan: readonly Scaling[]): Promise<boolean> {
    let scaled = false;
    for (const s of plan) {
      const rs = this.latest(s.rs);
      if (s.operation) scaled = (await this.scaleRS(rs, s.to, s.operation)) || scaled;
      else if (rs.replicas !== s.to) scaled = (await this.scaleRS(rs, s.to, rs.replicas < s.to ? 'up' : 'down')) || scaled;
    }
    return scaled;
  }

  /** scaleReplicaSet: the size and the replica annotations; a ScalingReplicaSet event when the size changed. */
  private async scaleRS(rs: ReplicaSet, to: number, op: 'up' | 'down'): Promise<boolean> {
    const ann = replicasAnnotations(this.d);
    const sizeChanges = rs.replicas !== to;
    if (!sizeChanges && Object.entries(ann).every(([k, v]) => rs.annotations[k] === v)) return false;
    await this.updateRS(rs, (o) => {
      (o.spec as Obj).replicas = to;
      (o.metadata as Obj).annotations = { ...rs.annotations, ...ann };
    });
    if (sizeChanges) {
      this.log.info({ replicaSet: rs.name, from: rs.replicas, to }, `scaled ${op} replica set`);
      this.event('Normal', 'ScalingReplicaSet', `Scaled ${op} replica set ${rs.name} from ${rs.replicas} to ${to}`);
    }
    return sizeChanges;
  }

  private async updateRS(rs: ReplicaSet, edit: (o: Obj) => void): Promise<ReplicaSet> {
    const o = structuredClone(rs.raw);
    o.metadata = isObj(o.metadata) ? o.metadata : {};
    o.spec = isObj(o.spec) ? o.spec : {};
    edit(o);
    const updated = replicaSetOf((await this.deps.client.request('PUT', rsPath(rs.namespace, rs.name), { body: o, attempts: 1, ...this.sig })) as Obj);
    this.rss = this.rss.map((r) => (r.uid === updated.uid ? updated : r));
    return updated;
  }

  private async cleanup(oldRSs: readonly ReplicaSet[]): Promise<void> {
    for (const rs of historyToDelete(this.d, oldRSs.map((r) => this.latest(r)))) {
      try {
        await this.deps.client.request('DELETE', rsPath(rs.namespace, rs.name), { body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: rs.uid } }, attempts: 1, ...this.sig });
        this.log.info({ replicaSet: rs.name, revision: rs.annotations[REVISION] }, 'deleted old replica set (revision history limit)');
      } catch (e) {
        if (!isStatus(e, 404) && !isStatus(e, 409)) throw e;
      }
    }
  }

  // --- the strategies -----------------------------------------------------------------------------------

  /** sync: a scaling event or a paused Deployment: proportional scaling, history cleanup when paused, the status. */
  private async syncScale(): Promise<number | undefined> {
    const [newRS, oldRSs] = await this.allReplicaSets(false);
    await this.apply(scalePlan(this.d, newRS, oldRSs));
    if (this.d.paused) await this.cleanup(oldRSs);
    await this.syncDeploymentStatus(newRS);
    return undefined;
  }

  private async syncStatusOnly(): Promise<undefined> {
    const [newRS] = await this.allReplicaSets(false);
    await this.syncDeploymentStatus(newRS);
    return undefined;
  }

  private async rolloutRolling(): Promise<number | undefined> {
    const [created, oldRSs] = await this.allReplicaSets(true);
    const newRS = created!;
    const all = (): ReplicaSet[] => [...oldRSs.map((r) => this.latest(r)), this.latest(newRS)];
    if (await this.apply(reconcileNewPlan(this.d, all(), this.latest(newRS)))) return this.syncRolloutStatus(newRS);
    if (await this.apply(reconcileOldPlan(this.d, all(), activeOf(oldRSs.map((r) => this.latest(r))), this.latest(newRS)))) return this.syncRolloutStatus(newRS);
    if (this.complete()) await this.cleanup(oldRSs);
    return this.syncRolloutStatus(newRS);
  }

  private async rolloutRecreate(): Promise<number | undefined> {
    let [newRS, oldRSs] = await this.allReplicaSets(false);
    if (await this.apply(recreateDownPlan(activeOf(oldRSs)))) return this.syncRolloutStatus(newRS);
    if (oldPodsRunning(newRS, oldRSs, this.podPhases())) return this.syncRolloutStatus(newRS);
    if (!newRS) [newRS, oldRSs] = await this.allReplicaSets(true);
    const rs = this.latest(newRS!);
    if (rs.replicas !== this.d.replicas) await this.scaleRS(rs, this.d.replicas, rs.replicas < this.d.replicas ? 'up' : 'down');
    if (this.complete()) await this.cleanup(oldRSs);
    return this.syncRolloutStatus(newRS);
  }

  /** DeploymentComplete over the status as stored. */
  private complete(): boolean {
    const s = this.d.status;
    return s.updatedReplicas === this.d.replicas && s.replicas === this.d.replicas && s.availableReplicas === this.d.replicas && (s.observedGeneration ?? 0) >= this.d.generation;
  }

  // --- status -------------------------------------------------------------------------------------------

  private async syncDeploymentStatus(newRS: ReplicaSet | undefined): Promise<void> {
    const s = calculateStatus(this.rss, newRS && this.latest(newRS), this.d, this.now());
    if (!sameStatus(s, this.d.status)) await this.writeStatus(s);
  }

  private async syncRolloutStatus(newRS: ReplicaSet | undefined): Promise<number | undefined> {
    const now = this.now();
    const s = rolloutStatus(this.rss, newRS && this.latest(newRS), this.d, now);
    if (sameStatus(s, this.d.status)) return progressCheckAfter(this.d, s, now);
    await this.writeStatus(s);
    return undefined;
  }

  /** PUT …/status with `status` (and annotations merged in: the revision), the Deployment kept as the answer. */
  private async writeStatus(status: DeploymentStatus, annotations?: Record<string, string>): Promise<void> {
    const o = structuredClone(this.d.raw);
    if (annotations) {
      const meta = isObj(o.metadata) ? o.metadata : (o.metadata = {});
      meta.annotations = { ...(isObj(meta.annotations) ? meta.annotations : {}), ...annotations };
    }
    o.status = compactStatus(status);
    const r = (await this.deps.client.request('PUT', `${deployPath(this.d.namespace, this.d.name)}/status`, { body: o, attempts: 1, ...this.sig })) as Obj;
    this.d = deploymentOf(r);
  }

  private event(type: 'Normal' | 'Warning', reason: string, message: string): void {
    const d = this.d;
    void recordEvent(this.deps.client, this.log, { apiVersion: 'apps/v1', kind: 'Deployment', namespace: d.namespace, name: d.name, uid: d.uid, resourceVersion: String((d.raw.metadata as Obj | undefined)?.resourceVersion ?? '') }, type, reason, message, COMPONENT, this.sig.signal);
  }
}
