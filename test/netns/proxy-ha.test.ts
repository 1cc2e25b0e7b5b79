// The proxy's cluster-wide duties with more than one proxy: ClusterIP and node port allocation raced
// by two proxies (and by many allocators in one process, against a loopback etcd) never hands out a
// number twice; the endpoints maintainer is elected, and another proxy takes over when it is killed
// (after the lease runs out) or stopped (at once).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Endpoints, ObjectStore, type Service } from '../../cluster/index.js';
import { createEtcdClient, silentLogger } from '../../common/index.js';
import { ServiceAllocator, parsePortRange, parseServiceRange, proxyKeys } from '../../proxy/index.js';
import { EtcdServer } from '../harness/index.js';
import { FlannelLab, hasLog, waitFor } from './flannel.js';
import type { Lab, Proc } from './lab.js';
import { endpointsKey, getJson, listJson, putPod, putService, serviceKey, startProxy } from './proxy.js';

let net: FlannelLab;
let lab: Lab;
let etcd: EtcdServer;
let local: EtcdServer | undefined;
const proxies = new Map<string, Proc>();
const TTL = '2s';

const start = (name: string, tag?: string) => proxies.set(name, startProxy(lab.host(name), etcd, { args: [`--leader-elect-lease-duration=${TTL}`, '--healthz-port=0'], ...(tag && { tag }) }));
const holder = async (): Promise<string | undefined> => (await getJson<{ spec: { holderIdentity: string } }>(etcd, proxyKeys.leader()))?.spec.holderIdentity;
const readyIps = async (name: string): Promise<string[]> => {
  const ep = await getJson<Endpoints>(etcd, endpointsKey('default', name));
  return (ep?.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip)).sort();
};

beforeAll(async () => {
  net = await FlannelLab.start({ hosts: ['a', 'b'] });
  ({ lab, etcd } = net);
  start('a');
  start('b');
  await waitFor('a leader', holder, 15_000);
}, 60_000);

afterAll(async () => {
  await local?.destroy();
  await net?.destroy();
});

describe('two proxies', () => {
  it('racing to allocate 100 services at once never hand out a ClusterIP or node port twice', async () => {
    // One etcd transaction creates them all: both proxies see them at the same revision and race.
    const ops = Array.from({ length: 100 }, (_, i) => {
      const svc: Service = { metadata: { name: `r${i}`, namespace: 'race' }, spec: { type: 'NodePort', selector: { app: `r${i}` }, ports: [{ port: 80 }] } };
      return `put ${serviceKey('race', `r${i}`)} ${JSON.stringify(JSON.stringify(svc))}`; // a Go-quoted value
    });
    const txn = `\n${ops.join('\n')}\n\n\n`; // no compares, the puts, no failure ops
    await lab.switch.run(['etcdctl', `--endpoints=${etcd.endpoint}`, 'txn'], { input: txn, env: { ETCDCTL_API: '3' }, timeoutMs: 20_000 });
    const all = await waitFor(
      'every service allocated',
      async () => {
        const m = await listJson<Service>(etcd, '/registry/services/specs/race/');
        return m.size === 100 && [...m.values()].every((s) => s.spec.clusterIP && s.spec.ports[0]!.nodePort) && m;
      },
      30_000,
      200,
    );
    const ips = [...all.values()].map((s) => s.spec.clusterIP!);
    const ports = [...all.values()].map((s) => s.spec.ports[0]!.nodePort!);
    expect(new Set(ips).size).toBe(100);
    expect(new Set(ports).size).toBe(100);
    const keys = await listJson<{ namespace: string; name: string }>(etcd, '/registry/ranges/');
    for (const s of all.values()) {
      expect(keys.get(proxyKeys.serviceIp(s.spec.clusterIP!))).toMatchObject({ namespace: 'race', name: s.metadata.name });
      expect(keys.get(proxyKeys.nodePort(s.spec.ports[0]!.nodePort!))).toMatchObject({ namespace: 'race', name: s.metadata.name });
    }
    const allocs = (p: Proc) => p.stderr().split('\n').filter((l) => l.includes('"msg":"service allocated"')).length;
    console.log(`allocations: a ${allocs(proxies.get('a')!)}, b ${allocs(proxies.get('b')!)} (lost races retry and find the service allocated)`);
    expect(allocs(proxies.get('a')!) + allocs(proxies.get('b')!)).toBe(100);
  });

  it('releases the reservations of deleted services', async () => {
    const svc = await getJson<Service>(etcd, serviceKey('race', 'r0'));
    await etcd.ctl(['del', '--prefix', '/registry/services/specs/race/']);
    await waitFor('the keys to be released', async () => !(await listJson(etcd, '/registry/ranges/')).has(proxyKeys.serviceIp(svc!.spec.clusterIP!)), 15_000, 200);
    expect([...(await listJson(etcd, '/registry/ranges/')).keys()].filter((k) => k.includes('race'))).toEqual([]);
  });

  it('elects one endpoints maintainer; another takes over after it is killed, and at once after it stops', async () => {
    await putService(etcd, 'ha', { selector: { app: 'ha' }, ports: [{ port: 80, targetPort: 8080 }] });
    await putPod(etcd, { name: 'ha1', node: 'a', ip: '10.5.1.10', labels: { app: 'ha' } });
    await waitFor('endpoints', async () => (await readyIps('ha')).length === 1, 10_000);
    const first = (await holder())!;
    const leader = proxies.get(first)!;
    expect(hasLog(leader, 'became leader')).toBe(true);
    const other = first === 'a' ? 'b' : 'a';

    leader.kill('SIGKILL');
    await leader.wait(5_000);
    const t0 = Date.now();
    await putPod(etcd, { name: 'ha2', node: 'b', ip: '10.5.2.10', labels: { app: 'ha' } });
    await waitFor('the other proxy to maintain the endpoints', async () => (await readyIps('ha')).length === 2, 15_000, 100);
    const killedMs = Date.now() - t0;
    expect(await holder()).toBe(other);
    expect(hasLog(proxies.get(other)!, 'became leader')).toBe(true);

    start(first, 'restart');
    await waitFor('the restarted proxy to follow', () => hasLog(proxies.get(first)!, 'following leader'), 15_000);
    const t1 = Date.now();
    proxies.get(other)!.kill('SIGTERM');
    expect(await proxies.get(other)!.wait(10_000)).toMatchObject({ code: 0 });
    await putPod(etcd, { name: 'ha3', node: 'a', ip: '10.5.1.11', labels: { app: 'ha' } });
    await waitFor('the restarted proxy to maintain the endpoints', async () => (await readyIps('ha')).length === 3, 10_000, 50);
    const stoppedMs = Date.now() - t1;
    expect(await holder()).toBe(first);
    console.log(`failover: killed leader ${killedMs} ms (lease ${TTL}), stopped leader ${stoppedMs} ms`);
    expect(stoppedMs).toBeLessThan(killedMs + 2_000);
  });
});

describe('allocators in one process', () => {
  it('never collide: 8 allocators with the same random sequence, 400 services, a /23 of 510 addresses', async () => {
    local = await EtcdServer.start();
    const clients = Array.from({ length: 8 }, () => createEtcdClient({ endpoints: [local!.endpoint] }));
    try {
      const put = clients[0]!;
      for (let i = 0; i < 400; i++) {
        const svc: Service = { metadata: { name: `s${i}`, namespace: 'x' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } };
        await put.put(serviceKey('x', `s${i}`)).value(JSON.stringify(svc));
      }
      // The same seed everywhere: every allocator tries the same candidates first — maximal contention.
      const seeded = () => {
        let x = 42;
        return () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      };
      const allocators = clients.map((c) => new ServiceAllocator(new ObjectStore(c), { serviceRange: parseServiceRange('10.254.0.0/23'), nodePortRange: parsePortRange('30000-30999'), log: silentLogger, rnd: seeded(), maxAttempts: 100 }));
      // Each starts at a different service, so they contend for the same IPs and ports for different
      // services (reservation keys collide) as well as for the same services (service CAS collides).
      const results = await Promise.all(allocators.map(async (a, j) => {
        const out = { allocated: 0, unchanged: 0 };
        for (let k = 0; k < 400; k++) out[(await a.allocate('x', `s${(k + j * 50) % 400}`)) === 'allocated' ? 'allocated' : 'unchanged']++;
        return out;
      }));
      const res = await put.getAll().prefix(serviceKey('x', '')).strings();
      const svcs = Object.values(res).map((v) => JSON.parse(v) as Service);
      expect(svcs).toHaveLength(400);
      expect(new Set(svcs.map((s) => s.spec.clusterIP)).size).toBe(400);
      expect(new Set(svcs.map((s) => s.spec.ports[0]!.nodePort)).size).toBe(400);
      expect(results.reduce((n, r) => n + r.allocated, 0)).toBe(400);
      console.log(`in-process race: allocations per allocator ${JSON.stringify(results.map((r) => r.allocated))}`);
    } finally {
      for (const c of clients) c.close();
    }
  }, 120_000);
});
