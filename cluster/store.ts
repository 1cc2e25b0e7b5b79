// Typed JSON objects in etcd under /registry: get, list, create-if-absent, compare-and-swap update,
// delete, and a watch that never misses a change (a lost watch becomes a `reset` listing). A value
// that is not valid JSON is reported with its key, never thrown at the caller's loop.
import type { Etcd3, IKeyValue } from 'etcd3';
import { errorMessage, EtcdError, FlannelError, listPrefix, type Logger, silentLogger, watchPrefix } from '../common/index.js';

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
  readonly reason: string;
}

export type StoreWatchBatch<T> =
  | { readonly kind: 'events'; readonly events: readonly ({ type: 'put'; item: Stored<T> } | { type: 'delete'; key: string } | { type: 'corrupt'; corrupt: Corrupt })[]; readonly revision: bigint }
  | { readonly kind: 'reset'; readonly items: readonly Stored<T>[]; readonly corrupt: readonly Corrupt[]; readonly revision: bigint };

export class ObjectStore {
  constructor(
    readonly client: Etcd3,
    private readonly log: Logger = silentLogger,
  ) {}

  private decode<T>(kv: IKeyValue): Stored<T> | Corrupt {
    const key = kv.key.toString();
    try {
      const obj = JSON.parse(kv.value.toString()) as unknown;
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return { key, reason: 'value is not a JSON object' };
      return { key, obj: obj as T, modRevision: kv.mod_revision };
    } catch (e) {
      return { key, reason: `value is not JSON: ${errorMessage(e)}` };
    }
  }

  async get<T>(key: string): Promise<Stored<T> | Corrupt | undefined> {
    try {
      const kv = (await this.client.get(key).exec()).kvs[0];
      return kv ? this.decode<T>(kv) : undefined;
    } catch (e) {
      throw new EtcdError('get', key, e);
    }
  }

  async list<T>(prefix: string): Promise<{ items: Stored<T>[]; corrupt: Corrupt[]; revision: bigint }> {
    try {
      const { kvs, revision } = await listPrefix(this.client, prefix);
      return { ...this.split<T>(kvs), revision };
    } catch (e) {
      throw new EtcdError('list', prefix, e);
    }
  }

  private split<T>(kvs: readonly IKeyValue[]): { items: Stored<T>[]; corrupt: Corrupt[] } {
    const items: Stored<T>[] = [];
    const corrupt: Corrupt[] = [];
    for (const kv of kvs) {
      const d = this.decode<T>(kv);
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
  async update<T>(key: string, fn: (cur: T | undefined) => T | undefined, maxAttempts = 20): Promise<T | undefined> {
    for (let i = 0; i < maxAttempts; i++) {
      let kv: IKeyValue | undefined;
      try {
        kv = (await this.client.get(key).exec()).kvs[0];
      } catch (e) {
        throw new EtcdError('get', key, e);
      }
      const cur = kv ? this.decode<T>(kv) : undefined;
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

  async delete(key: string): Promise<void> {
    try {
      await this.client.delete().key(key).exec();
    } catch (e) {
      throw new EtcdError('delete', key, e);
    }
  }

  async *watch<T>(prefix: string, fromRevision: bigint, signal: AbortSignal): AsyncIterable<StoreWatchBatch<T>> {
    for await (const b of watchPrefix(this.client, prefix, fromRevision, signal, this.log)) {
      if (b.kind === 'reset') {
        yield { kind: 'reset', ...this.split<T>(b.kvs), revision: b.revision };
        continue;
      }
      yield {
        kind: 'events',
        revision: b.revision,
        events: b.events.map((e) => {
          if (e.type === 'delete') return { type: 'delete' as const, key: e.kv.key.toString() };
          const d = this.decode<T>(e.kv);
          return 'obj' in d ? { type: 'put' as const, item: d } : { type: 'corrupt' as const, corrupt: d };
        }),
      };
    }
  }
}
