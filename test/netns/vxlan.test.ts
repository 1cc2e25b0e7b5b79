// The VXLAN overlay end to end on a lab of hosts: flanneld per host programs flannel.1, pods on
// different hosts talk, the wire carries UDP/8472 with VNI 1, and the kernel state converges to the
// leases (peer removal, a hand-deleted route, a restart, a host joining).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdServer } from '../harness/index.js';
import { capture, ping, tcpCheck, type Host, type Lab } from './lab.js';
import { FlannelLab, gwOf, ipJson as json, leaseKey, netOf, networkConfig, readEnvFile, subnetFileOf, waitFor } from './flannel.js';

let net: FlannelLab;
let lab: Lab;
let etcd: EtcdServer;

const routesOn = (h: Host) => json<{ dst: string; gateway?: string; flags?: string[] }[]>(h, ['route', 'show', 'dev', 'flannel.1']);
const neighsOn = (h: Host) => json<{ dst: string; lladdr?: string; state?: string[] }[]>(h, ['neigh', 'show', 'dev', 'flannel.1']);
const fdbOn = async (h: Host) => JSON.parse((await h.run(['bridge', '-j', 'fdb', 'show', 'dev', 'flannel.1'])) || '[]') as { mac: string; dst?: string }[];

beforeAll(async () => {
  net = await FlannelLab.start({ hosts: ['a', 'b'], config: networkConfig('vxlan') });
  ({ lab, etcd } = net);
  await net.addPod(lab.host('a'));
  await net.addPod(lab.host('b'));
}, 60_000);

afterAll(async () => {
  await net?.destroy();
});

describe('vxlan backend', () => {
  it('creates flannel.1 as flannel does and publishes its VTEP MAC', async () => {
    const a = lab.host('a');
    const [link] = await json<{ mtu: number; address: string; linkinfo: { info_kind: string; info_data: { id: number; port: number; local: string; learning: boolean } } }[]>(a, ['-d', 'link', 'show', 'flannel.1']);
    expect(link!.linkinfo.info_kind).toBe('vxlan');
    expect(link!.linkinfo.info_data).toMatchObject({ id: 1, port: 8472, local: a.ip, learning: false });
    expect(link!.mtu).toBe(1450);
    const env = (await readEnvFile(subnetFileOf(a)))!;
    expect(env.FLANNEL_MTU).toBe('1450');
    const addrs = await json<{ addr_info: { local: string; prefixlen: number }[] }[]>(a, ['addr', 'show', 'dev', 'flannel.1']);
    expect(addrs[0]!.addr_info.filter((x) => !x.local.includes(':'))).toEqual([expect.objectContaining({ local: gwOf(env.FLANNEL_SUBNET!), prefixlen: 32 })]);
    const lease = JSON.parse(await etcd.ctl(['get', '--print-value-only', leaseKey(env.FLANNEL_SUBNET!)]));
    expect(lease).toEqual({ PublicIP: a.ip, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: link!.address } });
  });

  it('programs route, neighbour and FDB entry for each peer', async () => {
    const a = lab.host('a');
    const b = lab.host('b');
    const sb = net.subnet('b')!;
    const [bLink] = await json<{ address: string }[]>(b, ['link', 'show', 'flannel.1']);
    await waitFor('a route to b', async () => (await routesOn(a)).some((r) => r.dst === netOf(sb)));
    const route = (await routesOn(a)).find((r) => r.dst === netOf(sb))!;
    expect(route.gateway).toBe(gwOf(sb));
    expect(route.flags).toContain('onlink');
    expect(await neighsOn(a)).toContainEqual(expect.objectContaining({ dst: gwOf(sb), lladdr: bLink!.address, state: ['PERMANENT'] }));
    expect(await fdbOn(a)).toContainEqual(expect.objectContaining({ mac: bLink!.address, dst: b.ip }));
  });

  it('carries ping and TCP between pods on different hosts, VXLAN on the wire', async () => {
    const pa = net.pod('a')!;
    const pb = net.pod('b')!;
    const wire = await capture(lab.host('b'), 'eth0', 'udp port 8472', { count: 4, timeoutMs: 15_000 });
    const inner = await capture(lab.host('b'), 'flannel.1', 'icmp', { count: 2, timeoutMs: 15_000 });
    const vx = await capture(lab.host('b'), 'eth0', 'udp port 8472', { count: 2, timeoutMs: 15_000, extraArgs: ['-T', 'vxlan'] });
    const p = await ping(pa, pb.ip, { count: 3, timeoutMs: 10_000 });
    expect(p.ok).toBe(true);
    const tcp = await tcpCheck(pb, pa, { timeoutMs: 10_000 });
    expect(tcp.ok).toBe(true);
    await wire.waitFor(2, 5_000);
    const wireLines = await wire.stop();
    expect(wireLines.join('\n')).toMatch(new RegExp(`${lab.host('a').ip.replace(/\./g, '\\.')}\\.\\d+ > ${lab.host('b').ip.replace(/\./g, '\\.')}\\.8472: OTV.*instance 1`));
    const innerLines = await inner.stop();
    expect(innerLines.join('\n')).toContain(`${pa.ip} > ${pb.ip}: ICMP echo request`);
    const vxLines = await vx.stop();
    expect(vxLines.join('\n')).toMatch(/VXLAN.*vni 1/);
  });

  it('restores a route deleted by hand', async () => {
    const a = lab.host('a');
    const sb = net.subnet('b')!;
    await a.ipCmd(['route', 'del', netOf(sb), 'dev', 'flannel.1']);
    await waitFor('the route to come back', async () => (await routesOn(a)).some((r) => r.dst === netOf(sb)), 20_000);
    expect((await ping(net.pod('a')!, net.pod('b')!.ip, { count: 1, timeoutMs: 5_000 })).ok).toBe(true);
  });

  it('restores a neighbour and an FDB entry deleted by hand (announced by the kernel, not left to the slow resync)', async () => {
    const a = lab.host('a');
    const b = lab.host('b');
    const sb = net.subnet('b')!;
    const [bLink] = await json<{ address: string }[]>(b, ['link', 'show', 'flannel.1']);
    await a.ipCmd(['neigh', 'del', gwOf(sb), 'dev', 'flannel.1']);
    await a.run(['bridge', 'fdb', 'del', bLink!.address, 'dev', 'flannel.1', 'dst', b.ip]);
    await waitFor('the neighbour and the FDB entry to come back', async () =>
      (await neighsOn(a)).some((n) => n.dst === gwOf(sb) && n.lladdr === bLink!.address) &&
      (await fdbOn(a)).some((f) => f.mac === bLink!.address && f.dst === b.ip), 20_000);
    expect((await ping(net.pod('a')!, net.pod('b')!.ip, { count: 1, timeoutMs: 5_000 })).ok).toBe(true);
  });

  it('recreates flannel.1 with its address and peers when it is deleted by hand', async () => {
    const b = lab.host('b');
    const [before] = await json<{ address: string }[]>(b, ['link', 'show', 'flannel.1']);
    await b.ipCmd(['link', 'del', 'flannel.1']);
    await waitFor('flannel.1 and its routes to come back', async () => {
      const routes = await routesOn(b).catch(() => []);
      return routes.some((r) => r.dst === netOf(net.subnet('a')!));
    }, 20_000);
    const [after] = await json<{ address: string }[]>(b, ['link', 'show', 'flannel.1']);
    expect(after!.address).toBe(before!.address);
    expect((await ping(net.pod('b')!, net.pod('a')!.ip, { count: 2, timeoutMs: 5_000 })).ok).toBe(true);
  });

  it('keeps the subnet and the flow across a flanneld restart', async () => {
    const a = lab.host('a');
    const before = net.subnet('a');
    const old = net.flanneld.get('a')!;
    old.kill('SIGTERM');
    expect(await old.wait(10_000)).toMatchObject({ code: 0 });
    // flanneld is down: the statically programmed data path keeps working.
    expect((await ping(net.pod('a')!, net.pod('b')!.ip, { count: 2, timeoutMs: 5_000 })).ok).toBe(true);
    await net.startFlanneld(a, { tag: 'restart' });
    expect(net.subnet('a')).toBe(before);
    expect((await ping(net.pod('a')!, net.pod('b')!.ip, { count: 2, timeoutMs: 5_000 })).ok).toBe(true);
  });

  it('reaches a host that joins mid-test, and forgets a peer whose lease is deleted', async () => {
    const c = await lab.addHost('c');
    await net.startFlanneld(c);
    const pc = await net.addPod(c);
    const sc = net.subnet('c')!;
    for (const h of ['a', 'b']) {
      await waitFor(`${h} to learn c`, async () => (await routesOn(lab.host(h))).some((r) => r.dst === netOf(sc)), 20_000);
    }
    // The replies need the way back too: c learns a and b from its own watch, which may come later.
    for (const h of ['a', 'b']) {
      await waitFor(`c to learn ${h}`, async () => (await routesOn(c)).some((r) => r.dst === netOf(net.subnet(h))), 20_000);
    }
    expect((await ping(net.pod('a')!, pc.ip, { count: 2, timeoutMs: 10_000 })).ok).toBe(true);
    expect((await ping(pc, net.pod('b')!.ip, { count: 2, timeoutMs: 10_000 })).ok).toBe(true);

    // c leaves: stop its flanneld (else it would re-acquire) and delete its lease.
    const fc = net.flanneld.get('c')!;
    fc.kill('SIGTERM');
    await fc.wait(10_000);
    const [cLink] = await json<{ address: string }[]>(c, ['link', 'show', 'flannel.1']);
    await etcd.ctl(['del', leaseKey(sc)]);
    for (const h of ['a', 'b']) {
      const host = lab.host(h);
      await waitFor(`${h} to forget c`, async () => {
        const [routes, neighs, fdb] = await Promise.all([routesOn(host), neighsOn(host), fdbOn(host)]);
        return !routes.some((r) => r.dst === netOf(sc)) && !neighs.some((n) => n.dst === gwOf(sc)) && !fdb.some((f) => f.mac === cLink!.address);
      }, 5_000);
    }
  });
});
