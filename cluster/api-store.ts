// The cluster store over the Kubernetes API: the same key-based interface as ObjectStore (etcd), each
// key mapped to its API path (api-paths.ts). Reads go through the kind's parser exactly as on etcd: an
// object whose fields are not what its type says is reported as Corrupt with its key and field path.
// - list: paged (limit/continue, one consistent snapshot); the revision is the list's resourceVersion.
// - watch: from a revision, never missing a change: a watch the server ends (timeout, restart) is
//   resumed from the last resourceVersion seen; one that is too old (410 Gone / ERROR Expired) becomes
//   a `reset` listing, as a compacted etcd watch does; a server that cannot be reached is retried a
//   bounded number of times with a back-off, then the error is thrown (followPrefix starts over).
// - update: read, fn, then write with the read's resourceVersion (a 409 Conflict reads again); a
//   changed status goes through the `status` subresource, the rest through the object.
// - delete: immediate (gracePeriodSeconds 0: the kubelet finishing a graceful deletion), with a uid
//   precondition when asked.
import { Backoff, errorMessage, isObject, type Logger, silentLogger, sleep } from '../common/index.js';
import { type ApiClient, ApiStatusError, isStatus } from './api-client.js';
import { type ApiResource, type ApiTarget, apiPathOf, apiTargetOf, keyOfApiObject } from './api-paths.js';
import type { Parser } from './parse.js';
import { type ClusterStore, ConflictError, type Corrupt, decodeValue, type DeleteOptions, type ListOptions, type Stored, type StoreWatchBatch } from './store.js';

type Obj = Record<string, unknown>;

export interface ApiStoreOptions {
  readonly log?: Logger;
  /** Objects per page of a listing. */
  readonly pageSize?: number;
  /** Consecutive failed watch (re)connections before the watch throws. */
  readonly watchAttempts?: number;
  /** The server ends each watch after this long (it is then resumed). */
  readonly watchTimeoutSec?: number;
}

const metaOf = (o: unknown): Obj => (isObject(o) && isObject(o.metadata) ? o.metadata : {});
const strOf = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const isGone = (e: unknown): boolean => e instanceof ApiStatusError && (e.status === 410 || e.reason === 'Expired' || e.reason === 'Gone');

/** Pure: the object without what the server owns or what goes through `status` (to see what else changed). */
function specPart(o: unknown): string {
  if (!isObject(o)) return JSON.stringify(o);
  const { status: _status, ...rest } = o;
  const meta = { ...metaOf(o) };
  delete meta.resourceVersion;
  delete meta.managedFields;
  return JSON.stringify({ ...rest, metadata: meta });
}

/** Pure: the object carrying this resourceVersion (the precondition of an update). */
function withVersion(o: unknown, rv: string): Obj {
  const obj = isObject(o) ? o : {};
  return { ...obj, metadata: { ...metaOf(obj), resourceVersion: rv } };
}

export class ApiStore implements ClusterStore {
  private readonly log: Logger;

  constructor(
    readonly client: ApiClient,
    private readonly o: ApiStoreOptions = {},
  ) {
    this.log = o.log ?? silentLogger;
  }

  /** An object from the API through its parser; its key from its metadata. */
  private decode<T>(res: ApiResource, raw: unknown, parse: Parser<T>, fallbackKey: string): Stored<T> | Corrupt {
    const m = metaOf(raw);
    const name = strOf(m.name);
    const key = name ? keyOfApiObject(res, strOf(m.namespace), name) : fallbackKey;
    return decodeValue(key, raw, strOf(m.resourceVersion) ?? '', parse);
  }

  private object(key: string): ApiTarget & { name: string } {
    const t = apiTargetOf(key);
    if (t.name === undefined) throw new RangeError(`${key} is a prefix, not an object's key`);
    return t as ApiTarget & { name: string };
  }

  private async getRaw(t: ApiTarget): Promise<Obj | undefined> {
    try {
      const o = await this.client.request('GET', apiPathOf(t));
      return isObject(o) ? o : undefined;
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      throw e;
    }
  }

  async get<T>(key: string, parse: Parser<T>): Promise<Stored<T> | Corrupt | undefined> {
    const t = this.object(key);
    const raw = await this.getRaw(t);
    return raw === undefined ? undefined : this.decode(t.res, raw, parse, key);
  }

  async list<T>(prefix: string, parse: Parser<T>, opts?: ListOptions): Promise<{ items: Stored<T>[]; corrupt: Corrupt[]; revision: bigint }> {
    const t = apiTargetOf(prefix);
    const items: Stored<T>[] = [];
    const corrupt: Corrupt[] = [];
    let revision: bigint | undefined;
    let cont: string | undefined;
    // Bounded: a listing of more than 10,000 pages is refused.
    for (let page = 0; page < 10_000; page++) {
      const l = await this.client.request('GET', apiPathOf(t), { query: { limit: String(this.o.pageSize ?? 500), continue: cont, fieldSelector: opts?.fieldSelector } });
      if (!isObject(l) || !Array.isArray(l.items)) throw new ApiStatusError('GET', apiPathOf(t), 200, 'BadList', 'the listing has no items');
      const m = metaOf(l);
      revision ??= BigInt(strOf(m.resourceVersion) || '0');
      for (const raw of l.items) {
        const d = this.decode(t.res, raw, parse, prefix);
        if ('obj' in d) items.push(d);
        else corrupt.push(d);
      }
      cont = strOf(m.continue) || undefined;
      if (!cont) return { items, corrupt, revision };
    }
    throw new ApiStatusError('GET', apiPathOf(t), 200, 'TooLarge', 'the listing did not end within 10000 pages');
  }

  async create(key: string, obj: unknown): Promise<boolean> {
    const t = this.object(key);
    try {
      await this.createObject(t, obj);
      return true;
    } catch (e) {
      if (isStatus(e, 409)) return false;
      throw e;
    }
  }

  /** POST, then the status when the kind keeps it apart and the server did not take it as given. */
  private async createObject(t: ApiTarget & { name: string }, obj: unknown): Promise<void> {
    const body = isObject(obj) ? { ...obj, metadata: { ...metaOf(obj), name: t.name } } : obj;
    if (isObject(body)) delete (body.metadata as Obj).resourceVersion;
    const made = await this.client.request('POST', apiPathOf({ res: t.res, ...(t.namespace !== undefined && { namespace: t.namespace }) }), { body });
    if (t.res.status && isObject(obj) && obj.status !== undefined && JSON.stringify(obj.status) !== JSON.stringify(isObject(made) ? made.status : undefined)) {
      await this.client.request('PUT', apiPathOf(t, 'status'), { body: withVersion({ ...(made as Obj), status: obj.status }, strOf(metaOf(made).resourceVersion) ?? '') });
    }
  }

  async put(key: string, obj: unknown): Promise<void> {
    const t = this.object(key);
    // Bounded: absent → create; lost the create race → replace again.
    for (let i = 0; i < 3; i++) {
      const cur = await this.getRaw(t);
      try {
        if (!cur) await this.createObject(t, obj);
        else await this.replace(t, cur, obj);
        return;
      } catch (e) {
        if (!isStatus(e, 409)) throw e;
      }
    }
    throw new ConflictError(key);
  }

  /** PUT of what changed beside the status, then of the status, each at the version just read. */
  private async replace(t: ApiTarget & { name: string }, cur: Obj, next: unknown): Promise<void> {
    let rv = strOf(metaOf(cur).resourceVersion) ?? '';
    const statusChanged = t.res.status && isObject(next) && JSON.stringify(next.status) !== JSON.stringify(cur.status);
    if (!t.res.status || specPart(next) !== specPart(cur)) {
      const r = await this.client.request('PUT', apiPathOf(t), { body: withVersion(next, rv) });
      rv = strOf(metaOf(r).resourceVersion) ?? rv;
    }
    if (statusChanged) await this.client.request('PUT', apiPathOf(t, 'status'), { body: withVersion(next, rv) });
  }

  async update<T>(key: string, parse: Parser<T>, fn: (cur: T | undefined) => T | undefined, maxAttempts = 20): Promise<T | undefined> {
    const t = this.object(key);
    for (let i = 0; i < maxAttempts; i++) {
      const raw = await this.getRaw(t);
      const cur = raw === undefined ? undefined : this.decode(t.res, raw, parse, key);
      const next = fn(cur && 'obj' in cur ? cur.obj : undefined);
      if (next === undefined) return undefined;
      try {
        if (raw === undefined) await this.createObject(t, next);
        else await this.replace(t, raw, next);
        return next;
      } catch (e) {
        if (!isStatus(e, 409)) throw e;
      }
    }
    throw new ConflictError(key);
  }

  async delete(key: string, opts?: DeleteOptions): Promise<void> {
    const t = this.object(key);
    const body = { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, ...(opts?.uid !== undefined && { preconditions: { uid: opts.uid } }) };
    try {
      await this.client.request('DELETE', apiPathOf(t), { body });
    } catch (e) {
      // Gone already, or (uid precondition) another object now has the name: nothing of ours to delete.
      if (isStatus(e, 404) || (opts?.uid !== undefined && isStatus(e, 409))) return;
      throw e;
    }
  }

  async *watch<T>(prefix: string, parse: Parser<T>, fromRevision: bigint, signal: AbortSignal, opts?: ListOptions): AsyncIterable<StoreWatchBatch<T>> {
    const t = apiTargetOf(prefix);
    const path = apiPathOf(t);
    const backoff = new Backoff(200, 5_000);
    const attempts = this.o.watchAttempts ?? 8;
    // The API's resourceVersion is exclusive ("changes after"), etcd's start revision inclusive.
    let rv = fromRevision - 1n;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const query = { resourceVersion: rv.toString(), allowWatchBookmarks: 'true', fieldSelector: opts?.fieldSelector, timeoutSeconds: String(this.o.watchTimeoutSec ?? 300) };
        let got = false;
        for await (const evs of this.client.watch(path, query, signal)) {
          failures = 0;
          got = true;
          const out: Extract<StoreWatchBatch<T>, { kind: 'events' }>['events'][number][] = [];
          for (const ev of evs) {
            if (ev.type === 'ERROR') {
              const code = typeof ev.object.code === 'number' ? ev.object.code : 500;
              throw new ApiStatusError('GET', path, code, strOf(ev.object.reason), strOf(ev.object.message) ?? 'watch error');
            }
            const evRv = strOf(metaOf(ev.object).resourceVersion);
            if (evRv && /^\d+$/.test(evRv)) rv = BigInt(evRv);
            if (ev.type === 'BOOKMARK') continue;
            const d = this.decode(t.res, ev.object, parse, prefix);
            if (ev.type === 'DELETED') out.push({ type: 'delete', key: d.key });
            else out.push('obj' in d ? { type: 'put', item: d } : { type: 'corrupt', corrupt: d });
          }
          if (out.length) yield { kind: 'events', events: out, revision: rv };
        }
        // The server ended the watch (its timeout, or it is stopping): resume from where it was,
        // after a pause when it ended without a word (a server closing every watch at once).
        if (!got) await sleep(backoff.next(), signal);
      } catch (e) {
        if (signal.aborted) return;
        if (isGone(e)) {
          this.log.info({ path, resourceVersion: rv.toString() }, 'watch expired; listing again');
          const l = await this.list(prefix, parse, opts);
          yield { kind: 'reset', items: l.items, corrupt: l.corrupt, revision: l.revision };
          rv = l.revision;
          continue;
        }
        if (++failures >= attempts) throw e;
        const delayMs = backoff.next();
        this.log.debug({ path, err: errorMessage(e), failures, retryInMs: delayMs }, 'watch broken; resuming');
        await sleep(delayMs, signal);
      }
    }
  }
}
