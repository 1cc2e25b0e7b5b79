// The etcd calls EtcdRegistry makes besides its watch, behind one interface so they can go over
// etcd3's gRPC client or over etcd's JSON gateway (common/etcd-gateway.ts), whichever is loaded.
import type { Etcd3 } from 'etcd3';
import { type KvPair, NoGatewayError } from '../common/index.js';

export interface EtcdKv {
  get(key: string): Promise<KvPair | undefined>;
  list(prefix: string): Promise<{ kvs: KvPair[]; revision: bigint }>;
  put(key: string, value: string, lease?: string): Promise<void>;
  /** Puts only when the key does not exist; false when it does. */
  createIfAbsent(key: string, value: string, lease?: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  grant(ttlSec: number): Promise<string>;
  revoke(id: string): Promise<void>;
  /** The TTL left after one keep-alive, 0 when the lease is gone. */
  keepAliveOnce(id: string): Promise<number>;
}

const pair = (kv: { key: Buffer; value: Buffer; lease: string }): KvPair => ({ key: kv.key.toString(), value: kv.value.toString(), lease: kv.lease });

/** The calls on etcd3's client. */
export function grpcKv(client: Etcd3): EtcdKv {
  return {
    get: async (key) => {
      const kv = (await client.get(key).exec()).kvs[0];
      return kv && pair(kv);
    },
    list: async (prefix) => {
      const res = await client.getAll().prefix(prefix).exec();
      return { kvs: res.kvs.map(pair), revision: BigInt(res.header.revision) };
    },
    put: async (key, value, lease) => {
      const put = client.put(key).value(value);
      await (lease === undefined ? put : put.lease(lease));
    },
    createIfAbsent: async (key, value, lease) => {
      const put = client.put(key).value(value);
      const res = await client
        .if(key, 'Version', '==', 0)
        .then(lease === undefined ? put : put.lease(lease))
        .commit();
      return res.succeeded;
    },
    delete: async (key) => {
      await client.delete().key(key).exec();
    },
    grant: async (ttlSec) => {
      const res = await client.leaseClient.leaseGrant({ TTL: ttlSec, ID: 0 });
      if (res.error) throw new Error(`lease grant: ${res.error}`);
      return res.ID;
    },
    revoke: async (id) => {
      await client.leaseClient.leaseRevoke({ ID: id });
    },
    keepAliveOnce: async (id) => {
      const stream = await client.leaseClient.leaseKeepAlive();
      try {
        return await new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('keepalive timed out')), 10_000);
          stream.on('data', (res: { TTL: string }) => {
            clearTimeout(timer);
            resolve(Number(res.TTL));
          });
          stream.on('error', (err: unknown) => {
            clearTimeout(timer);
            reject(err);
          });
          stream.write({ ID: id });
        });
      } finally {
        stream.end();
      }
    },
  };
}

/** `first` (the gateway) until an endpoint turns out to serve none; from then on `fallback()`. */
export function fallbackKv(first: EtcdKv, fallback: () => EtcdKv): EtcdKv {
  let use: EtcdKv = first;
  const on =
    <A extends unknown[], R>(f: (kv: EtcdKv) => (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      try {
        return await f(use)(...a);
      } catch (e) {
        if (!(e instanceof NoGatewayError) || use !== first) throw e;
        use = fallback();
        return f(use)(...a);
      }
    };
  return {
    get: on((kv) => kv.get.bind(kv)),
    list: on((kv) => kv.list.bind(kv)),
    put: on((kv) => kv.put.bind(kv)),
    createIfAbsent: on((kv) => kv.createIfAbsent.bind(kv)),
    delete: on((kv) => kv.delete.bind(kv)),
    grant: on((kv) => kv.grant.bind(kv)),
    revoke: on((kv) => kv.revoke.bind(kv)),
    keepAliveOnce: on((kv) => kv.keepAliveOnce.bind(kv)),
  };
}
