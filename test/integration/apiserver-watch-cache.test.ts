// The watch cache and the namespace cache against a real etcd and the built apiserver: watches from
// revisions inside the cache's window and from before it (read from etcd) see exactly the events after
// their revision, in order, once each, across the hand-over from history to live events; a namespace
// created through another apiserver is admitted at once (the cache misses, the live read finds it).
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdClient } from '../../common/index.js';
import { ApiServerProc, EtcdServer } from '../harness/index.js';

let dir: string;
let etcd: EtcdServer;
let srv: ApiServerProc;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'apiwc-'));
  etcd = await EtcdServer.start();
  srv = await ApiServerProc.start(etcd.endpoint, dir, []);
});

afterAll(async () => {
  await srv?.stop();
  await etcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Ev {
  type: string;
  object: { metadata: { name?: string; resourceVersion: string }; data?: Record<string, string> };
}
const events = (text: string): Ev[] =>
  text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Ev);

const rvOf = (j: unknown): string => (j as { metadata: { resourceVersion: string } }).metadata.resourceVersion;

describe('the watch cache', () => {
  it('serves watches from revisions in its window: the events after each, in order, once, across history and live', async () => {
    const cm = await srv.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'wc' }, data: { i: '0' } });
    expect(cm.status).toBe(201);
    const rvs = [rvOf(cm.json)];
    const patch = async (i: number): Promise<void> => {
      const r = await srv.request('PATCH', '/api/v1/namespaces/default/configmaps/wc', { data: { i: String(i) } }, srv.admin, { 'Content-Type': 'application/merge-patch+json' });
      expect(r.status).toBe(200);
      rvs.push(rvOf(r.json));
    };
    for (let i = 1; i <= 20; i++) await patch(i);
    // Three watches from the past (history from the cache, then live), one with a selector that matches nothing.
    const froms = [rvs[0]!, rvs[10]!, rvs[20]!];
    const watches = froms.map((rv) => srv.request('GET', `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}&timeoutSeconds=4`));
    const none = srv.request('GET', `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rvs[0]!}&labelSelector=app%3Dnone&timeoutSeconds=4`);
    const other = srv.request('GET', `/api/v1/namespaces/kube-system/configmaps?watch=true&resourceVersion=${rvs[0]!}&timeoutSeconds=4`);
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 21; i <= 30; i++) await patch(i);
    const got = await Promise.all(watches);
    froms.forEach((from, k) => {
      const want = rvs.filter((rv) => BigInt(rv) > BigInt(from));
      const evs = events(got[k]!.text);
      expect(evs.map((e) => e.object.metadata.resourceVersion)).toEqual(want);
      expect(new Set(evs.map((e) => e.type))).toEqual(new Set(['MODIFIED']));
      expect(evs.at(-1)!.object.data).toEqual({ i: '30' });
    });
    expect(events((await none).text)).toEqual([]);
    expect(events((await other).text)).toEqual([]);
  });

  it('reads etcd for a watch from before its window, and still serves one from inside it', async () => {
    const created = await srv.request('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'many' }, data: { i: '0' } });
    const from = rvOf(created.json);
    const stored = JSON.parse((await etcd.ctl(['get', '--print-value-only', '/registry/configmaps/default/many'])).trim()) as { data: Record<string, string> };
    // 1,100 changes straight into etcd (the window keeps 1,000): the first ones leave the window.
    const client = createEtcdClient({ endpoints: [etcd.endpoint] });
    const revs: string[] = [];
    try {
      for (let i = 1; i <= 1100; i++) {
        const r = await client.put('/registry/configmaps/default/many').value(JSON.stringify({ ...stored, data: { i: String(i) } })).exec();
        revs.push(r.header.revision);
      }
    } finally {
      client.close();
    }
    const [old, recent] = await Promise.all([
      srv.request('GET', `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${from}&fieldSelector=metadata.name%3Dmany&timeoutSeconds=3`),
      srv.request('GET', `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${revs[1094]!}&fieldSelector=metadata.name%3Dmany&timeoutSeconds=3`),
    ]);
    const oldEvs = events(old.text);
    expect(oldEvs).toHaveLength(1100);
    expect(oldEvs.map((e) => e.object.metadata.resourceVersion)).toEqual(revs);
    expect(oldEvs.map((e) => e.object.data!.i)).toEqual(revs.map((_, i) => String(i + 1)));
    expect(events(recent.text).map((e) => e.object.metadata.resourceVersion)).toEqual(revs.slice(1095));
  });
});

describe('NamespaceLifecycle from the namespace cache', () => {
  it('admits a namespace created a moment ago through another apiserver, and refuses objects in one terminating', async () => {
    const d2 = path.join(dir, 'second');
    await mkdir(d2, { recursive: true });
    const second = await ApiServerProc.start(etcd.endpoint, d2, []);
    try {
      for (let i = 0; i < 3; i++) {
        expect((await srv.request('POST', '/api/v1/namespaces', { metadata: { name: `fresh-${i}` } })).status).toBe(201);
        expect((await second.request('POST', `/api/v1/namespaces/fresh-${i}/configmaps`, { metadata: { name: 'c' } })).status).toBe(201);
      }
      expect((await second.request('POST', '/api/v1/namespaces/never/configmaps', { metadata: { name: 'c' } })).json).toMatchObject({ code: 404, reason: 'NotFound' });
      // A pod on a node keeps the namespace Terminating (until a kubelet finishes it).
      const pod = { metadata: { name: 'slow' }, spec: { nodeName: 'node9', containers: [{ name: 'c', image: 'busybox' }] } };
      expect((await second.request('POST', '/api/v1/namespaces/fresh-0/pods', pod)).status).toBe(201);
      expect((await second.request('DELETE', '/api/v1/namespaces/fresh-0')).json).toMatchObject({ status: { phase: 'Terminating' } });
      expect((await second.request('POST', '/api/v1/namespaces/fresh-0/configmaps', { metadata: { name: 'late' } })).json).toMatchObject({ code: 403, reason: 'Forbidden' });
    } finally {
      await second.stop();
    }
  });
});
