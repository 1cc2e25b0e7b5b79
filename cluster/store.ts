// Typed JSON objects in etcd under /registry: get, list, create-if-absent, compare-and-swap update,
// delete, a transaction over several keys, and a watch that never misses a change (a lost watch
// becomes a `reset` listing). Every read takes the kind's parser (parse.ts): a value that is not
// JSON, or whose fields are not what its type says, is reported as Corrupt with its key and the
// field's path, never handed over typed and never thrown at the caller's loop.
import type { Etcd3, IKeyValue } from 'etcd3';
import { errorMessage, EtcdError, FlannelError, listPrefix, type Logger, type PrefixSource, silentLogger, watchPrefix } from '../common/index.js';
import { InvalidObjectError, object, opt, type Parser, parserOf, str } from './parse.js';

export class ConflictError extends FlannelError {
  readonly code = 'CONFLICT';
  override readonly transient = true;
  constructor(readonly key: string) {
    super(`${key} kept changing under a compare-and-swap update`);
  }
}

export interface Stored<T> {
  readonly key: string;
  readonly obj: T;
  readonly modRevision: string;
}

export interface Corrupt {
  readonly key: string;
  /** What is wrong, with the field's path when the value is JSON (`spec.ports[0].port must be a number (got "80")`). */
  readonly reason: string;
  /** The field's path inside the object, when it is JSON of the wrong shape. */
  readonly path?: string;
  /** Of the corrupt value (for a compare-and-swap that replaces or deletes it). */
  readonly modRevision: string;
}

/** One condition of a transaction: the key is absent, is at this mod revision, or is bound to this etcd lease. */
export type TxnCondition =
  | { readonly key: string; readonly absent: true }
  | { readonly key: string; readonly modRevision: string }
  | { readonly key: string; readonly leaseId: string };
/** One write of a transaction: a JSON value put, or a key deleted. */
export type TxnWrite = { readonly put: string; readonly value: unknown } | { readonly delete: string };

/** Pure: a stored value through its parser, or the reason it is corrupt. */
export function decodeObject<T>(key: string, text: string, modRevision: string, parse: Parser<T>): Stored<T> | Corrupt {
  let raw: unknown;
  try {
    raw = JSON.parse(text) as unknown;
  } catch (e) {
    return { key, reason: `value is not JSON: ${errorMessage(e)}`, modRevision };
  }
  return decodeValue(key, raw, modRevision, parse);
}

/** Pure: a decoded JSON value (as an API server sends it) through its parser, or the reason it is corrupt. */
export function decodeValue<T>(key: string, raw: unknown, modRevision: string, parse: Parser<T>): Stored<T> | Corrupt {
  try {
    return { key, obj: parse(raw), modRevision };
  } catch (e) {
    if (e instanceof InvalidObjectError) return { key, reason: e.message, path: e.path, modRevision };
    return { key, reason: `cannot be parsed: ${errorMessage(e)}`, modRevision };
  }
}

export type StoreWatchBatch<T> =
  | { readonly kind: 'events'; readonly events: readonly ({ type: 'put'; item: Stored<T> } | { type: 'delete'; key: string } | { type: 'corrupt'; corrupt: Corrupt })[]; readonly revision: bigint }
  | { readonly kind: 'reset'; readonly items: readonly Stored<T>[]; readonly corrupt: readonly Corrupt[]; readonly revision: bigint };

/**
 * A narrowing the store may apply server-side: the API store sends it as the request's selector; etcd
 * has no index, so the etcd store lists everything and callers filter the items themselves either way.
 */
export interface ListOptions {
  readonly fieldSelector?: string;
}

/** A delete only of the object with this uid (a pod recreated under the same name is left alone). */
export interface DeleteOptions {
  readonly uid?: string;
}

/**
 * The one store interface the daemons use, by key (keys.ts): ObjectStore on etcd, ApiStore on the
 * Kubernetes API (which maps each key to its API path). `modRevision` is the etcd mod revision on
 * etcd and metadata.resourceVersion on the API (the apiserver makes them the same number).
 */
export interface ClusterStore {
  get<T>(key: string, parse: Parser<T>): Promise<Stored<T> | Corrupt | undefined>;
  list<T>(prefix: string, parse: Parser<T>, opts?: ListOptions): Promise<{ items: Stored<T>[]; corrupt: Corrupt[]; revision: bigint }>;
  /** Writes only if the key does not exist; false when it does. */
  create(key: string, obj: unknown): Promise<boolean>;
  /** Writes unconditionally (creates or replaces). */
  put(key: string, obj: unknown): Promise<void>;
  update<T>(key: string, parse: Parser<T>, fn: (cur: T | undefined) => T | undefined, maxAttempts?: number): Promise<T | undefined>;
  /** Removes the key at once (on the API: no grace period); a missing key is no error. */
  delete(key: string, opts?: DeleteOptions): Promise<void>;
  watch<T>(prefix: string, parse: Parser<T>, fromRevision: bigint, signal: AbortSignal, opts?: ListOptions): AsyncIterable<StoreWatchBatch<T>>;
}

export class ObjectStore implements ClusterStore {
  constructor(
    readonly client: Etcd3,
    private readonly log: Logger = silentLogger,
  ) {}

  private decode<T>(kv: IKeyValue, parse: Parser<T>): Stored<T> | Corrupt {
    return decodeObject(kv.key.toString(), kv.value.toString(), kv.mod_revision, parse);
  }

  async get<T>(key: string, parse: Parser<T>): Promise<Stored<T> | Corrupt | undefined> {
    let kv: IKeyValue | undefined;
    try {
      kv = (await this.client.get(key).exec()).kvs[0];
    } catch (e) {
      throw new EtcdError('get', key, e);
    }
    return kv ? this.decode(kv, parse) : undefined;
  }

  /** Every object under the prefix; corrupt ones are listed apart, never fail the listing. (`_opts`: see ListOptions.) */
  async list<T>(prefix: string, parse: Parser<T>, _opts?: ListOptions): Promise<{ items: Stored<T>[]; corrupt: Corrupt[]; revision: bigint }> {
    let res: Awaited<ReturnType<typeof listPrefix>>;
    try {
      res = await listPrefix(this.client, prefix);
    } catch (e) {
      throw new EtcdError('list', prefix, e);
    }
    return { ...this.split(res.kvs, parse), revision: res.revision };
  }

  /** The keys under a prefix (values not read). */
  async listKeys(prefix: string): Promise<string[]> {
    try {
      return await this.client.getAll().prefix(prefix).keys();
    } catch (e) {
      throw new EtcdError('list', prefix, e);
    }
  }

  async has(key: string): Promise<boolean> {
    try {
      return (await this.client.get(key).exec()).kvs.length > 0;
    } catch (e) {
      throw new EtcdError('get', key, e);
    }
  }

  private split<T>(kvs: readonly IKeyValue[], parse: Parser<T>): { items: Stored<T>[]; corrupt: Corrupt[] } {
    const items: Stored<T>[] = [];
    const corrupt: Corrupt[] = [];
    for (const kv of kvs) {
      const d = this.decode(kv, parse);
      if ('obj' in d) items.push(d);
      else corrupt.push(d);
    }
    return { items, corrupt };
  }

  async put(key: string, obj: unknown, leaseId?: string): Promise<void> {
    try {
      const put = this.client.put(key).value(JSON.stringify(obj));
      await (leaseId ? put.lease(leaseId) : put);
    } catch (e) {
      throw new EtcdError('put', key, e);
    }
  }

  /** Writes only if the key does not exist; false when it does. */
  async create(key: string, obj: unknown): Promise<boolean> {
    try {
      const res = await this.client.if(key, 'Version', '==', 0).then(this.client.put(key).value(JSON.stringify(obj))).commit();
      return res.succeeded;
    } catch (e) {
      throw new EtcdError('create', key, e);
    }
  }

  /**
   * Read-modify-write with a compare on the key's mod revision, retried when someone else wrote in
   * between. `fn` returns the new object, or undefined to leave the key as it is. Corrupt values
   * are passed as undefined (the caller may overwrite them).
   */
  async update<T>(key: string, parse: Parser<T>, fn: (cur: T | undefined) => T | undefined, maxAttempts = 20): Promise<T | undefined> {
    for (let i = 0; i < maxAttempts; i++) {
      let kv: IKeyValue | undefined;
      try {
        kv = (await this.client.get(key).exec()).kvs[0];
      } catch (e) {
        throw new EtcdError('get', key, e);
      }
      const cur = kv ? this.decode(kv, parse) : undefined;
      const next = fn(cur && 'obj' in cur ? cur.obj : undefined);
      if (next === undefined) return undefined;
      try {
        const cmp = kv ? this.client.if(key, 'Mod', '==', kv.mod_revision) : this.client.if(key, 'Version', '==', 0);
        const res = await cmp.then(this.client.put(key).value(JSON.stringify(next))).commit();
        if (res.succeeded) return next;
      } catch (e) {
        throw new EtcdError('update', key, e);
      }
    }
    throw new ConflictError(key);
  }

  /**
   * One etcd transaction: when every condition holds, every write is made; false (nothing written)
   * when one does not. The compare-and-swap of several keys at once (an allocation writes the
   * service and creates its reservation keys, or none of them).
   */
  async txn(conditions: readonly TxnCondition[], writes: readonly TxnWrite[]): Promise<boolean> {
    const [first, ...rest] = conditions;
    if (!first) throw new RangeError('a transaction needs at least one condition');
    const ops = writes.map((w) => ('put' in w ? this.client.put(w.put).value(JSON.stringify(w.value)) : this.client.delete().key(w.delete)));
    try {
      let cmp = this.compare(this.client.if.bind(this.client), first);
      for (const c of rest) cmp = this.compare(cmp.and.bind(cmp), c);
      return (await cmp.then(...ops).commit()).succeeded;
    } catch (e) {
      throw new EtcdError('txn', first.key, e);
    }
  }

  private compare<R>(f: (key: string, column: 'Version' | 'Mod' | 'Lease', cmp: '==', value: string | number) => R, c: TxnCondition): R {
    if ('absent' in c) return f(c.key, 'Version', '==', 0);
    if ('modRevision' in c) return f(c.key, 'Mod', '==', c.modRevision);
    return f(c.key, 'Lease', '==', c.leaseId);
  }

  async delete(key: string, opts?: DeleteOptions): Promise<void> {
    if (opts?.uid !== undefined) {
      const cur = await this.get(key, parseUid);
      if (cur && 'obj' in cur && cur.obj.metadata?.uid === opts.uid) await this.txn([{ key, modRevision: cur.modRevision }], [{ delete: key }]);
      return;
    }
    try {
      await this.client.delete().key(key).exec();
    } catch (e) {
      throw new EtcdError('delete', key, e);
    }
  }

  async *watch<T>(prefix: string, parse: Parser<T>, fromRevision: bigint, signal: AbortSignal, _opts?: ListOptions): AsyncIterable<StoreWatchBatch<T>> {
    for await (const b of watchPrefix(this.client, prefix, fromRevision, signal, this.log)) {
      if (b.kind === 'reset') {
        yield { kind: 'reset', ...this.split(b.kvs, parse), revision: b.revision };
        continue;
      }
      yield {
        kind: 'events',
        revision: b.revision,
        events: b.events.map((e) => {
          if (e.type === 'delete') return { type: 'delete' as const, key: e.kv.key.toString() };
          const d = this.decode(e.kv, parse);
          return 'obj' in d ? { type: 'put' as const, item: d } : { type: 'corrupt' as const, corrupt: d };
        }),
      };
    }
  }
}

/** What common's followPrefix and PrefixCache read: a store's listing and watch of one kind, parsed. */
export function prefixSource<T>(store: Pick<ClusterStore, 'list' | 'watch'>, parse: Parser<T>, opts?: ListOptions): PrefixSource<Stored<T>, Corrupt> {
  return {
    list: (prefix) => store.list(prefix, parse, opts),
    watch: (prefix, fromRevision, signal) => store.watch(prefix, parse, fromRevision, signal, opts),
  };
}

const parseUid = parserOf(object({ metadata: opt(object({ uid: opt(str) })) }));
