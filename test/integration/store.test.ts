// The /registry object store against a real etcd on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient } from '../../common/index.js';
import { ObjectStore, type StoreWatchBatch, num, object, parserOf, parseServiceObject } from '../../cluster/index.js';
import { EtcdServer } from '../harness/index.js';

let etcd: EtcdServer;
let client: Etcd3;
let store: ObjectStore;
const parseN = parserOf(object({ n: num }));
const parseV = parserOf(object({ v: num }));

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
    await Promise.all(Array.from({ length: 20 }, () => store.update('/registry/x/a', parseN, (cur) => ({ n: (cur?.n ?? 0) + 1 }), 100)));
    const got = await store.get('/registry/x/a', parseN);
    expect(got && 'obj' in got && got.obj.n).toBe(20);
    await etcd.ctl(['put', '/registry/x/b', '{broken']);
    await etcd.ctl(['put', '/registry/x/c', '{"n":"7"}']);
    const list = await store.list('/registry/x/', parseN);
    expect(list.items.map((i) => i.key)).toEqual(['/registry/x/a']);
    expect(list.corrupt).toEqual([
      { key: '/registry/x/b', reason: expect.stringContaining('not JSON'), modRevision: expect.any(String) },
      { key: '/registry/x/c', reason: 'n must be a number (got "7")', path: 'n', modRevision: expect.any(String) },
    ]);
    expect(await store.get('/registry/x/c', parseN)).toMatchObject({ key: '/registry/x/c', path: 'n' });
    // An update sees a corrupt value as absent and may replace it.
    expect(await store.update('/registry/x/c', parseN, (cur) => (cur ? undefined : { n: 7 }))).toEqual({ n: 7 });
    expect(await store.get('/registry/x/c', parseN)).toMatchObject({ obj: { n: 7 } });
  });

  it('parses a kind: a malformed service is corrupt, naming the key and the field', async () => {
    await store.put('/registry/services/specs/default/ok', { metadata: { name: 'ok' }, spec: { ports: [{ port: 80 }] }, extra: { kept: true } });
    await store.put('/registry/services/specs/default/bad', { metadata: { name: 'bad' }, spec: { ports: [{ port: '80' }] } });
    const l = await store.list('/registry/services/specs/', parseServiceObject);
    expect(l.items.map((i) => i.obj)).toEqual([{ metadata: { name: 'ok' }, spec: { ports: [{ port: 80 }] }, extra: { kept: true } }]);
    expect(l.corrupt).toMatchObject([{ key: '/registry/services/specs/default/bad', path: 'spec.ports[0].port', reason: 'spec.ports[0].port must be a number (got "80")' }]);
  });

  it('commits a transaction whole or not at all', async () => {
    await store.put('/registry/t/svc', { n: 1 });
    const s = await store.get('/registry/t/svc', parseN);
    if (!s || !('obj' in s)) throw new Error('not stored');
    await store.put('/registry/t/taken', { n: 0 });
    // One condition fails (a reservation key exists): neither write is made.
    const lost = await store.txn(
      [{ key: '/registry/t/svc', modRevision: s.modRevision }, { key: '/registry/t/free', absent: true }, { key: '/registry/t/taken', absent: true }],
      [{ put: '/registry/t/svc', value: { n: 2 } }, { put: '/registry/t/free', value: { n: 0 } }],
    );
    expect(lost).toBe(false);
    expect(await store.has('/registry/t/free')).toBe(false);
    expect(await store.get('/registry/t/svc', parseN)).toMatchObject({ obj: { n: 1 } });
    const won = await store.txn(
      [{ key: '/registry/t/svc', modRevision: s.modRevision }, { key: '/registry/t/free', absent: true }],
      [{ put: '/registry/t/svc', value: { n: 2 } }, { put: '/registry/t/free', value: { n: 0 } }, { delete: '/registry/t/taken' }],
    );
    expect(won).toBe(true);
    expect(await store.listKeys('/registry/t/')).toEqual(['/registry/t/free', '/registry/t/svc']);
    // The mod revision moved on: the same compare now fails.
    expect(await store.txn([{ key: '/registry/t/svc', modRevision: s.modRevision }], [{ delete: '/registry/t/svc' }])).toBe(false);
    // A lease condition: true only while the key is bound to that lease.
    const lease = client.lease(30);
    const leaseId = await lease.grant();
    await client.put('/registry/t/leader').value('x').lease(leaseId);
    expect(await store.txn([{ key: '/registry/t/leader', leaseId: '1' }], [{ delete: '/registry/t/free' }])).toBe(false);
    expect(await store.txn([{ key: '/registry/t/leader', leaseId }], [{ delete: '/registry/t/free' }])).toBe(true);
    expect(await store.has('/registry/t/free')).toBe(false);
    await lease.revoke();
  });

  it('watches from a revision, reports corrupt puts, and recovers from compaction with a reset', async () => {
    const { revision } = await store.list('/registry/y/', parseV);
    await store.put('/registry/y/1', { v: 1 });
    await store.put('/registry/y/2', { v: 2 });
    await etcd.ctl(['compact', (await store.list('/registry/y/', parseV)).revision.toString()]);
    const ac = new AbortController();
    const it = store.watch('/registry/y/', parseV, revision + 1n, ac.signal)[Symbol.asyncIterator]();
    try {
      const first = (await it.next()).value as StoreWatchBatch<{ v: number }>;
      expect(first.kind).toBe('reset');
      if (first.kind === 'reset') expect(first.items.map((i) => i.obj.v)).toEqual([1, 2]);
      await store.delete('/registry/y/1');
      const next = (await it.next()).value as StoreWatchBatch<{ v: number }>;
      expect(next).toMatchObject({ kind: 'events', events: [{ type: 'delete', key: '/registry/y/1' }] });
      await store.put('/registry/y/2', { v: 'two' });
      const bad = (await it.next()).value as StoreWatchBatch<{ v: number }>;
      expect(bad).toMatchObject({ kind: 'events', events: [{ type: 'corrupt', corrupt: { key: '/registry/y/2', path: 'v' } }] });
    } finally {
      ac.abort();
      await it.return?.();
    }
  });
});
