// The endpoints maintainer against a real etcd, through the ObjectStore's parsers: a Service or Pod
// that turns malformed counts as absent (as in a listing), and a malformed Endpoints is rewritten.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient, silentLogger } from '../../common/index.js';
import { ObjectStore, keys, parseJsonObject } from '../../cluster/index.js';
import { EndpointsController, etcdFencedWriter } from '../../proxy/index.js';
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

const svc = { metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } };
const pod = (name: string, ip: string) => ({
  metadata: { name, namespace: 'default', labels: { app: 'web' } },
  spec: { nodeName: 'a', containers: [{ name: 'c', image: 'busybox' }] },
  status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] },
});

/** The Endpoints' ready IPs, once `ok` holds for them (bounded). */
async function ips(ok: (ips: string[] | undefined) => boolean): Promise<string[] | undefined> {
  let last: string[] | undefined;
  for (let i = 0; i < 100; i++) {
    const s = await store.get(keys.endpoints('default', 'web'), parseJsonObject);
    const subsets = s && 'obj' in s && Array.isArray(s.obj.subsets) ? (s.obj.subsets as { addresses?: { ip: string }[] }[]) : undefined;
    last = s && 'obj' in s ? (subsets ?? []).flatMap((x) => (x.addresses ?? []).map((a) => a.ip)).sort() : undefined;
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`endpoints never as expected; last ${JSON.stringify(last)}`);
}

describe('endpoints maintainer with malformed objects', () => {
  it('drops a malformed pod, rewrites a malformed Endpoints, and deletes the Endpoints of a malformed service', async () => {
    const lease = client.lease(30);
    const leaseId = await lease.grant();
    await client.put('/registry/leases/test').value('me').lease(leaseId);
    await store.put(keys.service('default', 'web'), svc);
    await store.put(keys.pod('default', 'p1'), pod('p1', '10.5.1.2'));
    await store.put(keys.pod('default', 'p2'), pod('p2', '10.5.1.3'));
    const ac = new AbortController();
    const controller = new EndpointsController(store, { log: silentLogger, minIntervalMs: 10, resyncMs: 60_000 });
    const running = controller.run(ac.signal, etcdFencedWriter(store, { key: '/registry/leases/test', leaseId }));
    try {
      expect(await ips((x) => x?.length === 2)).toEqual(['10.5.1.2', '10.5.1.3']);
      // A pod whose labels are no longer strings is no pod.
      await store.put(keys.pod('default', 'p2'), { ...pod('p2', '10.5.1.3'), metadata: { name: 'p2', namespace: 'default', labels: { app: 7 } } });
      expect(await ips((x) => x?.length === 1)).toEqual(['10.5.1.2']);
      // A malformed Endpoints is rewritten from the service and its pods.
      await store.put(keys.endpoints('default', 'web'), { metadata: { name: 'web' }, subsets: [{ addresses: [{ nodeName: 'x' }] }] });
      expect(await ips((x) => x?.[0] === '10.5.1.2')).toEqual(['10.5.1.2']);
      // A service whose ports are not a list counts as deleted: its Endpoints go.
      await store.put(keys.service('default', 'web'), { ...svc, spec: { ...svc.spec, ports: { port: 80 } } });
      expect(await ips((x) => x === undefined)).toBeUndefined();
    } finally {
      ac.abort();
      await running.catch(() => undefined);
      await lease.revoke();
    }
  });
});
