// The generic store: every kind's objects as one JSON value per etcd key, at the keys early Kubernetes
// used (cluster/keys.ts: <prefix>/minions/<node>, <prefix>/pods/<ns>/<name>, ...). resourceVersion is
// the key's mod revision, a list's is the etcd header revision; create is a put-if-absent, update a
// compare-and-swap on the revision the client read, and watch is etcd's watch from a revision. Nothing
// is cached: several apiservers on one etcd serve the same objects and watches.
import { randomBytes, randomUUID } from 'node:crypto';
import { type Etcd3, GRPCOutOfRangeError, type IKeyValue, type IWatchResponse, type Watcher } from 'etcd3';
import { errorMessage, type Logger } from '../common/index.js';
import { alreadyExists, ApiError, badRequest, conflict, expired, forbidden, internalError, invalid, notFound, unavailable } from './errors.js';
import { arrOf, isObj, labelsOf, metaOf, nameOf, type Obj, objAt, strOf } from './object.js';
import { groupVersion, type Strategy, storageKey, storagePrefix } from './kinds/index.js';
import { type Selectors, selectorsMatch } from './selectors.js';
import { NamespaceIndex, runNamespaceCache } from './namespace-cache.js';
import { type ServiceAllocation } from './services.js';
import { CacheStopped, type CachedEvent, ResourceCache } from './watch-cache.js';
import type { WriteAdmission } from './admission/index.js';
import { deletionFinalizers, type GcDeleteOptions } from './gc-policy.js';

export type { Selectors } from './selectors.js';

export interface ListOptions extends Selectors {
  readonly limit?: number;
  readonly continue?: string;
}

export interface ListResult {
  readonly items: Obj[];
  readonly resourceVersion: string;
  readonly continue?: string;
  readonly remainingItemCount?: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'ERROR' | 'BOOKMARK';
export interface WatchEvent {
  readonly type: WatchEventType;
  readonly object: Obj;
}

export interface DeleteOptions extends GcDeleteOptions {
  readonly gracePeriodSeconds?: number;
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
  /** `dryRun=All`: every check and the answer, nothing written. */
  readonly dryRun?: boolean;
  /** The admission chain's hooks for this delete (validating, with the stored object as the old one). */
  readonly admission?: WriteAdmission;
}

/** How a write is carried out: `dryRun=All` runs every check and answers, but writes nothing. */
export interface WriteOptions {
  readonly dryRun?: boolean;
  /** The admission chain's hooks: mutating after defaulting, validating after the kind's validation. */
  readonly admission?: WriteAdmission;
}

export interface StorageOptions {
  readonly client: Etcd3;
  /** --etcd-prefix: /registry. */
  readonly prefix: string;
  readonly log: Logger;
  readonly services: ServiceAllocation;
  readonly now?: () => Date;
  /** Events each resource's watch cache keeps (kube-apiserver's --default-watch-cache-size is 100; more here, as nothing else caches). */
  readonly watchCacheSize?: number;
}

const WATCH_CACHE_SIZE = 1_000;

/** An etcd call failed: 503 to the client (retryable), never a raw gRPC error. */
function etcdFailure(e: unknown): ApiError {
  return e instanceof ApiError ? e : unavailable(`etcd: ${errorMessage(e)}`);
}

/**
 * Why etcd refused a revision: etcd3 raises both ErrCompacted and ErrFutureRev as GRPCOutOfRangeError, and
 * only etcd's message (the same since v3.0) tells them apart; this is the one place that reads it. A watch
 * that etcd cancels (it does so only for a compacted start revision) reads "Watcher canceled".
 */
function revisionRefusal(e: unknown): 'compacted' | 'future' | undefined {
  if (!(e instanceof GRPCOutOfRangeError) && !/Watcher canceled/.test(errorMessage(e))) return undefined;
  const m = errorMessage(e);
  return /future revision/.test(m) ? 'future' : /compacted|Watcher canceled/.test(m) ? 'compacted' : undefined;
}
const isCompacted = (e: unknown): boolean => revisionRefusal(e) === 'compacted';

const expiredEvent = (resourceVersion: string | undefined, detail?: string): WatchEvent => ({
  type: 'ERROR',
  object: expired(`too old resource version: ${resourceVersion ?? ''}${detail ? ` (${detail})` : ''}`).toStatus() as unknown as Obj,
});

/** Kubernetes' generateName suffix alphabet (no vowels, no confusable digits). */
const SUFFIX_CHARS = 'bcdfghjklmnpqrstvwxz2456789';
export function nameSuffix(n = 5): string {
  const b = randomBytes(n);
  return [...b].map((x) => SUFFIX_CHARS[x % SUFFIX_CHARS.length]).join('');
}

/** RFC 3339 in seconds, as metav1.Time serialises. */
export const rfc3339 = (d: Date): string => `${d.toISOString().slice(0, -5)}Z`;

interface ContinueToken {
  readonly v: string;
  readonly rv: number;
  readonly start: string;
}

export function encodeContinue(rv: bigint, startKey: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: Number(rv), start: startKey })).toString('base64');
}

export function decodeContinue(token: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64').toString()) as unknown;
    if (isObj(t) && t.v === 'meta.k8s.io/v1' && typeof t.rv === 'number' && typeof t.start === 'string') return { v: t.v, rv: t.rv, start: t.start };
  } catch {
    // refused below
  }
  throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
}

/** The next key after every key that starts with `prefix` (etcd's range end of a prefix). */
function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      b[i]!++;
      return b.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

export class Storage {
  private readonly now: () => Date;
  private readonly caches = new Map<Strategy, ResourceCache>();
  private namespaces: NamespaceIndex | undefined;
  private readonly cachesAbort = new AbortController();
  private namespaceLoop: Promise<void> | undefined;
  private readonly writeListeners: ((def: Strategy, o: Obj, deleted: boolean) => void)[] = [];

  constructor(private readonly o: StorageOptions) {
    this.now = o.now ?? (() => new Date());
  }

  get client(): Etcd3 {
    return this.o.client;
  }

  /** <prefix>/<storage>/ (cluster-scoped, or every namespace) or <prefix>/<storage>/<ns>/. */
  prefixOf(s: Strategy, namespace?: string): string {
    return storagePrefix(s.def, this.o.prefix, namespace);
  }

  keyOf(s: Strategy, namespace: string | undefined, name: string): string {
    return storageKey(s.def, this.o.prefix, namespace ?? '', name);
  }

  /** A stored value as served: kind, apiVersion and resourceVersion set; undefined when it is not a JSON object. */
  decode(s: Strategy, kv: IKeyValue): Obj | undefined {
    let o: unknown;
    try {
      o = JSON.parse(kv.value.toString());
    } catch {
      o = undefined;
    }
    if (!isObj(o)) {
      this.o.log.warn({ key: kv.key.toString() }, 'stored value is not a JSON object; skipped');
      return undefined;
    }
    return this.served(s, o, kv.mod_revision);
  }

  private served(s: Strategy, o: Obj, rv: string): Obj {
    const { kind: _k, apiVersion: _a, ...rest } = o;
    const out: Obj = { kind: s.def.kind, apiVersion: groupVersion(s.def), ...rest };
    metaOf(out).resourceVersion = rv;
    return out;
  }

  /** What is written: the object without its resourceVersion (the key's revision is). */
  private stored(o: Obj): string {
    const meta = { ...objAt(o, 'metadata') };
    delete meta.resourceVersion;
    return JSON.stringify({ ...o, metadata: meta });
  }

  private async getKv(key: string): Promise<IKeyValue | undefined> {
    try {
      return (await this.o.client.get(key).exec()).kvs[0];
    } catch (e) {
      throw etcdFailure(e);
    }
  }

  /** The newest copy of an object the watch cache has seen, if any: it may lag etcd, so a hint, never an answer. */
  cachedHint(def: Strategy, namespace: string | undefined, name: string): Obj | undefined {
    const kv = this.caches.get(def)?.latestKv(this.keyOf(def, namespace, name));
    return kv && this.decode(def, kv);
  }

  async get(def: Strategy, namespace: string | undefined, name: string): Promise<Obj> {
    const kv = await this.getKv(this.keyOf(def, namespace, name));
    const o = kv && this.decode(def, kv);
    if (!kv) throw notFound(def.def.group, def.def.resource, name);
    if (!o) throw internalError(`the stored ${def.def.resource} "${name}" cannot be decoded`);
    return o;
  }

  matches(s: Strategy, o: Obj, sel: Selectors): boolean {
    if (sel.fields.length === 0) return selectorsMatch(sel, labelsOf(o), {});
    const fields: Record<string, string> = {};
    for (const f of sel.fields) fields[f.field] = s.fieldValue(o, f.field) ?? '';
    return selectorsMatch(sel, labelsOf(o), fields);
  }

  /** One page (or all) of a kind's objects, at one etcd revision; filtered pages are filled up to the limit. */
  async list(def: Strategy, namespace: string | undefined, opts: ListOptions): Promise<ListResult> {
    const prefix = this.prefixOf(def, namespace);
    const end = prefixEnd(prefix);
    let start = Buffer.from(prefix);
    let revision: bigint | undefined;
    if (opts.continue) {
      const t = decodeContinue(opts.continue);
      start = Buffer.from(`${this.o.prefix}/${t.start}`);
      revision = BigInt(t.rv);
    }
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    const items: Obj[] = [];
    // Bounded: each round reads at least one key, and there are finitely many under the prefix.
    for (;;) {
      let res: Awaited<ReturnType<Etcd3['kv']['range']>>;
      try {
        res = await this.o.client.kv.range({ key: start, range_end: end, ...(limit && { limit: limit + 1 }), ...(revision !== undefined && { revision: revision.toString() }) });
      } catch (e) {
        if (isCompacted(e) && opts.continue) {
          throw expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
        }
        throw etcdFailure(e);
      }
      revision ??= BigInt(res.header.revision);
      const kvs = res.kvs;
      for (let i = 0; i < kvs.length; i++) {
        const kv = kvs[i]!;
        if (limit && items.length === limit) {
          // The page is full and one more key exists: the next page starts there.
          return { items, resourceVersion: revision.toString(), continue: encodeContinue(revision, kv.key.toString().slice(this.o.prefix.length + 1)) };
        }
        const o = this.decode(def, kv);
        if (o && this.matches(def, o, opts)) items.push(o);
      }
      if (!limit || kvs.length <= limit) break;
      start = Buffer.concat([kvs[kvs.length - 1]!.key, Buffer.from([0])]);
    }
    return { items, resourceVersion: revision.toString() };
  }

  /** The namespace an object is created in exists and is not being deleted (NamespaceLifecycle). */
  async admitNamespace(nsDef: Strategy, def: { readonly group: string; readonly resource: string }, namespace: string, name: string): Promise<void> {
    // From the namespace cache when it knows the name; a name it does not know is read live (it may have
    // been created a moment ago through another apiserver).
    const known = this.namespaces?.lookup(namespace);
    if (known === 'active') return;
    if (known === 'terminating') throw terminating(def, namespace, name);
    const kv = await this.getKv(this.keyOf(nsDef, undefined, namespace));
    if (!kv) throw notFound('', 'namespaces', namespace);
    const ns = this.decode(nsDef, kv);
    if (ns && strOf(objAt(ns, 'metadata').deletionTimestamp)) throw terminating(def, namespace, name);
  }

  /**
   * Starts the watch caches: one etcd watch per stored kind, from etcd's current revision, serving every
   * client watch of the kind from a recent enough revision; and the namespace cache (NamespaceLifecycle)
   * on the namespaces' one.
   */
  async startCaches(kinds: readonly Strategy[]): Promise<void> {
    let rev: bigint;
    try {
      rev = BigInt((await this.o.client.kv.range({ key: Buffer.from(`${this.o.prefix}/`), limit: 1, keys_only: true })).header.revision);
    } catch (e) {
      throw etcdFailure(e);
    }
    const started: Promise<void>[] = [];
    for (const k of kinds) {
      if (k.def.storage === '' || this.caches.has(k)) continue;
      const cache = new ResourceCache({ client: this.o.client, prefix: this.prefixOf(k), decode: (kv) => this.decode(k, kv), capacity: this.o.watchCacheSize ?? WATCH_CACHE_SIZE, log: this.o.log });
      this.caches.set(k, cache);
      started.push(cache.start(rev));
    }
    await Promise.all(started);
    const nsDef = kinds.find((k) => k.def.group === '' && k.def.resource === 'namespaces');
    if (nsDef && !this.namespaces) {
      const index = new NamespaceIndex();
      this.namespaces = index;
      const none: Selectors = { labels: [], fields: [] };
      this.namespaceLoop = runNamespaceCache(index, (send, signal, progress) => this.watch(nsDef, undefined, undefined, none, send, signal, progress), this.o.log, this.cachesAbort.signal);
    }
  }

  /** Stops what startCaches started; the client watches served by the caches end. */
  async stopCaches(): Promise<void> {
    this.cachesAbort.abort();
    await Promise.all([...this.caches.values()].map((c) => c.stop()));
    this.caches.clear();
    await this.namespaceLoop;
    this.namespaces = undefined;
  }

  /**
   * A new object as the generic store's BeforeCreate makes it: the request's namespace, uid and
   * creationTimestamp, the kind's defaults and create preparation, a generated name, then the kind's
   * validation; throws the 400/422 Status when it is refused.
   */
  prepareCreate(s: Strategy, namespace: string | undefined, body: Obj): Obj {
    const o = this.initCreate(s, namespace, body);
    this.validateCreate(s, o);
    return o;
  }

  /** A create's object with its system fields and defaults, before admission and validation. */
  private initCreate(s: Strategy, namespace: string | undefined, body: Obj): Obj {
    const o = structuredClone(body);
    const meta = metaOf(o);
    if (strOf(meta.resourceVersion)) throw badRequest('resourceVersion should not be set on objects to be created');
    if (s.def.namespaced) {
      const bodyNs = strOf(meta.namespace);
      if (bodyNs && namespace && bodyNs !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      meta.namespace = namespace ?? bodyNs ?? 'default';
    } else delete meta.namespace;
    // The system fields first: a Job's generated selector is made of its uid.
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339(this.now());
    s.defaults(o);
    s.prepareForCreate(o);
    const gen = strOf(meta.generateName);
    if (!strOf(meta.name) && gen) meta.name = `${gen}${nameSuffix()}`;
    return o;
  }

  private validateCreate(s: Strategy, o: Obj): void {
    const errs = s.validate(o);
    if (errs.length) throw invalid(s.def.group, s.def.kind, strOf(metaOf(o).name) ?? '', errs);
  }

  async create(def: Strategy, namespace: string | undefined, body: Obj, w: WriteOptions = {}): Promise<Obj> {
    const o = this.initCreate(def, namespace, body);
    if (w.admission) {
      await w.admission.mutate(o, undefined);
      // A mutating plugin may add what the kind defaults (a volume, a toleration): defaulted again, as the real chain re-decodes.
      def.defaults(o);
    }
    this.validateCreate(def, o);
    await w.admission?.validate(o, undefined);
    const name = nameOf(o);
    const key = this.keyOf(def, strOf(metaOf(o).namespace), name);
    if (w.dryRun) {
      // As kube-apiserver's dry run: validated and defaulted, AlreadyExists still answered, nothing
      // stored (and no ClusterIP or node port reserved: a service's stay as the client gave them).
      if (await this.getKv(key)) throw alreadyExists(def.def.group, def.def.resource, name);
      return this.served(def, o, '');
    }
    // Services: the ClusterIP and node ports are reserved in the same transaction that writes the
    // service; a reservation lost to another apiserver is picked again.
    // A service that exists is AlreadyExists, not a clash of its own addresses.
    if (def.def.resource === 'services' && (await this.getKv(key))) throw alreadyExists(def.def.group, def.def.resource, name);
    const isService = def.def.resource === 'services';
    for (let attempt = 0; attempt < 10; attempt++) {
      // Each attempt allocates for the body as given: a retry must not take the numbers the lost attempt
      // picked for ones the client asked for (they would be "already allocated").
      const obj = isService ? structuredClone(o) : o;
      const reservations = isService ? await this.o.services.allocate(obj, attempt > 0) : [];
      const client = this.o.client;
      let cmp = client.if(key, 'Version', '==', 0);
      for (const r of reservations) cmp = cmp.and(r.key, 'Version', '==', 0);
      let res;
      try {
        res = await cmp.then(client.put(key).value(this.stored(obj)), ...reservations.map((r) => client.put(r.key).value(JSON.stringify(r.owner)))).commit();
      } catch (e) {
        if (isService) this.o.services.settle(reservations, false);
        throw etcdFailure(e);
      }
      if (isService) this.o.services.settle(reservations, res.succeeded);
      if (res.succeeded) return this.noted(def, this.served(def, obj, res.header.revision));
      if (await this.getKv(key)) throw alreadyExists(def.def.group, def.def.resource, name);
    }
    throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on services "${name}": the service address or port kept being taken by another apiserver`);
  }

  /**
   * PUT: the body replaces the object, at the resourceVersion the client read (409 Conflict when it
   * changed since), or unconditionally when the body has none. `sub` 'status' takes only the status
   * from the body; a plain update keeps the stored status of kinds that have a status subresource.
   */
  async update(def: Strategy, namespace: string | undefined, name: string, body: Obj, sub?: 'status', w: WriteOptions = {}): Promise<Obj> {
    const bmeta = objAt(body, 'metadata');
    const bodyName = strOf(bmeta.name);
    if (bodyName !== undefined && bodyName !== name) throw badRequest(`the name of the object (${bodyName}) does not match the name on the URL (${name})`);
    if (def.def.namespaced && strOf(bmeta.namespace) && namespace && bmeta.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const wantRv = strOf(bmeta.resourceVersion);
    const key = this.keyOf(def, namespace, name);
    for (let attempt = 0; attempt < 10; attempt++) {
      const kv = await this.getKv(key);
      if (!kv) throw notFound(def.def.group, def.def.resource, name);
      const cur = this.decode(def, kv);
      if (!cur) throw internalError(`the stored ${def.def.resource} "${name}" cannot be decoded`);
      if (wantRv !== undefined && wantRv !== kv.mod_revision) throw conflict(def.def.group, def.def.resource, name);
      const next = this.mergeUpdate(def, cur, body, namespace, sub);
      if (w.admission) {
        await w.admission.mutate(next, cur);
        if (sub !== 'status') def.defaults(next);
      }
      this.validateUpdate(def, cur, next, sub);
      await w.admission?.validate(next, cur);
      // A deleted object whose last finalizer is gone is removed, not rewritten; a pod only once its graceful
      // deletion is over too (grace 0: the kubelet's final delete came while a finalizer held it).
      const nm = objAt(next, 'metadata');
      const finished = strOf(nm.deletionTimestamp) && arrOf(nm.finalizers).length === 0 && (def.def.resource !== 'pods' || nm.deletionGracePeriodSeconds === 0);
      // Services: a healthCheckNodePort the update comes to need is reserved, and the ports it no longer holds
      // released, in the transaction that writes it (as at create).
      const ports = def.def.resource === 'services' && sub !== 'status' && !finished ? await this.o.services.allocateUpdate(cur, next, attempt > 0) : undefined;
      if (w.dryRun) {
        if (ports) this.o.services.settle(ports.reservations, false);
        return this.served(def, next, kv.mod_revision);
      }
      const reservations = ports?.reservations ?? [];
      let ok: boolean;
      let rev: string;
      try {
        let cmp = this.o.client.if(key, 'Mod', '==', kv.mod_revision);
        for (const r of reservations) cmp = cmp.and(r.key, 'Version', '==', 0);
        const writes = [
          ...reservations.map((r) => this.o.client.put(r.key).value(JSON.stringify(r.owner))),
          ...(ports?.releases ?? []).map((k) => this.o.client.delete().key(k)),
        ];
        const res = await (finished ? cmp.then(this.o.client.delete().key(key)) : cmp.then(this.o.client.put(key).value(this.stored(next)), ...writes)).commit();
        ok = res.succeeded;
        rev = res.header.revision;
      } catch (e) {
        if (ports) this.o.services.settle(reservations, false);
        throw etcdFailure(e);
      }
      if (ports) {
        this.o.services.settle(reservations, ok);
        if (ok) this.o.services.released(ports.releases);
      }
      if (ok) return this.noted(def, this.served(def, next, rev), Boolean(finished));
      // A lost reservation is picked again (the next attempt refreshes); a changed object is a conflict there.
      if (wantRv !== undefined && reservations.length === 0) throw conflict(def.def.group, def.def.resource, name);
    }
    throw conflict(def.def.group, def.def.resource, name);
  }

  /** A server-side change of a stored object (no client fields to guard), compare-and-swapped, retried. */
  async rewrite(def: Strategy, namespace: string | undefined, name: string, fn: (cur: Obj) => Obj): Promise<Obj> {
    const key = this.keyOf(def, namespace, name);
    for (let attempt = 0; attempt < 10; attempt++) {
      // First from what the watch cache last saw (one etcd round trip saved when it is current), then from etcd.
      const cached = attempt === 0 ? this.caches.get(def)?.latestKv(key) : undefined;
      const kv = cached ?? (await this.getKv(key));
      if (!kv) throw notFound(def.def.group, def.def.resource, name);
      const cur = this.decode(def, kv);
      if (!cur) throw internalError(`the stored ${def.def.resource} "${name}" cannot be decoded`);
      let next: Obj;
      try {
        next = fn(structuredClone(cur));
      } catch (e) {
        // A refusal of what the cache had may not hold for what etcd has: asked again of etcd's.
        if (cached) continue;
        throw e;
      }
      let res;
      try {
        res = await this.o.client.if(key, 'Mod', '==', kv.mod_revision).then(this.o.client.put(key).value(this.stored(next))).commit();
      } catch (e) {
        throw etcdFailure(e);
      }
      if (res.succeeded) return this.noted(def, this.served(def, next, res.header.revision));
    }
    throw conflict(def.def.group, def.def.resource, name);
  }

  /**
   * A namespace this apiserver wrote goes into the namespace cache at once (its watch brings it a moment
   * later): a create right after `kubectl delete namespace` through this apiserver is refused. Every write
   * goes to the write listeners (the Node authorizer's graph) likewise.
   */
  private noted(def: Strategy, o: Obj, deleted = false): Obj {
    if (this.namespaces && def.def.group === '' && def.def.resource === 'namespaces') this.namespaces.apply({ type: deleted ? 'DELETED' : 'MODIFIED', object: o });
    for (const l of this.writeListeners) l(def, o, deleted);
    return o;
  }

  /** Calls `fn` with every object this apiserver writes (`deleted` when it is gone), before the watch brings it. */
  onWrite(fn: (def: Strategy, o: Obj, deleted: boolean) => void): void {
    this.writeListeners.push(fn);
  }

  /**
   * The object an update writes. A status update takes the body's status (and, for pods and nodes, labels
   * and annotations) onto the stored object; it is not validated again, as the kubelet's status writes
   * must not fail on a spec written before the apiserver checked it. Any other update is the body,
   * defaulted, with what the server owns taken from the stored object, and validated against it.
   */
  /** An update's object: the body over the stored one's identity, defaulted, with what may not change kept. */
  private mergeUpdate(s: Strategy, cur: Obj, body: Obj, namespace: string | undefined, sub?: 'status'): Obj {
    const next = structuredClone(body);
    const meta = metaOf(next);
    meta.name = nameOf(cur);
    if (s.def.namespaced) meta.namespace = namespace ?? strOf(objAt(cur, 'metadata').namespace) ?? '';
    else delete meta.namespace;
    if (sub === 'status') s.prepareForStatusUpdate(next, cur);
    else {
      s.defaults(next);
      s.prepareForUpdate(next, cur);
      if (s.def.group === '' && s.def.resource === 'services') this.o.services.keepAllocated(cur, next);
    }
    delete metaOf(next).resourceVersion;
    return next;
  }

  private validateUpdate(s: Strategy, cur: Obj, next: Obj, sub?: 'status'): void {
    if (sub === 'status') return;
    const errs = s.validateUpdate(next, cur);
    if (s.def.group === '' && s.def.resource === 'services') errs.push(...this.o.services.immutable(cur, next).map((e) => ({ ...e, detail: e.detail ?? '' })));
    if (errs.length) throw invalid(s.def.group, s.def.kind, nameOf(cur), errs);
  }

  /**
   * DELETE. Pods bound to a node are deleted gracefully: deletionTimestamp and
   * deletionGracePeriodSeconds are set and the kubelet removes the key once the containers are gone
   * (as it does today); an unbound pod, or a grace period of 0, is removed at once. An object with
   * finalizers is only marked. Returns the object as last stored, and whether it is gone.
   */
  async delete(def: Strategy, namespace: string | undefined, name: string, opts: DeleteOptions): Promise<{ obj: Obj; gone: boolean }> {
    const key = this.keyOf(def, namespace, name);
    for (let attempt = 0; attempt < 10; attempt++) {
      const kv = await this.getKv(key);
      if (!kv) throw notFound(def.def.group, def.def.resource, name);
      const cur = this.decode(def, kv) ?? { metadata: { name } };
      const meta = objAt(cur, 'metadata');
      const pre = opts.preconditions;
      if (pre?.uid && pre.uid !== meta.uid) {
        throw conflict(def.def.group, def.def.resource, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${strOf(meta.uid) ?? ''}`);
      }
      if (pre?.resourceVersion && pre.resourceVersion !== kv.mod_revision) {
        throw conflict(def.def.group, def.def.resource, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${kv.mod_revision}`);
      }
      await opts.admission?.validate(undefined, cur);
      // The garbage collector's finalizers (orphan, foregroundDeletion), as the propagation policy says.
      const had = arrOf(meta.finalizers).filter((f): f is string => typeof f === 'string');
      const fins = deletionFinalizers(had, opts, def.def);
      const base = JSON.stringify(fins) === JSON.stringify(had) ? cur : { ...cur, metadata: { ...meta, finalizers: fins } };
      if (!fins.length) delete (base.metadata as Obj).finalizers;
      let mark: Obj | undefined;
      if (def.def.resource === 'pods') mark = this.gracefulPod(base, opts);
      if (!mark && fins.length > 0) {
        mark = structuredClone(base);
        if (!strOf(objAt(mark, 'metadata').deletionTimestamp)) {
          metaOf(mark).deletionTimestamp = rfc3339(this.now());
          metaOf(mark).deletionGracePeriodSeconds = 0;
        }
      }
      if (mark && JSON.stringify(mark) === JSON.stringify(cur)) return { obj: cur, gone: false };
      if (opts.dryRun) return mark ? { obj: this.served(def, mark, kv.mod_revision), gone: false } : { obj: this.served(def, cur, kv.mod_revision), gone: true };
      const extra = !mark && def.def.resource === 'services' ? this.o.services.reservationsOf(cur) : [];
      let res;
      try {
        const cmp = this.o.client.if(key, 'Mod', '==', kv.mod_revision);
        res = await (mark ? cmp.then(this.o.client.put(key).value(this.stored(mark))) : cmp.then(this.o.client.delete().key(key), ...extra.map((k) => this.o.client.delete().key(k)))).commit();
      } catch (e) {
        throw etcdFailure(e);
      }
      if (res.succeeded) {
        if (!mark) {
          this.noted(def, { ...cur, metadata: { ...objAt(cur, 'metadata'), resourceVersion: res.header.revision } }, true);
          return { obj: cur, gone: true };
        }
        return { obj: this.noted(def, this.served(def, mark, res.header.revision)), gone: false };
      }
    }
    throw conflict(def.def.group, def.def.resource, name);
  }

  /** The pod marked for graceful deletion, or undefined when it is removed at once. */
  private gracefulPod(cur: Obj, opts: DeleteOptions): Obj | undefined {
    const spec = objAt(cur, 'spec');
    const phase = strOf(objAt(cur, 'status').phase);
    const grace = opts.gracePeriodSeconds ?? (typeof spec.terminationGracePeriodSeconds === 'number' ? spec.terminationGracePeriodSeconds : 30);
    if (!strOf(spec.nodeName) || phase === 'Succeeded' || phase === 'Failed' || grace <= 0) {
      return arrOf(objAt(cur, 'metadata').finalizers).length > 0 ? this.marked(cur, 0) : undefined;
    }
    const meta = objAt(cur, 'metadata');
    // Already being deleted: only a shorter grace period changes anything.
    const old = typeof meta.deletionGracePeriodSeconds === 'number' ? meta.deletionGracePeriodSeconds : undefined;
    if (strOf(meta.deletionTimestamp) && old !== undefined && old <= grace) return structuredClone(cur);
    return this.marked(cur, grace);
  }

  private marked(cur: Obj, grace: number): Obj {
    const m = structuredClone(cur);
    const meta = metaOf(m);
    meta.deletionTimestamp = rfc3339(new Date(this.now().getTime() + grace * 1000));
    meta.deletionGracePeriodSeconds = grace;
    return m;
  }

  /**
   * Watches a kind from `resourceVersion` (exclusive); with none (or "0"), the current objects come
   * first as ADDED. Events are filtered by the selectors: an object that stops matching is DELETED
   * for this watcher, one that starts matching is ADDED. A revision etcd compacted away ends the watch
   * with an ERROR event holding a 410 Expired Status. Resolves when `signal` aborts or etcd ends it.
   * `progress` hears each revision the watch has got to (its start, then every etcd event's, selected
   * or not), for bookmarks.
   */
  async watch(
    def: Strategy,
    namespace: string | undefined,
    resourceVersion: string | undefined,
    sel: Selectors,
    send: (e: WatchEvent) => void,
    signal: AbortSignal,
    progress: (rv: string) => void = () => undefined,
  ): Promise<void> {
    let from: bigint;
    let listed = false;
    if (resourceVersion === undefined || resourceVersion === '' || resourceVersion === '0') {
      const l = await this.list(def, namespace, sel);
      listed = true;
      for (const o of l.items) send({ type: 'ADDED', object: o });
      from = BigInt(l.resourceVersion) + 1n;
      progress(l.resourceVersion);
    } else {
      if (!/^\d+$/.test(resourceVersion)) throw badRequest(`invalid resource version "${resourceVersion}"`);
      from = BigInt(resourceVersion) + 1n;
      progress(resourceVersion);
    }
    if (signal.aborted) return;
    const prefix = this.prefixOf(def, namespace);
    if (!listed) {
      // A client's revision that etcd compacted away is refused, even while the watch cache still holds
      // the events after it (as without a cache). etcd cancels a watch from a compacted revision without
      // saying why; a read at that revision does say. A revision not reached yet is watched from when it comes.
      try {
        await this.o.client.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix), limit: 1, keys_only: true, revision: (from - 1n).toString() });
      } catch (e) {
        if (revisionRefusal(e) !== 'future') {
          if (!isCompacted(e)) throw etcdFailure(e);
          send(expiredEvent(resourceVersion));
          return;
        }
      }
      if (signal.aborted) return;
    }
    const cache = this.caches.get(def);
    if (cache && (await this.watchCached(cache, def, namespace, from - 1n, resourceVersion, sel, send, signal, progress))) return;
    return this.watchFrom(def, prefix, from, resourceVersion, sel, send, signal, progress);
  }

  private async watchFrom(
    def: Strategy,
    prefix: string,
    from: bigint,
    resourceVersion: string | undefined,
    sel: Selectors,
    send: (e: WatchEvent) => void,
    signal: AbortSignal,
    progress: (rv: string) => void,
  ): Promise<void> {
    let watcher: Watcher;
    try {
      watcher = await this.o.client.watch().prefix(prefix).startRevision(from.toString()).withPreviousKV().create();
    } catch (e) {
      if (isCompacted(e)) {
        send(expiredEvent(resourceVersion));
        return;
      }
      throw etcdFailure(e);
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        watcher.removeAllListeners();
        void watcher.cancel().catch(() => undefined);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      watcher.on('data', (res: IWatchResponse) => {
        for (const e of res.events) {
          const prev = e.prev_kv ? this.decode(def, e.prev_kv) : undefined;
          if (e.type === 'Delete' && prev) metaOf(prev).resourceVersion = e.kv.mod_revision;
          const ev = this.clientEvent(def, sel, e.type === 'Delete' ? undefined : this.decode(def, e.kv), prev, e.type === 'Delete');
          if (ev) send(ev);
          progress(e.kv.mod_revision);
        }
      });
      watcher.on('error', (err: unknown) => {
        if (isCompacted(err)) send(expiredEvent(resourceVersion, errorMessage(err)));
        else send({ type: 'ERROR', object: internalError(errorMessage(err)).toStatus() as unknown as Obj });
        done();
      });
    });
  }

  /**
   * What one client watch sees of an etcd event, given the object after it (`cur`, none for a delete) and
   * before it (`prev`): an object that stops matching the selectors is DELETED for the watcher, one that
   * starts matching is ADDED; undefined when the watcher sees nothing.
   */
  private clientEvent(def: Strategy, sel: Selectors, cur: Obj | undefined, prev: Obj | undefined, deleted: boolean): WatchEvent | undefined {
    const now = cur !== undefined && this.matches(def, cur, sel);
    const before = prev !== undefined && this.matches(def, prev, sel);
    if (deleted) return prev && before ? { type: 'DELETED', object: prev } : undefined;
    if (now && before) return { type: 'MODIFIED', object: cur };
    if (now) return { type: 'ADDED', object: cur };
    if (before && cur) return { type: 'DELETED', object: cur };
    return undefined;
  }

  /**
   * A client watch from `after` (exclusive) served by the kind's watch cache: false (nothing sent) when the
   * cache is not serving or its window starts after `after`, then the caller reads etcd as without a cache.
   * Events of other namespaces are not sent but still move `progress` (a bookmark from them misses nothing).
   */
  private async watchCached(
    cache: ResourceCache,
    def: Strategy,
    namespace: string | undefined,
    after: bigint,
    resourceVersion: string | undefined,
    sel: Selectors,
    send: (e: WatchEvent) => void,
    signal: AbortSignal,
    progress: (rv: string) => void,
  ): Promise<boolean> {
    const keyPrefix = namespace === undefined ? undefined : this.prefixOf(def, namespace);
    let finish: (() => void) | undefined;
    const ended = new Promise<void>((resolve) => (finish = resolve));
    const unsubscribe = cache.subscribe(after, {
      onEvent: (e: CachedEvent) => {
        if (keyPrefix === undefined || e.key.startsWith(keyPrefix)) {
          const ev = this.clientEvent(def, sel, e.cur, e.prev, e.type === 'delete');
          if (ev) send(ev);
        }
        progress(e.modRevision);
      },
      onEnd: (reason: unknown) => {
        if (!(reason instanceof CacheStopped)) {
          send(isCompacted(reason) ? expiredEvent(resourceVersion, errorMessage(reason)) : { type: 'ERROR', object: internalError(errorMessage(reason)).toStatus() as unknown as Obj });
        }
        finish!();
      },
    });
    if (!unsubscribe) return false;
    const abort = (): void => finish!();
    signal.addEventListener('abort', abort, { once: true });
    if (signal.aborted) finish!();
    await ended;
    signal.removeEventListener('abort', abort);
    unsubscribe();
    return true;
  }
}

const terminating = (def: { readonly group: string; readonly resource: string }, namespace: string, name: string): ApiError =>
  forbidden(def.group, def.resource, name, `unable to create new content in namespace ${namespace} because it is being terminated`);
