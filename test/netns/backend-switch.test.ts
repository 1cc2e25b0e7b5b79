// A mixed restart: the cluster's backend is switched in etcd and flanneld is restarted host by host.
// While hosts run different backends they skip each other; once all run the new one, pods talk
// again and nothing of the old backend is left (routes, devices).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ping, type Host, type Lab } from './lab.js';
import { FlannelLab, hasLog, ipJson, networkConfig, waitFor } from './flannel.js';

let net: FlannelLab;
let lab: Lab;

/** Stops a host's flanneld and starts it again on whatever config etcd now holds. */
async function restart(h: Host, tag: string): Promise<void> {
  await net.startFlanneld(h, { tag });
}

const peerRoutes = async (h: Host) => (await ipJson<{ dst: string; dev: string; gateway?: string }[]>(h, ['route', 'show', 'root', '10.5.0.0/16'])).filter((r) => r.gateway);
const links = async (h: Host) => (await ipJson<{ ifname: string }[]>(h, ['link', 'show'])).map((l) => l.ifname);

beforeAll(async () => {
  net = await FlannelLab.start({ hosts: ['a', 'b'], config: networkConfig('vxlan'), startFlanneld: false });
  ({ lab } = net);
  for (const h of lab.hosts) await restart(h, 'vxlan');
  for (const h of lab.hosts) await net.addPod(h, 'p1', { mtu: 1450 });
}, 60_000);
afterAll(async () => {
  await net?.destroy();
});

describe('switching the backend with a rolling restart', () => {
  it('goes from vxlan to host-gw to udp and back to vxlan, leaving nothing of the old backend', async () => {
    const [a, b] = lab.hosts as [Host, Host];
    const [pa, pb] = [net.pod('a')!, net.pod('b')!];
    expect((await ping(pa, pb.ip, { count: 2, timeoutMs: 10_000 })).ok).toBe(true);

    for (const [from, to] of [
      ['vxlan', 'host-gw'],
      ['host-gw', 'udp'],
      ['udp', 'vxlan'],
    ] as const) {
      await net.putConfig(networkConfig(to));
      await restart(a, `${to}-a`);
      // Mixed: a runs the new backend, b the old one; each skips the other's lease.
      await waitFor('a to skip b', () => hasLog(net.flanneld.get('a')!, 'skipping peer'), 10_000);
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
