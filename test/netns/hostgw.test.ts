// host-gw on a lab: plain routes via the peers' underlay addresses, no encapsulation on the wire,
// peers off the segment refused with their address named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdServer } from '../harness/etcd.js';
import { capture, ping, tcpCheck, type Host, Lab, type Pod, type Proc } from './lab.js';
import { hasLog, readEnvFile, startFlanneld, startLabEtcd, subnetFileOf, waitFor } from './flannel.js';

const PREFIX = '/coreos.com/network';
let lab: Lab;
let etcd: EtcdServer;
const fl = new Map<string, Proc>();
const pods = new Map<string, Pod>();
const env = new Map<string, Record<string, string>>();
const netOf = (s: string) => s.replace(/\.1\/24$/, '.0/24');
const routes = async (h: Host) => JSON.parse((await h.ipCmd(['-j', 'route', 'show', 'dev', 'eth0'])) || '[]') as { dst: string; gateway?: string }[];

async function start(h: Host, tag?: string): Promise<void> {
  fl.set(h.name, startFlanneld(h, etcd, { args: ['--iface=eth0'], ...(tag && { tag }) }));
  env.set(h.name, await waitFor(`subnet.env on ${h.name}`, () => readEnvFile(subnetFileOf(h)), 20_000));
}

beforeAll(async () => {
  lab = await Lab.create({ hosts: ['a', 'b'] });
  etcd = await startLabEtcd(lab);
  await etcd.ctl(['put', `${PREFIX}/config`, '{"Network":"10.5.0.0/16","Backend":{"Type":"host-gw"}}']);
  await Promise.all([start(lab.host('a')), start(lab.host('b'))]);
  for (const h of ['a', 'b']) pods.set(h, await lab.host(h).addPod('p1', { cidr: env.get(h)!.FLANNEL_SUBNET! }));
}, 60_000);
afterAll(async () => {
  await etcd?.destroy();
  await lab?.destroy();
});

describe('host-gw backend', () => {
  it('routes pod traffic through the underlay without encapsulation', async () => {
    const [a, b] = [lab.host('a'), lab.host('b')];
    expect(env.get('a')!.FLANNEL_MTU).toBe('1500');
    const lease = JSON.parse(await etcd.ctl(['get', '--print-value-only', `${PREFIX}/subnets/${netOf(env.get('b')!.FLANNEL_SUBNET!).replace('/', '-')}`]));
    expect(lease).toEqual({ PublicIP: b.ip, PublicIPv6: null, BackendType: 'host-gw' });
    await waitFor('a route to b', async () => (await routes(a)).some((r) => r.dst === netOf(env.get('b')!.FLANNEL_SUBNET!) && r.gateway === b.ip));

    const wire = await capture(b, 'eth0', `icmp and host ${pods.get('a')!.ip}`, { count: 1, timeoutMs: 10_000 });
    expect((await ping(pods.get('a')!, pods.get('b')!.ip, { count: 2, timeoutMs: 10_000 })).ok).toBe(true);
    expect((await tcpCheck(pods.get('b')!, pods.get('a')!, { timeoutMs: 10_000 })).ok).toBe(true);
    expect(await wire.waitFor(1, 5_000)).toBe(true);
    expect((await wire.stop()).join('\n')).toContain(`${pods.get('a')!.ip} > ${pods.get('b')!.ip}: ICMP echo request`);
  });

  it('refuses a peer that is not on the segment, naming it, and keeps serving the others', async () => {
    await etcd.ctl(['put', `${PREFIX}/subnets/10.5.250.0-24`, '{"PublicIP":"198.51.100.9","BackendType":"host-gw"}']);
    await waitFor('the refusal', () => hasLog(fl.get('a')!, 'refusing peer', { peer: '198.51.100.9', subnet: '10.5.250.0/24' }));
    expect((await routes(lab.host('a'))).some((r) => r.dst === '10.5.250.0/24')).toBe(false);
    expect(fl.get('a')!.running).toBe(true);
    await etcd.ctl(['del', `${PREFIX}/subnets/10.5.250.0-24`]);
  });

  it('restores a hand-deleted route and drops a departed peer', async () => {
    const a = lab.host('a');
    const netB = netOf(env.get('b')!.FLANNEL_SUBNET!);
    await a.ipCmd(['route', 'del', netB]);
    await waitFor('the route to come back', async () => (await routes(a)).some((r) => r.dst === netB), 10_000);

    const fb = fl.get('b')!;
    fb.kill('SIGTERM');
    await fb.wait(10_000);
    await etcd.ctl(['del', `${PREFIX}/subnets/${netB.replace('/', '-')}`]);
    await waitFor('a to forget b', async () => !(await routes(a)).some((r) => r.dst === netB), 5_000);
  });
});
