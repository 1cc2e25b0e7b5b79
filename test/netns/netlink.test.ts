// The netlink layer against a real kernel, inside a network namespace this file creates and deletes.
//
// The vitest worker lives in the root namespace, so it never opens a netlink socket itself: the layer runs
// in fixtures/netlink-driver.js started with `nsenter --net=/var/run/netns/<ns>`, and every result is checked
// independently with `ip -n <ns> -j ...` / `bridge -n <ns> -j fdb show`.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Link, NetlinkWrite } from '../../netlink/index.js';
import { NetlinkDriver } from './fixtures/index.js';

const run = promisify(execFile);
const NS = `nlt${process.pid}`;
const DRIVER = resolve('dist/test/netns/fixtures/netlink-driver.js');
const isRoot = process.getuid?.() === 0;

/** `ip -n <ns> ...`; bounded in time like every other wait here. */
async function ipn(...args: string[]): Promise<string> {
  const { stdout } = await run('ip', ['-n', NS, ...args], { timeout: 10_000 });
  return stdout;
}

async function ipj<T = Record<string, unknown>[]>(...args: string[]): Promise<T> {
  const out = await ipn('-j', ...args);
  return JSON.parse(out.trim() === '' ? '[]' : out) as T;
}

async function bridgeFdb(dev: string): Promise<{ mac: string; dst?: string; flags?: string[]; state?: string }[]> {
  const { stdout } = await run('bridge', ['-n', NS, '-j', 'fdb', 'show', 'dev', dev], { timeout: 10_000 });
  return JSON.parse(stdout.trim() === '' ? '[]' : stdout) as { mac: string; dst?: string; flags?: string[]; state?: string }[];
}

describe.skipIf(!isRoot)(`netlink layer in netns ${NS}`, () => {
  let drv: NetlinkDriver | undefined;
  let vx: Link;
  const d = (): NetlinkDriver => {
    if (!drv) throw new Error('driver not started');
    return drv;
  };

  beforeAll(async () => {
    if (!existsSync(DRIVER)) throw new Error(`${DRIVER} is missing: run \`npm run build\` (tsc) first`);
    await run('ip', ['netns', 'add', NS], { timeout: 10_000 });
    await ipn('link', 'set', 'lo', 'up');
    // The underlay: a veth pair standing in for eth0, with the node's public IP.
    await ipn('link', 'add', 'ul0', 'type', 'veth', 'peer', 'name', 'ul0p');
    await ipn('addr', 'add', '192.0.2.2/24', 'dev', 'ul0');
    await ipn('addr', 'add', '2001:db8::2/64', 'dev', 'ul0', 'nodad');
    await ipn('link', 'set', 'ul0', 'up');
    await ipn('link', 'set', 'ul0p', 'up');
    drv = NetlinkDriver.start(NS, DRIVER);
  });

  afterAll(async () => {
    await drv?.close();
    await run('ip', ['netns', 'del', NS], { timeout: 10_000 }).catch(() => undefined);
  });

  it('creates the vxlan device with its link info', async () => {
    vx = await d().call('ensureVxlan', { name: 'flannel.1', vni: 1, local: '192.0.2.2', dev: 'ul0', port: 8472 });
    expect(vx).toMatchObject({ name: 'flannel.1', kind: 'vxlan', vxlan: { vni: 1, port: 8472, learning: false, gbp: false, local: '192.0.2.2' } });
    const [ul0] = await ipj<{ ifindex: number }[]>('link', 'show', 'ul0');
    expect(vx.vxlan?.dev).toBe(ul0?.ifindex);

    const [link] = await ipj<{ linkinfo: { info_kind: string; info_data: Record<string, unknown> } }[]>('-d', 'link', 'show', 'flannel.1');
    expect(link?.linkinfo.info_kind).toBe('vxlan');
    expect(link?.linkinfo.info_data).toMatchObject({ id: 1, port: 8472, learning: false, local: '192.0.2.2', link: 'ul0' });
  });

  it('accepts an existing compatible vxlan device (idempotent create)', async () => {
    const again = await d().call('ensureVxlan', { name: 'flannel.1', vni: 1, local: '192.0.2.2', dev: 'ul0' });
    expect(again.index).toBe(vx.index);
    expect(await ipj('link', 'show', 'type', 'vxlan')).toHaveLength(1);
  });

  it('reports an incompatible vxlan device, and recreates it when asked', async () => {
    const err = await d().callError('ensureVxlan', { name: 'flannel.1', vni: 2, local: '192.0.2.2', dev: 'ul0', port: 4789 });
    expect(err.code).toBe('LINK_INCOMPAT');
    expect(err.message).toContain('vni 2 != 1');
    expect(err.message).toContain('port 4789 != 8472');
    // flannel.1 is untouched.
    const [link] = await ipj<{ linkinfo: { info_data: { id: number } } }[]>('-d', 'link', 'show', 'flannel.1');
    expect(link?.linkinfo.info_data.id).toBe(1);

    const first = await d().call('ensureVxlan', { name: 'vxt0', vni: 10, port: 4789 });
    const second = await d().call('ensureVxlan', { name: 'vxt0', vni: 11, port: 4789 }, { onIncompat: 'recreate' });
    expect(second.vxlan?.vni).toBe(11);
    expect(second.index).not.toBe(first.index);
    const [vxt] = await ipj<{ linkinfo: { info_data: { id: number } } }[]>('-d', 'link', 'show', 'vxt0');
    expect(vxt?.linkinfo.info_data.id).toBe(11);
    expect(await d().call('deleteLink', 'vxt0')).toBe(true);
  });

  it('sets MAC, MTU and up', async () => {
    await d().call('setLink', 'flannel.1', { mac: '0e:00:00:00:00:01', mtu: 1400, up: true });
    const [link] = await ipj<{ address: string; mtu: number; flags: string[] }[]>('link', 'show', 'flannel.1');
    expect(link).toMatchObject({ address: '0e:00:00:00:00:01', mtu: 1400 });
    expect(link?.flags).toContain('UP');
    const got = await d().call('getLink', vx.index);
    expect(got).toMatchObject({ name: 'flannel.1', mac: '0e:00:00:00:00:01', mtu: 1400, up: true });
  });

  it('adds a /32 address idempotently', async () => {
    await d().call('addAddr', { cidr: '10.5.1.0/32', dev: 'flannel.1' });
    await d().call('addAddr', { cidr: '10.5.1.0/32', dev: 'flannel.1' });
    const [link] = await ipj<{ addr_info: { family: string; local: string; prefixlen: number }[] }[]>('-4', 'addr', 'show', 'dev', 'flannel.1');
    expect(link?.addr_info).toEqual([expect.objectContaining({ family: 'inet', local: '10.5.1.0', prefixlen: 32 })]);
    const addrs = await d().call('dumpAddrs', { ifindex: vx.index, family: 4 });
    expect(addrs).toEqual([{ cidr: '10.5.1.0/32', ifindex: vx.index, family: 4 }]);
  });

  it('adds an onlink route via x.x.x.0 dev flannel.1 idempotently', async () => {
    const route = { dst: '10.5.3.0/24', gw: '10.5.3.0', dev: 'flannel.1', onlink: true };
    await d().call('addRoute', route);
    await d().call('addRoute', route);
    const routes = await ipj<{ dst: string; gateway: string; dev: string; flags: string[] }[]>('route', 'show', '10.5.3.0/24');
    expect(routes).toEqual([expect.objectContaining({ dst: '10.5.3.0/24', gateway: '10.5.3.0', dev: 'flannel.1', flags: ['onlink'] })]);
    expect(await d().call('dumpRoutes', { ifindex: vx.index, family: 4 })).toEqual([
      { dst: '10.5.3.0/24', gw: '10.5.3.0', ifindex: vx.index, onlink: true, family: 4 },
    ]);
  });

  it('refuses to add over a different route, and replaces it on request', async () => {
    const err = await d().callError('addRoute', { dst: '10.5.3.0/24', gw: '10.5.3.1', dev: 'flannel.1', onlink: true });
    expect(err).toMatchObject({ code: 'EEXIST', errno: 17, op: 'addRoute' });
    expect(err.message).toContain('via 10.5.3.1 != 10.5.3.0');

    await d().call('replaceRoute', { dst: '10.5.3.0/24', gw: '10.5.3.1', dev: 'flannel.1', onlink: true });
    expect(await ipj('route', 'show', '10.5.3.0/24')).toEqual([expect.objectContaining({ gateway: '10.5.3.1' })]);
    await d().call('replaceRoute', { dst: '10.5.3.0/24', gw: '10.5.3.0', dev: 'flannel.1', onlink: true });
    expect(await ipj('route', 'show', '10.5.3.0/24')).toEqual([expect.objectContaining({ gateway: '10.5.3.0' })]);
  });

  it('adds a permanent neighbour idempotently, and replaces it', async () => {
    await d().call('addNeigh', { ip: '10.5.3.0', mac: '0e:00:00:00:00:03', dev: 'flannel.1' });
    await d().call('addNeigh', { ip: '10.5.3.0', mac: '0E:00:00:00:00:03', dev: vx.index });
    expect(await ipj('neigh', 'show', 'dev', 'flannel.1')).toEqual([
      expect.objectContaining({ dst: '10.5.3.0', lladdr: '0e:00:00:00:00:03', state: ['PERMANENT'] }),
    ]);
    const err = await d().callError('addNeigh', { ip: '10.5.3.0', mac: '0e:00:00:00:00:09', dev: 'flannel.1' });
    expect(err).toMatchObject({ code: 'EEXIST', op: 'addNeigh' });

    await d().call('replaceNeigh', { ip: '10.5.3.0', mac: '0e:00:00:00:00:09', dev: 'flannel.1' });
    expect(await ipj('neigh', 'show', 'dev', 'flannel.1')).toEqual([expect.objectContaining({ lladdr: '0e:00:00:00:00:09' })]);
    await d().call('replaceNeigh', { ip: '10.5.3.0', mac: '0e:00:00:00:00:03', dev: 'flannel.1' });
    expect(await d().call('dumpNeighs', { ifindex: vx.index, family: 4 })).toEqual([
      { ip: '10.5.3.0', mac: '0e:00:00:00:00:03', ifindex: vx.index, state: 'permanent' },
    ]);
  });

  it('adds an FDB entry with dst, self, permanent (bridge fdb append)', async () => {
    const fdb = { mac: '0e:00:00:00:00:03', dst: '192.0.2.3', dev: 'flannel.1' };
    await d().call('addFdb', fdb);
    await d().call('addFdb', fdb);
    const entries = (await bridgeFdb('flannel.1')).filter((e) => e.mac === '0e:00:00:00:00:03');
    expect(entries).toEqual([expect.objectContaining({ dst: '192.0.2.3', flags: ['self'], state: 'permanent' })]);
    const { stdout } = await run('bridge', ['-n', NS, 'fdb', 'show', 'dev', 'flannel.1'], { timeout: 10_000 });
    expect(stdout).toContain('0e:00:00:00:00:03 dst 192.0.2.3 self permanent');
    expect(await d().call('dumpFdb', { ifindex: vx.index })).toEqual([{ mac: '0e:00:00:00:00:03', dst: '192.0.2.3', ifindex: vx.index }]);
  });

  it('programs IPv6 through the same code path (flannel-v6.1)', async () => {
    // As flannel does, IPv6 peers go through their own vxlan device with an IPv6 VTEP address.
    const v6 = await d().call('ensureVxlan', { name: 'flannel-v6.1', vni: 1, local: '2001:db8::2', dev: 'ul0' });
    expect(v6.vxlan).toMatchObject({ vni: 1, local: '2001:db8::2', port: 8472 });
    const [link6] = await ipj<{ linkinfo: { info_data: Record<string, unknown> } }[]>('-d', 'link', 'show', 'flannel-v6.1');
    expect(link6?.linkinfo.info_data).toMatchObject({ id: 1, local6: '2001:db8::2', port: 8472, learning: false });
    await d().call('setLink', 'flannel-v6.1', { up: true });

    await d().call('addAddr', { cidr: 'fd00:5:1::/128', dev: 'flannel-v6.1' });
    await d().call('addAddr', { cidr: 'fd00:5:1::/128', dev: 'flannel-v6.1' });
    await d().call('addRoute', { dst: 'fd00:5:3::/64', gw: 'fd00:5:3::', dev: 'flannel-v6.1', onlink: true });
    await d().call('addRoute', { dst: 'fd00:5:3::/64', gw: 'fd00:5:3::', dev: 'flannel-v6.1', onlink: true });
    await d().call('addNeigh', { ip: 'fd00:5:3::', mac: '0e:00:00:00:00:06', dev: 'flannel-v6.1' });
    await d().call('addFdb', { mac: '0e:00:00:00:00:06', dst: '2001:db8::3', dev: 'flannel-v6.1' });

    expect(await ipj('-6', 'route', 'show', 'fd00:5:3::/64')).toEqual([
      expect.objectContaining({ dst: 'fd00:5:3::/64', gateway: 'fd00:5:3::', dev: 'flannel-v6.1', flags: ['onlink'] }),
    ]);
    expect(await ipj('-6', 'neigh', 'show', 'dev', 'flannel-v6.1')).toContainEqual(
      expect.objectContaining({ dst: 'fd00:5:3::', lladdr: '0e:00:00:00:00:06', state: ['PERMANENT'] }),
    );
    const [link] = await ipj<{ addr_info: { local: string; prefixlen: number }[] }[]>('-6', 'addr', 'show', 'dev', 'flannel-v6.1');
    expect(link?.addr_info).toContainEqual(expect.objectContaining({ local: 'fd00:5:1::', prefixlen: 128 }));
    expect(await bridgeFdb('flannel-v6.1')).toContainEqual(
      expect.objectContaining({ mac: '0e:00:00:00:00:06', dst: '2001:db8::3', flags: ['self'], state: 'permanent' }),
    );
    expect(await d().call('dumpRoutes', { family: 6, ifindex: v6.index })).toContainEqual({
      dst: 'fd00:5:3::/64', gw: 'fd00:5:3::', ifindex: v6.index, onlink: true, family: 6,
    });
    expect(await d().call('dumpNeighs', { family: 6, ifindex: v6.index })).toContainEqual({
      ip: 'fd00:5:3::', mac: '0e:00:00:00:00:06', ifindex: v6.index, state: 'permanent',
    });
    expect(await d().call('dumpFdb', { ifindex: v6.index })).toEqual([{ mac: '0e:00:00:00:00:06', dst: '2001:db8::3', ifindex: v6.index }]);

    // An IPv6 destination on the IPv4 device is the kernel's to refuse.
    const err = await d().callError('addFdb', { mac: '0e:00:00:00:00:06', dst: '2001:db8::3', dev: 'flannel.1' });
    expect(err).toMatchObject({ code: 'EAFNOSUPPORT', op: 'addFdb' });

    expect(await d().call('deleteRoute', { dst: 'fd00:5:3::/64', gw: 'fd00:5:3::', dev: 'flannel-v6.1' })).toBe(true);
    expect(await d().call('deleteRoute', { dst: 'fd00:5:3::/64', gw: 'fd00:5:3::', dev: 'flannel-v6.1' })).toBe(false);
    expect(await d().call('deleteLink', 'flannel-v6.1')).toBe(true);
  });

  it('reports kernel errors with op, object and errno', async () => {
    const noDev = await d().callError('addRoute', { dst: '10.9.0.0/16', dev: 'nosuch0' });
    expect(noDev).toMatchObject({ code: 'ENODEV', errno: 19, op: 'addRoute', object: 'route 10.9.0.0/16 dev nosuch0' });
    expect(noDev.errorName).toBe('NetlinkError');
    // Rejected by the kernel itself: a gateway that no prefix on the device covers, without onlink.
    const badGw = await d().callError('addRoute', { dst: '10.6.0.0/16', gw: '10.99.0.1', dev: 'flannel.1' });
    expect(badGw).toMatchObject({ code: 'ENETUNREACH', errno: 101, op: 'addRoute', object: 'route 10.6.0.0/16 via 10.99.0.1 dev flannel.1' });
    // An ifindex that does not exist, straight from the kernel.
    const noIdx = await d().callError('setLink', 99999, { up: true });
    expect(noIdx).toMatchObject({ code: 'ENODEV', errno: 19, op: 'setLink', object: 'link #99999 up' });
    // Bad input never reaches the kernel.
    const bad = await d().callError('addRoute', { dst: '10.5.3.1/24', dev: 'flannel.1' });
    expect(bad.code).toBe('NETLINK_INPUT');
  });

  it('dumps links, addresses, routes and neighbours', async () => {
    const links = await d().call('dumpLinks');
    expect(links.map((l) => l.name).sort()).toEqual(['flannel.1', 'lo', 'ul0', 'ul0p']);
    expect(links.find((l) => l.name === 'flannel.1')).toMatchObject({ kind: 'vxlan', vxlan: { vni: 1 } });
    expect(links.find((l) => l.name === 'ul0')).toMatchObject({ kind: 'veth', up: true });
    const addrs = await d().call('dumpAddrs');
    expect(addrs).toContainEqual({ cidr: '192.0.2.2/24', ifindex: vx.vxlan?.dev, family: 4 });
    const routes = await d().call('dumpRoutes', { family: 4 });
    expect(routes.map((r) => r.dst).sort()).toEqual(['10.5.3.0/24', '192.0.2.0/24']);
    expect(await d().call('getLink', 'nosuch0')).toBeUndefined();
  });

  it('delivers route and link notifications', async () => {
    const watch = await d().watch(['ipv4-route', 'link']);
    const from = d().events.length;
    await ipn('route', 'add', '10.7.0.0/16', 'dev', 'ul0');
    expect(await d().waitEvent((e) => e.kind === 'route' && e.action === 'new' && e.route.dst === '10.7.0.0/16', 5_000, from)).toMatchObject({
      route: { dst: '10.7.0.0/16', ifindex: vx.vxlan?.dev, family: 4 },
    });
    await ipn('route', 'del', '10.7.0.0/16', 'dev', 'ul0');
    await d().waitEvent((e) => e.kind === 'route' && e.action === 'del' && e.route.dst === '10.7.0.0/16', 5_000, from);
    await ipn('link', 'set', 'ul0p', 'mtu', '1400');
    await d().waitEvent((e) => e.kind === 'link' && e.link.name === 'ul0p' && e.link.mtu === 1400, 5_000, from);
    await d().unwatch(watch);
  });

  it('a bulk write (600 entries): every entry in, the watch paused meanwhile, then an overflow and the watch working again', async () => {
    const watch = await d().watch(['ipv4-route', 'neigh']);
    const from = d().events.length;
    const peers = Array.from({ length: 200 }, (_, i) => ({ gw: `10.9.${i}.0`, mac: `0e:00:00:09:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, dst: `192.0.2.${(i % 200) + 20}` }));
    const writes: NetlinkWrite[] = [
      ...peers.map((p) => ({ op: 'addNeigh' as const, neigh: { ip: p.gw, mac: p.mac, ifindex: vx.index } })),
      ...peers.map((p) => ({ op: 'addFdb' as const, fdb: { mac: p.mac, dst: p.dst, ifindex: vx.index } })),
      ...peers.map((p) => ({ op: 'addRoute' as const, route: { dst: `${p.gw}/24`, gw: p.gw, ifindex: vx.index, onlink: true } })),
    ];
    const res = await d().call('writeBatch', writes);
    expect(res.filter((e) => e !== 0)).toEqual([]);
    expect((await d().call('dumpRoutes', { family: 4 })).filter((r) => r.dst.startsWith('10.9.'))).toHaveLength(200);
    await d().waitEvent((e) => e.kind === 'overflow', 5_000, from);
    const during = d().events.slice(from).filter((e) => e.event.kind === 'route' && e.event.route.dst.startsWith('10.9.'));
    expect(during).toEqual([]); // not one of our own 600 announcements reached the paused watch
    const after = d().events.length;
    await ipn('route', 'del', '10.9.7.0/24');
    await d().waitEvent((e) => e.kind === 'route' && e.action === 'del' && e.route.dst === '10.9.7.0/24', 5_000, after);
    await d().unwatch(watch);
    const rest = peers.flatMap((p): NetlinkWrite[] => [
      { op: 'deleteRoute', route: { dst: `${p.gw}/24`, gw: p.gw, ifindex: vx.index, onlink: true } },
      { op: 'deleteNeigh', neigh: { ip: p.gw, ifindex: vx.index } },
      { op: 'deleteFdb', fdb: { mac: p.mac, dst: p.dst, ifindex: vx.index } },
    ]);
    const gone = await d().call('writeBatch', rest);
    expect(gone.filter((e) => e !== 0)).toHaveLength(1); // the route deleted by hand: ESRCH
  });

  it('deletes idempotently', async () => {
    const fdb = { mac: '0e:00:00:00:00:03', dst: '192.0.2.3', dev: 'flannel.1' };
    expect(await d().call('deleteFdb', fdb)).toBe(true);
    expect(await d().call('deleteFdb', fdb)).toBe(false);
    expect((await bridgeFdb('flannel.1')).filter((e) => e.mac === fdb.mac)).toEqual([]);

    expect(await d().call('deleteNeigh', { ip: '10.5.3.0', dev: 'flannel.1' })).toBe(true);
    expect(await d().call('deleteNeigh', { ip: '10.5.3.0', dev: 'flannel.1' })).toBe(false);
    expect(await ipj('-4', 'neigh', 'show', 'dev', 'flannel.1')).toEqual([]);

    const route = { dst: '10.5.3.0/24', gw: '10.5.3.0', dev: 'flannel.1', onlink: true };
    expect(await d().call('deleteRoute', route)).toBe(true);
    expect(await d().call('deleteRoute', route)).toBe(false);
    expect(await ipj('route', 'show', '10.5.3.0/24')).toEqual([]);

    expect(await d().call('deleteAddr', { cidr: '10.5.1.0/32', dev: 'flannel.1' })).toBe(true);
    expect(await d().call('deleteAddr', { cidr: '10.5.1.0/32', dev: 'flannel.1' })).toBe(false);

    expect(await d().call('deleteLink', 'flannel.1')).toBe(true);
    expect(await d().call('deleteLink', 'flannel.1')).toBe(false);
    expect(await ipj('link', 'show', 'type', 'vxlan')).toEqual([]);
    // Objects on a device that no longer exists are absent too.
    expect(await d().call('deleteRoute', route)).toBe(false);
    expect(await d().call('deleteFdb', fdb)).toBe(false);
  });

  it('creates a bridge idempotently', async () => {
    const br = await d().call('ensureBridge', { name: 'cni0', mtu: 1400 });
    expect(br).toMatchObject({ name: 'cni0', kind: 'bridge', mtu: 1400 });
    expect((await d().call('ensureBridge', { name: 'cni0' })).index).toBe(br.index);
    const err = await d().callError('ensureBridge', { name: 'ul0' });
    expect(err).toMatchObject({ code: 'LINK_INCOMPAT' });
    expect(err.message).toContain('kind bridge != veth');
    expect(await d().call('deleteLink', 'cni0')).toBe(true);
  });
});
