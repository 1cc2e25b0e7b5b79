// host-gw on a lab: plain routes via the peers' underlay addresses, no encapsulation on the wire,
// peers off the segment refused with their address named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdServer } from '../harness/index.js';
import { capture, ping, tcpCheck, type Host, type Lab } from './lab.js';
import { ETCD_PREFIX as PREFIX, FlannelLab, hasLog, ipJson, leaseKey, netOf, networkConfig, waitFor } from './flannel.js';

let net: FlannelLab;
let lab: Lab;
let etcd: EtcdServer;
const routes = (h: Host) => ipJson<{ dst: string; gateway?: string }[]>(h, ['route', 'show', 'dev', 'eth0']);

beforeAll(async () => {
  net = await FlannelLab.start({ hosts: ['a', 'b'], config: networkConfig('host-gw') });
  ({ lab, etcd } = net);
  for (const h of ['a', 'b']) await net.addPod(lab.host(h), 'p1', { mtu: 'kernel' });
}, 60_000);
afterAll(async () => {
  await net?.destroy();
});

describe('host-gw backend', () => {
  it('routes pod traffic through the underlay without encapsulation', async () => {
    const [a, b] = [lab.host('a'), lab.host('b')];
    expect(net.env.get('a')!.FLANNEL_MTU).toBe('1500');
    const lease = JSON.parse(await etcd.ctl(['get', '--print-value-only', leaseKey(net.subnet('b'))]));
    expect(lease).toEqual({ PublicIP: b.ip, PublicIPv6: null, BackendType: 'host-gw' });
    await waitFor('a route to b', async () => (await routes(a)).some((r) => r.dst === netOf(net.subnet('b')) && r.gateway === b.ip));

    const wire = await capture(b, 'eth0', `icmp and host ${net.pod('a')!.ip}`, { count: 1, timeoutMs: 10_000 });
    expect((await ping(net.pod('a')!, net.pod('b')!.ip, { count: 2, timeoutMs: 10_000 })).ok).toBe(true);
    expect((await tcpCheck(net.pod('b')!, net.pod('a')!, { timeoutMs: 10_000 })).ok).toBe(true);
    expect(await wire.waitFor(1, 5_000)).toBe(true);
    expect((await wire.stop()).join('\n')).toContain(`${net.pod('a')!.ip} > ${net.pod('b')!.ip}: ICMP echo request`);
  });

  it('refuses a peer that is not on the segment, naming it, and keeps serving the others', async () => {
    await etcd.ctl(['put', `${PREFIX}/subnets/10.5.250.0-24`, '{"PublicIP":"198.51.100.9","BackendType":"host-gw"}']);
    await waitFor('the refusal', () => hasLog(net.flanneld.get('a')!, 'refusing peer', { peer: '198.51.100.9', subnet: '10.5.250.0/24' }));
    expect((await routes(lab.host('a'))).some((r) => r.dst === '10.5.250.0/24')).toBe(false);
    expect(net.flanneld.get('a')!.running).toBe(true);
    await etcd.ctl(['del', `${PREFIX}/subnets/10.5.250.0-24`]);
  });

  it('restores a hand-deleted route and drops a departed peer', async () => {
    const a = lab.host('a');
    const netB = netOf(net.subnet('b'));
    await a.ipCmd(['route', 'del', netB]);
    await waitFor('the route to come back', async () => (await routes(a)).some((r) => r.dst === netB), 10_000);

    const fb = net.flanneld.get('b')!;
    fb.kill('SIGTERM');
    await fb.wait(10_000);
    await etcd.ctl(['del', leaseKey(net.subnet('b'))]);
    await waitFor('a to forget b', async () => !(await routes(a)).some((r) => r.dst === netB), 5_000);
  });
});
