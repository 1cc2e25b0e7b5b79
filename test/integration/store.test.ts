// The /registry object store against a real etcd on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient } from '../../common/index.js';
import { ObjectStore, type StoreWatchBatch } from '../../cluster/index.js';
import { EtcdServer } from '../harness/index.js';

let etcd: EtcdServer;
let client: Etcd3;
let store: ObjectStore;

beforeAll(async () => {
  etcd = await EtcdServer.start();
  client = createEtcdClient({ endpoints: [etcd.endpoint] });
  store = new ObjectStore(client);
});
afterAll(async () => {
  client?.close();
  await etcd?.destroy();
});

describe('object store', () => {
  it('creates once, updates with compare-and-swap under contention, and reports corrupt values', async () => {
    expect(await store.create('/registry/x/a', { n: 0 })).toBe(true);
    expect(await store.create('/registry/x/a', { n: 99 })).toBe(false);
    await Promise.all(Array.from({ length: 20 }, () => store.update<{ n: number }>('/registry/x/a', (cur) => ({ n: (cur?.n ?? 0) + 1 }), 100)));
    const got = await store.get<{ n: number }>('/registry/x/a');
    expect(got && 'obj' in got && got.obj.n).toBe(20);
    await etcd.ctl(['put', '/registry/x/b', '{broken']);
    const list = await store.list('/registry/x/');
    expect(list.items.map((i) => i.key)).toEqual(['/registry/x/a']);
    expect(list.corrupt).toEqual([{ key: '/registry/x/b', reason: expect.stringContaining('not JSON') }]);
  });

  it('watches from a revision and recovers from compaction with a reset', async () => {
    const { revision } = await store.list('/registry/y/');
    await store.put('/registry/y/1', { v: 1 });
    await store.put('/registry/y/2', { v: 2 });
    await etcd.ctl(['compact', (await store.list('/registry/y/')).revision.toString()]);
    const ac = new AbortController();
    const it = store.watch<{ v: number }>('/registry/y/', revision + 1n, ac.signal)[Symbol.asyncIterator]();
    try {
      const first = (await it.next()).value as StoreWatchBatch<{ v: number }>;
      expect(first.kind).toBe('reset');
      if (first.kind === 'reset') expect(first.items.map((i) => i.obj.v)).toEqual([1, 2]);
      await store.delete('/registry/y/1');
      const next = (await it.next()).value as StoreWatchBatch<{ v: number }>;
      expect(next).toMatchObject({ kind: 'events', events: [{ type: 'delete', key: '/registry/y/1' }] });
    } finally {
      ac.abort();
      await it.return?.();
    }
  });
});
