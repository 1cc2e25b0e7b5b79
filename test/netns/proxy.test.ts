// The service proxy end to end on two hosts running flanneld (vxlan) and kube-proxy: pods on both
// hosts behind services, reached by ClusterIP from a pod, by node port from the underlay, with
// session affinity, hairpin, rejection without endpoints, endpoints following pod readiness and
// deletion, and UDP flows moved off a departed endpoint by deleting their conntrack entries.
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Endpoints, Service } from '../../cluster/index.js';
import type { EtcdServer } from '../harness/index.js';
import { FlannelLab, hasLog, networkConfig, waitFor } from './flannel.js';
import { type Lab, startTcpEcho, tcpProbe, type Host, type Pod, type Proc } from './lab.js';
import {
  connectMany,
  endpointsKey,
  getJson,
  hairpinOn,
  listJson,
  nftElements,
  putPod,
  putService,
  serviceKey,
  startProxy,
  startUdpEcho,
  udpOnce,
  type PodSpecLite,
} from './proxy.js';

let net: FlannelLab;
let lab: Lab;
let etcd: EtcdServer;
const proxies = new Map<string, Proc>();
const pods = new Map<string, Pod>();
const podSpecs = new Map<string, PodSpecLite>();
let client: Pod;
let clientB: Pod;

const HTTP = 8080;
const DNS = 5353;
const PORTS = [
  { name: 'http', containerPort: HTTP },
  { name: 'dns', containerPort: DNS, protocol: 'UDP' as const },
];

async function backend(h: Host, name: string, labels: Record<string, string>): Promise<void> {
  const p = await net.addPod(h, name);
  await hairpinOn(p);
  await startTcpEcho(p, { port: HTTP, label: name });
  await startUdpEcho(p, DNS, name);
  pods.set(name, p);
  const spec = { name, node: h.name, ip: p.ip, labels, ports: PORTS };
  podSpecs.set(name, spec);
  await putPod(etcd, spec);
}

const clusterIP = async (name: string): Promise<string> =>
  waitFor(`${name} to get a ClusterIP`, async () => (await getJson<Service>(etcd, serviceKey('default', name)))?.spec.clusterIP || undefined, 15_000);
const readyIps = async (name: string): Promise<string[]> => {
  const ep = await getJson<Endpoints>(etcd, endpointsKey('default', name));
  return (ep?.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip)).sort();
};
const ipsOf = (...names: string[]) => names.map((n) => pods.get(n)!.ip).sort();
async function restoreWeb(): Promise<void> {
  await putPod(etcd, podSpecs.get('wb1')!);
  await putPod(etcd, podSpecs.get('wb2')!);
  await waitFor('web back to three', async () => (await readyIps('web')).length === 3, 10_000);
}

beforeAll(async () => {
  net = await FlannelLab.start({ hosts: ['a', 'b'], config: networkConfig('vxlan') });
  ({ lab, etcd } = net);
  // web: one pod on a, two on b; dns answers from w-b1 only at first; self selects w-a1 alone (hairpin).
  await backend(lab.host('a'), 'wa1', { app: 'web', self: 'yes' });
  await backend(lab.host('b'), 'wb1', { app: 'web', dns: 'yes' });
  await backend(lab.host('b'), 'wb2', { app: 'web' });
  client = await net.addPod(lab.host('a'), 'cl');
  clientB = await net.addPod(lab.host('b'), 'cl');
  await putService(etcd, 'web', { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] });
  await putService(etcd, 'webnp', { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, targetPort: HTTP, nodePort: 30080 }] });
  await putService(etcd, 'sticky', { selector: { app: 'web' }, sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } }, ports: [{ port: 80, targetPort: 'http' }] });
  await putService(etcd, 'self', { selector: { self: 'yes' }, ports: [{ port: 80, targetPort: HTTP }] });
  await putService(etcd, 'empty', { type: 'NodePort', selector: { app: 'nothing' }, ports: [{ port: 80, targetPort: HTTP }] });
  await putService(etcd, 'dns', { type: 'NodePort', selector: { dns: 'yes' }, ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' }] });
  for (const h of lab.hosts) proxies.set(h.name, startProxy(h, etcd, { args: ['--cluster-cidr=10.5.0.0/16', '--leader-elect-lease-duration=3s', '--sync-period=10s'] }));
  for (const name of ['web', 'webnp', 'sticky', 'self', 'empty', 'dns']) await clusterIP(name);
  await waitFor('web endpoints', async () => (await readyIps('web')).length === 3, 15_000);
  for (const p of proxies.values()) await waitFor('rules synced', () => hasLog(p, 'rules synced'), 15_000);
}, 120_000);

afterAll(async () => {
  await net?.destroy();
});

describe('kube-proxy', () => {
  it('allocates ClusterIPs and node ports, and one maintainer writes the endpoints of ready pods', async () => {
    const ips = await Promise.all(['web', 'webnp', 'sticky', 'self', 'empty', 'dns'].map(clusterIP));
    expect(new Set(ips).size).toBe(6);
    for (const ip of ips) expect(ip).toMatch(/^10\.254\.\d+\.\d+$/);
    const empty = await getJson<Service>(etcd, serviceKey('default', 'empty'));
    expect(empty!.spec.ports[0]!.nodePort).toBeGreaterThanOrEqual(30000);
    expect(empty!.spec.ports[0]!.nodePort).toBeLessThanOrEqual(32767);
    // The explicit node port is reserved by the maintainer; the allocated ones with their services.
    const reservations = await waitFor('the explicit node port to be reserved', async () => {
      const r = await listJson<{ namespace: string; name: string }>(etcd, '/registry/ranges/');
      return r.has('/registry/ranges/servicenodeports/30080') && r;
    });
    expect([...reservations.keys()].filter((k) => k.includes('/serviceips/'))).toHaveLength(6);
    expect(reservations.get('/registry/ranges/servicenodeports/30080')).toMatchObject({ namespace: 'default', name: 'webnp' });
    expect(reservations.get(`/registry/ranges/servicenodeports/${empty!.spec.ports[0]!.nodePort}`)).toMatchObject({ namespace: 'default', name: 'empty' });
    const ep = await getJson<Endpoints>(etcd, endpointsKey('default', 'web'));
    expect(ep!.subsets).toEqual([{ addresses: expect.any(Array), ports: [{ name: 'http', port: HTTP, protocol: 'TCP' }] }]);
    expect(await readyIps('web')).toEqual(ipsOf('wa1', 'wb1', 'wb2'));
    expect((await getJson<Endpoints>(etcd, endpointsKey('default', 'dns')))!.subsets![0]!.ports).toEqual([{ name: 'dns', port: DNS, protocol: 'UDP' }]);
    const leaders = [...proxies.values()].filter((p) => hasLog(p, 'became leader'));
    expect(leaders).toHaveLength(1);
  });

  it('reaches pods on both hosts from a pod through the ClusterIP, spread across them', async () => {
    const ip = await clusterIP('web');
    const r = await connectMany(client, ip, 80, 150);
    expect(r.errors).toEqual({});
    expect(Object.keys(r.counts).sort()).toEqual(['wa1', 'wb1', 'wb2']);
    for (const n of Object.values(r.counts)) expect(n).toBeGreaterThanOrEqual(25); // 50 expected each
    console.log(`ClusterIP spread over 150 connections: ${JSON.stringify(r.counts)}`);
  });

  it('serves the node port on every node from the underlay, and from the node itself', async () => {
    for (const h of lab.hosts) {
      const r = await connectMany(lab.switch, h.ip, 30080, 60);
      expect(r.errors).toEqual({});
      expect(Object.keys(r.counts).sort()).toEqual(['wa1', 'wb1', 'wb2']);
    }
    const fromB = await connectMany(lab.host('b'), lab.host('a').ip, 30080, 30);
    expect(fromB.errors).toEqual({});
    const own = await connectMany(lab.host('a'), lab.host('a').ip, 30080, 30);
    expect(own.errors).toEqual({});
    expect(Object.keys(own.counts).length).toBeGreaterThanOrEqual(2);
  });

  it('the node reaches ClusterIPs itself', async () => {
    const r = await connectMany(lab.host('a'), await clusterIP('web'), 80, 30);
    expect(r.errors).toEqual({});
    expect(Object.keys(r.counts).length).toBeGreaterThanOrEqual(2);
  });

  it('keeps a client on one pod with sessionAffinity ClientIP', async () => {
    const ip = await clusterIP('sticky');
    for (const from of [client, clientB, lab.host('b')]) {
      const r = await connectMany(from, ip, 80, 30, { conc: 1 });
      expect(r.errors).toEqual({});
      expect(Object.keys(r.counts)).toHaveLength(1);
    }
    const set = (await nftElements(lab.host('a'), 'affinity-0')).length + (await nftElements(lab.host('a'), 'affinity-1')).length + (await nftElements(lab.host('a'), 'affinity-2')).length;
    expect(set).toBeGreaterThanOrEqual(1);
  });

  it('lets a pod reach itself through its service (hairpin, masqueraded)', async () => {
    const ip = await clusterIP('self');
    const r = await connectMany(pods.get('wa1')!, ip, 80, 10);
    expect(r).toMatchObject({ counts: { wa1: 10 }, errors: {} });
  });

  it('refuses connections at once to a service without endpoints, by ClusterIP and node port', async () => {
    const ip = await clusterIP('empty');
    const np = (await getJson<Service>(etcd, serviceKey('default', 'empty')))!.spec.ports[0]!.nodePort!;
    const r = await connectMany(client, ip, 80, 5, { timeoutMs: 2_000 });
    expect(r).toMatchObject({ counts: {}, errors: { ECONNREFUSED: 5 } });
    const n = await connectMany(lab.switch, lab.host('b').ip, np, 5, { timeoutMs: 2_000 });
    expect(n).toMatchObject({ counts: {}, errors: { ECONNREFUSED: 5 } });
    const one = await tcpProbe(client, ip, 80, { timeoutMs: 2_000 });
    expect(one.error).toBe('ECONNREFUSED');
    expect(one.ms).toBeLessThan(1_000); // timed inside the client: a reject answers at once, a dropped SYN would take the full 2 s
  });

  it('drops a pod from the endpoints when it turns unready or is deleted, within a second or so', async () => {
    const ip = await clusterIP('web');
    const a = lab.host('a');
    const wb2 = pods.get('wb2')!;
    onTestFinished(restoreWeb); // also when an expectation fails, so the next test starts from three pods
    const t0 = Date.now();
    await putPod(etcd, { ...podSpecs.get('wb2')!, ready: false });
    await waitFor('wb2 out of the rules on a', async () => !(await nftElements(a, 'endpoints-tcp')).some((e) => e.includes(`"${wb2.ip}"`)), 10_000, 50);
    const unreadyMs = Date.now() - t0;
    expect(await readyIps('web')).toEqual(ipsOf('wa1', 'wb1'));
    const r = await connectMany(client, ip, 80, 40);
    expect(r.errors).toEqual({});
    expect(Object.keys(r.counts).sort()).toEqual(['wa1', 'wb1']);

    const t1 = Date.now();
    await etcd.ctl(['del', `/registry/pods/default/wb1`]);
    // The client sits on a: both proxies must have dropped wb1, not just the first to notice.
    for (const h of lab.hosts) {
      await waitFor(`wb1 out of the rules on ${h.name}`, async () => !(await nftElements(h, 'endpoints-tcp')).some((e) => e.includes(`"${pods.get('wb1')!.ip}"`)), 10_000, 50);
    }
    const deletedMs = Date.now() - t1;
    const r2 = await connectMany(client, ip, 80, 20);
    expect(r2).toMatchObject({ counts: { wa1: 20 }, errors: {} });
    console.log(`pod unready -> out of the rules: ${unreadyMs} ms; pod deleted -> out of the rules: ${deletedMs} ms`);
    // About half a second on an idle machine; the bound leaves room for a loaded CI runner.
    expect(unreadyMs).toBeLessThan(5_000);
    expect(deletedMs).toBeLessThan(5_000);
  });

  it('moves a UDP flow off an endpoint that left by deleting its conntrack entry', async () => {
    onTestFinished(restoreWeb);
    const ip = await clusterIP('dns');
    const sport = 40_053;
    const a = lab.host('a');
    // (The previous test deleted and restored wb1: wait until it is back in the UDP rules.)
    await waitFor('wb1 in the UDP rules on a', async () => (await nftElements(a, 'endpoints-udp')).some((e) => e.includes(`"${pods.get('wb1')!.ip}"`)), 10_000, 50);
    expect(await udpOnce(client, ip, 53, sport)).toBe('wb1:ping');
    expect(await udpOnce(client, ip, 53, sport)).toBe('wb1:ping'); // one conntrack flow
    const np = (await getJson<Service>(etcd, serviceKey('default', 'dns')))!.spec.ports[0]!.nodePort!;
    expect(await udpOnce(lab.switch, a.ip, np, 40_153)).toBe('wb1:ping'); // UDP node port from the underlay
    const flow = await a.run(['conntrack', '-L', '-p', 'udp', '--orig-dst', ip]);
    expect(flow).toContain(`src=${pods.get('wb1')!.ip}`);
    // wb1 (still running!) leaves the service, wb2 joins: the same flow must now reach wb2.
    await putPod(etcd, { ...podSpecs.get('wb2')!, labels: { ...podSpecs.get('wb2')!.labels, dns: 'yes' } });
    await putPod(etcd, { ...podSpecs.get('wb1')!, labels: { app: 'web' } });
    await waitFor('dns endpoints = wb2', async () => JSON.stringify(await readyIps('dns')) === JSON.stringify(ipsOf('wb2')), 10_000);
    await waitFor('wb1 out of the UDP rules on a', async () => !(await nftElements(a, 'endpoints-udp')).some((e) => e.includes(`"${pods.get('wb1')!.ip}"`)), 10_000, 50);
    await waitFor('the flow to reach wb2', async () => (await udpOnce(client, ip, 53, sport, 1_000)) === 'wb2:ping', 10_000, 200);
    const after = await a.run(['conntrack', '-L', '-p', 'udp', '--orig-dst', ip]);
    expect(after).not.toContain(`src=${pods.get('wb1')!.ip}`);
  });

  it('keeps to its own table: other tables are untouched, and healthz answers', async () => {
    const a = lab.host('a');
    const tables = (await a.run(['nft', 'list', 'tables'])).trim().split('\n');
    expect(tables).toContain('table ip kube-proxy');
    const h = JSON.parse((await a.run(['curl', '-s', 'http://127.0.0.1:10256/healthz'])) || '{}') as { lastUpdated?: string; syncs?: number };
    expect(h.lastUpdated).toBeTruthy();
    expect(h.syncs).toBeGreaterThan(0);
  });
});
