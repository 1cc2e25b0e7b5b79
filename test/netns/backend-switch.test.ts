// A mixed restart: the cluster's backend is switched in etcd and flanneld is restarted host by host.
// While hosts run different backends they skip each other; once all run the new one, pods talk
// again and nothing of the old backend is left (routes, devices).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdServer } from '../harness/etcd.js';
import { ping, type Host, Lab, type Pod, type Proc } from './lab.js';
import { hasLog, readEnvFile, startFlanneld, startLabEtcd, subnetFileOf, waitFor } from './flannel.js';

let lab: Lab;
let etcd: EtcdServer;
const fl = new Map<string, Proc>();
const pods = new Map<string, Pod>();
const CONFIG = (type: string) => `{"Network":"10.5.0.0/16","Backend":{"Type":"${type}"}}`;

async function restart(h: Host, tag: string): Promise<void> {
  const old = fl.get(h.name);
  if (old) {
    old.kill('SIGTERM');
    await old.wait(10_000);
  }
  const p = startFlanneld(h, etcd, { args: ['--iface=eth0'], tag });
  fl.set(h.name, p);
  await waitFor(`flanneld ${tag} on ${h.name} to be ready`, () => hasLog(p, 'wrote subnet file'), 20_000);
}

const peerRoutes = async (h: Host) =>
  (JSON.parse((await h.ipCmd(['-j', 'route', 'show', 'root', '10.5.0.0/16'])) || '[]') as { dst: string; dev: string; gateway?: string }[]).filter((r) => r.gateway);
const links = async (h: Host) => (JSON.parse(await h.ipCmd(['-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname);

beforeAll(async () => {
  lab = await Lab.create({ hosts: ['a', 'b'] });
  etcd = await startLabEtcd(lab);
  await etcd.ctl(['put', '/coreos.com/network/config', CONFIG('vxlan')]);
  for (const h of lab.hosts) await restart(h, 'vxlan');
  for (const h of lab.hosts) {
    const env = (await readEnvFile(subnetFileOf(h)))!;
    pods.set(h.name, await h.addPod('p1', { cidr: env.FLANNEL_SUBNET!, mtu: 1450 }));
  }
}, 60_000);
afterAll(async () => {
  await etcd?.destroy();
  await lab?.destroy();
});

describe('switching the backend with a rolling restart', () => {
  it('goes from vxlan to host-gw to udp and back to vxlan, leaving nothing of the old backend', async () => {
    const [a, b] = lab.hosts as [Host, Host];
    const [pa, pb] = [pods.get('a')!, pods.get('b')!];
    expect((await ping(pa, pb.ip, { count: 2, timeoutMs: 10_000 })).ok).toBe(true);

    for (const [from, to] of [
      ['vxlan', 'host-gw'],
      ['host-gw', 'udp'],
      ['udp', 'vxlan'],
    ] as const) {
      await etcd.ctl(['put', '/coreos.com/network/config', CONFIG(to)]);
      await restart(a, `${to}-a`);
      // Mixed: a runs the new backend, b the old one; each skips the other's lease.
      await waitFor('a to skip b', () => hasLog(fl.get('a')!, 'skipping peer'), 10_000);
      await restart(b, `${to}-b`);
      await waitFor(`${to} routes on both hosts`, async () => {
        const [ra, rb] = [await peerRoutes(a), await peerRoutes(b)];
        // udp routes the whole network into flannel0 and keeps the peers in its own table.
        if (to === 'udp') return ra.length === 0 && rb.length === 0;
        const dev = to === 'vxlan' ? 'flannel.1' : 'eth0';
        return ra.length === 1 && rb.length === 1 && ra[0]!.dev === dev && rb[0]!.dev === dev;
      }, 15_000);
      expect((await ping(pa, pb.ip, { count: 2, timeoutMs: 10_000 })).ok, `${from} → ${to}`).toBe(true);
      for (const h of [a, b]) {
        expect((await links(h)).includes('flannel.1'), `${h.name} flannel.1 after ${to}`).toBe(to === 'vxlan');
        expect((await links(h)).includes('flannel0'), `${h.name} flannel0 after ${to}`).toBe(to === 'udp');
      }
    }
  });
});
