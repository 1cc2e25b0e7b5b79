// VXLAN variants on a lab whose hosts share one L2 segment and also carry IPv6 on it:
// DirectRouting (peers on the segment are routed to directly, unencapsulated) and dual stack
// (flannel-v6.1 beside flannel.1, dual-stack lease keys, IPv6 lines in subnet.env).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdServer } from '../harness/index.js';
import { capture, ping, type Host, type Lab } from './lab.js';
import { FlannelLab, ipJson, waitFor } from './flannel.js';

let net: FlannelLab;
let lab: Lab;
let etcd: EtcdServer;

beforeAll(async () => {
  // Host N (1-based) has underlay fd00:5::(10+N) beside its IPv4 address.
  net = await FlannelLab.start({
    hosts: ['a', 'b', 'c', 'd'],
    prepare: async (h) => {
      await h.ipCmd(['-6', 'addr', 'add', `fd00:5::${h.index + 10}/64`, 'dev', 'eth0', 'nodad']);
    },
  });
  ({ lab, etcd } = net);
});
afterAll(async () => {
  await net?.destroy();
});

const start = (h: Host, prefix: string): Promise<Record<string, string>> => net.startFlanneld(h, { args: ['--iface=eth0', `--etcd-prefix=${prefix}`] });

const routes = (h: Host, fam: '-4' | '-6', dev: string) => ipJson<{ dst: string; gateway?: string; flags?: string[] }[]>(h, [fam, 'route', 'show', 'dev', dev]);

describe('vxlan with DirectRouting', () => {
  it('routes to a peer on the same segment via its address, without encapsulation', async () => {
    const prefix = '/direct/network';
    await etcd.ctl(['put', `${prefix}/config`, '{"Network":"10.6.0.0/16","Backend":{"Type":"vxlan","DirectRouting":true}}']);
    const [a, b] = [lab.host('a'), lab.host('b')];
    const envA = await start(a, prefix);
    const envB = await start(b, prefix);
    const netB = envB.FLANNEL_SUBNET!.replace(/\.1\/24$/, '.0/24');
    await waitFor('a direct route to b', async () => (await routes(a, '-4', 'eth0')).some((r) => r.dst === netB && r.gateway === b.ip));
    expect((await routes(a, '-4', 'flannel.1')).some((r) => r.dst === netB)).toBe(false);

    const pa = await a.addPod('p1', { cidr: envA.FLANNEL_SUBNET! });
    const pb = await b.addPod('p1', { cidr: envB.FLANNEL_SUBNET! });
    const plain = await capture(b, 'eth0', `icmp and host ${pa.ip}`, { count: 1, timeoutMs: 10_000 });
    expect((await ping(pa, pb.ip, { count: 2, timeoutMs: 10_000 })).ok).toBe(true);
    expect(await plain.waitFor(1, 5_000)).toBe(true);
    expect((await plain.stop()).join('\n')).toContain(`${pa.ip} > ${pb.ip}: ICMP echo request`);
  });
});

describe('vxlan dual stack', () => {
  it('leases both families, writes the IPv6 lines and programs flannel-v6.1', async () => {
    const prefix = '/dual/network';
    await etcd.ctl(['put', `${prefix}/config`, '{"Network":"10.7.0.0/16","EnableIPv6":true,"IPv6Network":"fd07::/48","Backend":{"Type":"vxlan"}}']);
    const [c, d] = [lab.host('c'), lab.host('d')];
    const envC = await start(c, prefix);
    const envD = await start(d, prefix);
    expect(Object.keys(envC)).toEqual(['FLANNEL_NETWORK', 'FLANNEL_SUBNET', 'FLANNEL_IPV6_NETWORK', 'FLANNEL_IPV6_SUBNET', 'FLANNEL_MTU', 'FLANNEL_IPMASQ']);
    expect(envC.FLANNEL_IPV6_NETWORK).toBe('fd07::/48');
    expect(envC.FLANNEL_IPV6_SUBNET).toMatch(/^fd07:0:0:[0-9a-f]+::1\/64$/);

    const keys = (await etcd.ctl(['get', '--prefix', '--keys-only', `${prefix}/subnets/`])).split('\n').filter(Boolean);
    expect(keys).toHaveLength(2);
    for (const k of keys) expect(k).toMatch(/\/subnets\/10\.7\.\d+\.0-24&fd07:0:0:[0-9a-f]+::-64$/);
    const leaseD = JSON.parse(await etcd.ctl(['get', '--print-value-only', keys.find((k) => k.includes(envD.FLANNEL_SUBNET!.replace(/\.1\/24$/, '.0-24')))!]));
    expect(leaseD).toMatchObject({ PublicIP: d.ip, PublicIPv6: 'fd00:5::14', BackendType: 'vxlan', BackendV6Data: { VNI: 1 } });

    const v6NetD = envD.FLANNEL_IPV6_SUBNET!.replace(/::1\/64$/, '::/64');
    await waitFor('c to route IPv6 to d', async () => (await routes(c, '-6', 'flannel-v6.1')).some((r) => r.dst === v6NetD));
    const [link] = JSON.parse(await c.ipCmd(['-j', '-d', 'link', 'show', 'flannel-v6.1'])) as { mtu: number; linkinfo: { info_data: { id: number; local6: string } } }[];
    expect(link!.linkinfo.info_data).toMatchObject({ id: 1, local6: 'fd00:5::13' });
    expect(link!.mtu).toBe(1430);
    // The v6 underlay carries more header: the MTU handed to pods is the smaller one.
    expect(envC.FLANNEL_MTU).toBe('1430');
  });
});
