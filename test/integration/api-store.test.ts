// The cluster store on the Kubernetes API, against a real etcd and the real kube-apiserver (from
// dist/): the same interface as on etcd (get, list, create, update, delete, watch), the keys mapped to
// API paths, conflicts retried, corrupt objects reported like the etcd store reports them, and a
// watch that misses nothing when the apiserver restarts under it or its revision is compacted away.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, ApiStatusError, ApiStore, ApiUnreachableError, keys, loadKubeconfig, ObjectStore, parseJsonObject, parseNodeObject, parseServiceObject, type StoreWatchBatch } from '../../cluster/index.js';
import { createEtcdClient, silentLogger } from '../../common/index.js';
import { LeaseElection } from '../../proxy/index.js';
import { ApiServerProc, EtcdServer } from '../harness/index.js';

let etcd: EtcdServer;
let etcdClient: Etcd3;
let raw: ObjectStore;
let srv: ApiServerProc;
let dir: string;
let client: ApiClient;
let store: ApiStore;

const pod = (name: string, node: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels },
  spec: { nodeName: node, containers: [{ name: 'c', image: 'busybox' }] },
});

beforeAll(async () => {
  etcd = await EtcdServer.start();
  etcdClient = createEtcdClient({ endpoints: [etcd.endpoint] });
  raw = new ObjectStore(etcdClient);
  dir = await mkdtemp(path.join(tmpdir(), 'apistore-'));
  srv = await ApiServerProc.start(etcd.endpoint, dir);
  client = new ApiClient(await loadKubeconfig(srv.kubeconfig), { retryMinMs: 50, retryMaxMs: 200 });
  store = new ApiStore(client, { watchAttempts: 60 });
}, 60_000);
afterAll(async () => {
  client?.close();
  await srv?.stop();
  etcdClient?.close();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('API store', () => {
  it('creates, gets, lists (paged, field-selected), updates under contention and through status, deletes with a uid precondition', async () => {
    expect(await store.create(keys.pod('default', 'p1'), pod('p1', 'a'))).toBe(true);
    expect(await store.create(keys.pod('default', 'p1'), pod('p1', 'b'))).toBe(false);
    for (const [n, node] of [['p2', 'a'], ['p3', 'b']] as const) expect(await store.create(keys.pod('default', n), pod(n, node))).toBe(true);
    const got = await store.get(keys.pod('default', 'p1'), parseJsonObject);
    expect(got && 'obj' in got && got.key).toBe('/registry/pods/default/p1');
    expect(got && 'obj' in got && got.modRevision).toMatch(/^\d+$/);
    expect(await store.get(keys.pod('default', 'nope'), parseJsonObject)).toBeUndefined();

    const paged = new ApiStore(client, { pageSize: 1 });
    const all = await paged.list(keys.pods(), parseJsonObject);
    expect(all.items.map((i) => i.key).sort()).toEqual(['/registry/pods/default/p1', '/registry/pods/default/p2', '/registry/pods/default/p3']);
    expect(all.revision).toBeGreaterThan(0n);
    const onA = await store.list(keys.pods(), parseJsonObject, { fieldSelector: 'spec.nodeName=a' });
    expect(onA.items.map((i) => i.key).sort()).toEqual(['/registry/pods/default/p1', '/registry/pods/default/p2']);

    // Concurrent read-modify-writes: each 409 is read again, none is lost.
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        store.update(keys.pod('default', 'p1'), parseJsonObject, (cur) => cur && { ...cur, metadata: { ...(cur.metadata as object), labels: { ...((cur.metadata as { labels?: object }).labels ?? {}), [`l${i}`]: 'x' } } }, 50),
      ),
    );
    const labelled = await store.get(keys.pod('default', 'p1'), parseJsonObject);
    expect(Object.keys((labelled as unknown as { obj: { metadata: { labels: object } } }).obj.metadata.labels).sort()).toEqual(['l0', 'l1', 'l2', 'l3', 'l4', 'l5', 'l6', 'l7']);
    // A stale resourceVersion is a 409 Conflict from the server, named by its URL.
    const stale = { ...pod('p1', 'a'), metadata: { ...pod('p1', 'a').metadata, resourceVersion: (got as { modRevision: string }).modRevision } };
    const err = await client.request('PUT', '/api/v1/namespaces/default/pods/p1', { body: stale }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiStatusError);
    expect(err).toMatchObject({ status: 409, reason: 'Conflict', url: expect.stringContaining('/api/v1/namespaces/default/pods/p1') });

    // A status change goes through pods/<p>/status.
    await store.update(keys.pod('default', 'p1'), parseJsonObject, (cur) => cur && { ...cur, status: { phase: 'Running', podIP: '10.5.1.2' } });
    const running = (await client.request('GET', '/api/v1/namespaces/default/pods/p1')) as { status: { phase: string; podIP: string } };
    expect(running.status).toMatchObject({ phase: 'Running', podIP: '10.5.1.2' });

    // A node created with its status (create, then nodes/<n>/status), then updated.
    const node = { apiVersion: 'v1' as const, kind: 'Node' as const, metadata: { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1' } }, spec: { podCIDR: '10.5.1.0/24' }, status: { conditions: [{ type: 'Ready', status: 'True' as const }] } };
    await store.update(keys.node('n1'), parseNodeObject, (cur) => (cur ? undefined : node));
    const n1 = await store.get(keys.node('n1'), parseNodeObject);
    expect(n1 && 'obj' in n1 && n1.obj.status?.conditions).toEqual([{ type: 'Ready', status: 'True' }]);
    expect(n1 && 'obj' in n1 && n1.obj.spec?.podCIDR).toBe('10.5.1.0/24');

    // Deletion: immediate (no grace period), only of the uid asked for.
    const uid = (got as unknown as { obj: { metadata: { uid: string } } }).obj.metadata.uid;
    await store.delete(keys.pod('default', 'p1'), { uid: 'not-this-one' });
    expect(await store.get(keys.pod('default', 'p1'), parseJsonObject)).toBeDefined();
    await store.delete(keys.pod('default', 'p1'), { uid });
    expect(await store.get(keys.pod('default', 'p1'), parseJsonObject)).toBeUndefined();
    await store.delete(keys.pod('default', 'p1')); // gone already: no error
  });

  it('reports an object its parser refuses as corrupt, with its key and field path, as the etcd store does', async () => {
    await raw.put(keys.service('default', 'bad'), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'bad', namespace: 'default', uid: 'u-bad', creationTimestamp: '2024-01-01T00:00:00Z' }, spec: { ports: [{ port: '80' }] } });
    const l = await store.list(keys.services('default'), parseServiceObject);
    const viaEtcd = await raw.list(keys.services('default'), parseServiceObject);
    const bad = l.corrupt.find((c) => c.key === keys.service('default', 'bad'));
    expect(bad).toMatchObject({ key: '/registry/services/specs/default/bad', path: 'spec.ports[0].port', reason: expect.stringContaining('must be a number') });
    expect(bad?.reason).toBe(viaEtcd.corrupt.find((c) => c.key === keys.service('default', 'bad'))?.reason);
    expect(await store.get(keys.service('default', 'bad'), parseServiceObject)).toMatchObject({ key: '/registry/services/specs/default/bad', path: 'spec.ports[0].port' });
    await raw.delete(keys.service('default', 'bad'));
  });

  it('a watch misses nothing across an apiserver restart, and lists again (reset) when its revision was compacted', async () => {
    const { revision } = await store.list(keys.pods(), parseJsonObject);
    const ac = new AbortController();
    const batches: StoreWatchBatch<Record<string, unknown>>[] = [];
    const it = store.watch(keys.pods(), parseJsonObject, revision + 1n, ac.signal)[Symbol.asyncIterator]();
    const seen = (): string[] => batches.flatMap((b) => (b.kind === 'events' ? b.events.map((e) => (e.type === 'put' ? `put ${e.item.key}` : e.type === 'delete' ? `delete ${e.key}` : `corrupt ${e.corrupt.key}`)) : [`reset ${b.items.length}`]));
    const pump = (async () => {
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        batches.push(r.value);
      }
    })();
    const until = async (pred: () => boolean, what: string) => {
      for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 50));
      if (!pred()) throw new Error(`never saw ${what}; saw ${JSON.stringify(seen())}`);
    };
    try {
      await store.create(keys.pod('default', 'w1'), pod('w1', 'a'));
      await until(() => seen().includes('put /registry/pods/default/w1'), 'w1');
      // The apiserver goes away; changes made meanwhile (straight into etcd) must arrive once it is back.
      await srv.stop();
      const down = await raw.get(keys.pod('default', 'w1'), parseJsonObject);
      await raw.put(keys.pod('default', 'w2'), { ...pod('w2', 'b'), metadata: { ...pod('w2', 'b').metadata, uid: 'u-w2', creationTimestamp: '2024-01-01T00:00:00Z' } });
      await raw.delete(keys.pod('default', 'p2'));
      expect(down).toBeDefined();
      srv = await ApiServerProc.start(etcd.endpoint, dir, [], srv.port);
      await until(() => seen().includes('put /registry/pods/default/w2') && seen().includes('delete /registry/pods/default/p2'), 'the changes made while the apiserver was down');
      expect(seen().filter((s) => s.startsWith('reset'))).toEqual([]);
    } finally {
      ac.abort();
      await pump.catch(() => undefined);
    }

    // A watch from a compacted revision: 410 Gone, answered by a fresh listing.
    const { revision: old } = await store.list(keys.pods(), parseJsonObject);
    await raw.put(keys.pod('default', 'w2'), { ...pod('w2', 'b'), metadata: { ...pod('w2', 'b').metadata, uid: 'u-w2', creationTimestamp: '2024-01-01T00:00:00Z', labels: { v: '2' } } });
    const { revision: now } = await raw.list('/registry/pods/', parseJsonObject);
    await etcd.ctl(['compact', now.toString()]);
    const ac2 = new AbortController();
    try {
      const first = await store.watch(keys.pods(), parseJsonObject, old, ac2.signal)[Symbol.asyncIterator]().next();
      expect(first.value).toMatchObject({ kind: 'reset' });
      const items = (first.value as Extract<StoreWatchBatch<unknown>, { kind: 'reset' }>).items.map((i) => i.key).sort();
      expect(items).toEqual(['/registry/pods/default/p3', '/registry/pods/default/w1', '/registry/pods/default/w2']);
    } finally {
      ac2.abort();
    }
  });

  it('several servers: the first that answers is used; none answering is ApiUnreachableError naming the URL', async () => {
    const conn = await loadKubeconfig(srv.kubeconfig);
    const two = new ApiClient({ ...conn, servers: ['https://127.0.0.1:1', srv.url] }, { retryMinMs: 10, retryMaxMs: 20 });
    try {
      expect(await new ApiStore(two).get(keys.pod('default', 'w1'), parseJsonObject)).toMatchObject({ key: '/registry/pods/default/w1' });
      expect(two.server).toBe(srv.url);
    } finally {
      two.close();
    }
    const none = new ApiClient({ servers: ['http://127.0.0.1:1'] }, { retryMinMs: 10, retryMaxMs: 20 });
    const e = await none.request('GET', '/api/v1/pods').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApiUnreachableError);
    expect((e as Error).message).toContain('http://127.0.0.1:1/api/v1/pods');
    none.close();
  });

  it('elects one endpoints maintainer through the API; a leader that shuts down hands over at once', async () => {
    const lead = (name: string, events: string[]) => async (signal: AbortSignal) => {
      events.push(`${name} leads`);
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      events.push(`${name} stops`);
    };
    const events: string[] = [];
    const ac1 = new AbortController();
    const ac2 = new AbortController();
    const e1 = new LeaseElection(store, { identity: 'one', ttlSec: 9, log: silentLogger });
    const e2 = new LeaseElection(store, { identity: 'two', ttlSec: 9, log: silentLogger });
    const r1 = e1.run(ac1.signal, lead('one', events));
    const until = async (pred: () => boolean, what: string) => {
      for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 50));
      if (!pred()) throw new Error(`never ${what}; events ${JSON.stringify(events)}`);
    };
    await until(() => e1.isLeader, 'one leading');
    const r2 = e2.run(ac2.signal, lead('two', events));
    try {
      await new Promise((r) => setTimeout(r, 1_500));
      expect(e2.isLeader).toBe(false);
      // Two polls every 3 s; without the release on shutdown it would wait out the 9 s TTL.
      ac1.abort();
      await r1;
      const t0 = Date.now();
      await until(() => e2.isLeader, 'two leading after one shut down');
      expect(Date.now() - t0).toBeLessThan(8_000);
      expect(events).toEqual(['one leads', 'one stops', 'two leads']);
    } finally {
      ac1.abort();
      ac2.abort();
      await r2;
    }
  });
});
