// The Node authorizer's graph (plugin/pkg/auth/authorizer/node/graph.go), reduced to what this apiserver
// serves: each pod bound to a node (spec.nodeName) and the objects it names, so that "is this secret
// referenced by a pod on node a" is a lookup. Kept from the pods' list and watch (and this apiserver's own
// writes); nothing is known until the first list is in. Pure.
import { isObject } from '../../core/index.js';

type Json = Record<string, unknown>;

/** The vertex types a node reaches through its pods. */
export type NodeObjectType = 'pod' | 'secret' | 'configmap' | 'persistentvolumeclaim' | 'serviceaccount';

/** What one pod names: VisitPodSecretNames, VisitPodConfigmapNames, its claims and service account. */
export interface PodReferences {
  readonly secrets: readonly string[];
  readonly configMaps: readonly string[];
  readonly claims: readonly string[];
  readonly serviceAccount: string;
}

const obj = (o: unknown, k: string): Json | undefined => (isObject(o) && isObject(o[k]) ? o[k] : undefined);
const objs = (o: unknown, k: string): Json[] => (isObject(o) && Array.isArray(o[k]) ? o[k].filter(isObject) : []);
const str = (o: unknown, k: string): string => (isObject(o) && typeof o[k] === 'string' ? o[k] : '');

/** The volume sources whose secret is under `secretRef.name` (VisitPodSecretNames' list). */
const SECRET_REF_VOLUMES = ['cephfs', 'cinder', 'flexVolume', 'rbd', 'scaleIO', 'iscsi', 'storageos'];

/** The secrets, config maps, claims and service account a pod names, each once. */
export function podReferences(pod: unknown): PodReferences {
  const spec = obj(pod, 'spec');
  const secrets = new Set<string>();
  const configMaps = new Set<string>();
  const claims = new Set<string>();
  const add = (set: Set<string>, name: string): void => void (name && set.add(name));
  for (const s of objs(spec, 'imagePullSecrets')) add(secrets, str(s, 'name'));
  for (const c of [...objs(spec, 'initContainers'), ...objs(spec, 'containers'), ...objs(spec, 'ephemeralContainers')]) {
    for (const ef of objs(c, 'envFrom')) {
      add(secrets, str(obj(ef, 'secretRef'), 'name'));
      add(configMaps, str(obj(ef, 'configMapRef'), 'name'));
    }
    for (const e of objs(c, 'env')) {
      const from = obj(e, 'valueFrom');
      add(secrets, str(obj(from, 'secretKeyRef'), 'name'));
      add(configMaps, str(obj(from, 'configMapKeyRef'), 'name'));
    }
  }
  for (const v of objs(spec, 'volumes')) {
    add(secrets, str(obj(v, 'secret'), 'secretName'));
    add(secrets, str(obj(v, 'azureFile'), 'secretName'));
    add(secrets, str(obj(obj(v, 'csi'), 'nodePublishSecretRef'), 'name'));
    for (const k of SECRET_REF_VOLUMES) add(secrets, str(obj(obj(v, k), 'secretRef'), 'name'));
    add(configMaps, str(obj(v, 'configMap'), 'name'));
    add(claims, str(obj(v, 'persistentVolumeClaim'), 'claimName'));
    for (const src of objs(obj(v, 'projected'), 'sources')) {
      add(secrets, str(obj(src, 'secret'), 'name'));
      add(configMaps, str(obj(src, 'configMap'), 'name'));
    }
    // A generic ephemeral volume's claim is named <pod>-<volume>.
    if (obj(v, 'ephemeral')) add(claims, `${str(obj(pod, 'metadata'), 'name')}-${str(v, 'name')}`);
  }
  return { secrets: [...secrets], configMaps: [...configMaps], claims: [...claims], serviceAccount: str(spec, 'serviceAccountName') };
}

/** One bound pod as the graph keeps it. */
interface PodEntry {
  readonly node: string;
  readonly namespace: string;
  readonly refs: PodReferences;
  /** Its resourceVersion: an older event about it (the watch behind this apiserver's own write) is ignored. */
  readonly rev: bigint;
}

/** A pods watch event, as the storage sends it. */
export interface PodEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'ERROR' | 'BOOKMARK';
  readonly object: Json;
}

interface State {
  readonly pods: Map<string, PodEntry>;
  readonly reach: Map<string, Map<string, number>>;
}

const revOf = (rv: unknown): bigint => (typeof rv === 'string' && /^\d+$/.test(rv) ? BigInt(rv) : 0n);
const refKey = (type: NodeObjectType, namespace: string, name: string): string => `${type}/${namespace}/${name}`;

/**
 * The pods by node and, per node, how many of its pods name each object (a count, so that one of two pods
 * going away keeps the object reachable).
 */
export class NodeGraph {
  private pods = new Map<string, PodEntry>();
  private reach = new Map<string, Map<string, number>>();
  private pending: State | undefined = { pods: new Map(), reach: new Map() };

  /** A new list begins (a (re)started watch): answers stay those of the last synced state until it is in. */
  reset(): void {
    this.pending = { pods: new Map(), reach: new Map() };
  }

  /** The initial list is in: the graph answers from it. */
  markSynced(): void {
    if (this.pending) {
      this.pods = this.pending.pods;
      this.reach = this.pending.reach;
    }
    this.pending = undefined;
    this.syncedOnce = true;
  }

  private syncedOnce = false;

  /** Whether a list has ever been in (before that, no node reaches anything). */
  get synced(): boolean {
    return this.syncedOnce;
  }

  /**
   * A pod event: from the watch, or a write of this apiserver's (seen before the watch brings it). During a
   * re-list it goes to both the state being built and the one answering, so that neither misses it.
   */
  apply(e: PodEvent): void {
    if (e.type === 'ERROR' || e.type === 'BOOKMARK') return;
    if (this.syncedOnce) this.applyTo({ pods: this.pods, reach: this.reach }, e);
    if (this.pending) this.applyTo(this.pending, e);
  }

  private applyTo(target: State, e: PodEvent): void {
    const meta = obj(e.object, 'metadata');
    const key = `${str(meta, 'namespace')}/${str(meta, 'name')}`;
    const rev = revOf(meta?.resourceVersion);
    const had = target.pods.get(key);
    if (had && rev < had.rev) return;
    if (had) this.unlink(target, key, had);
    if (e.type === 'DELETED') return;
    const node = str(obj(e.object, 'spec'), 'nodeName');
    if (node === '') return;
    const entry: PodEntry = { node, namespace: str(meta, 'namespace'), refs: podReferences(e.object), rev };
    target.pods.set(key, entry);
    this.link(target, key, entry, 1);
  }

  private keysOf(podKey: string, p: PodEntry): string[] {
    const ns = p.namespace;
    return [
      refKey('pod', ns, podKey.slice(ns.length + 1)),
      ...p.refs.secrets.map((n) => refKey('secret', ns, n)),
      ...p.refs.configMaps.map((n) => refKey('configmap', ns, n)),
      ...p.refs.claims.map((n) => refKey('persistentvolumeclaim', ns, n)),
      ...(p.refs.serviceAccount ? [refKey('serviceaccount', ns, p.refs.serviceAccount)] : []),
    ];
  }

  private link(t: State, podKey: string, p: PodEntry, d: 1 | -1): void {
    let m = t.reach.get(p.node);
    if (!m) t.reach.set(p.node, (m = new Map()));
    for (const k of this.keysOf(podKey, p)) {
      const n = (m.get(k) ?? 0) + d;
      if (n > 0) m.set(k, n);
      else m.delete(k);
    }
    if (m.size === 0) t.reach.delete(p.node);
  }

  private unlink(t: State, podKey: string, p: PodEntry): void {
    t.pods.delete(podKey);
    this.link(t, podKey, p, -1);
  }

  /** Whether the node has a pod bound to it (the graph's node vertex exists). */
  hasNode(node: string): boolean {
    return this.reach.has(node);
  }

  /** Whether a pod bound to the node is, or names, the object. */
  relates(node: string, type: NodeObjectType, namespace: string, name: string): boolean {
    return (this.reach.get(node)?.get(refKey(type, namespace, name)) ?? 0) > 0;
  }

  get size(): number {
    return this.pods.size;
  }
}
