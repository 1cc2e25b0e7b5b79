import { constants } from 'node:os';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  Converger,
  type FamilySync,
  type KernelOp,
  type KernelState,
  RouteNetwork,
  type SkippedPeer,
  SkippedPeerLog,
  addFdb,
  addNeigh,
  addRoute,
  describeOp,
  emptyKernelState,
  familyAttrs,
  leaseBackendData,
  leasePublicIP,
  leaseSubnet,
  publishedIPs,
} from '../backend/index.js';
import { type Logger, silentLogger } from '../common/index.js';
import { type Family, type Lease, formatCidr, parseCidr } from '../ipam/index.js';
import type { Netlink, NetlinkWrite } from '../netlink/index.js';

/** Records the writes a converger makes; fails the ones whose description matches `failOn`. */
function recordingNetlink(failOn?: RegExp): { nl: Netlink; ops: string[] } {
  const ops: string[] = [];
  const rec = (op: string) => async (x: unknown) => {
    const line = `${op} ${JSON.stringify(x)}`;
    ops.push(line);
    if (failOn?.test(line)) throw new Error('EPERM');
    return true;
  };
  const nl = {
    addRoute: rec('add-route'),
    replaceRoute: rec('replace-route'),
    deleteRoute: rec('del-route'),
    addNeigh: rec('add-neigh'),
    replaceNeigh: rec('replace-neigh'),
    deleteNeigh: rec('del-neigh'),
    addFdb: rec('add-fdb'),
    deleteFdb: rec('del-fdb'),
    // Every batched write refused (EAGAIN): the converger runs each through its single call, recorded above.
    writeBatch: async (ws: readonly unknown[]) => ws.map(() => constants.errno.EAGAIN),
  } as unknown as Netlink;
  return { nl, ops };
}

const peer = (n: number, mac = `aa:00:00:00:00:0${n}`) => {
  const s = emptyKernelState();
  addNeigh(s, { ip: `10.5.${n}.0`, mac, ifindex: 9 });
  addFdb(s, { mac, dst: `192.0.2.${n}`, ifindex: 9 });
  addRoute(s, { dst: `10.5.${n}.0/24`, gw: `10.5.${n}.0`, ifindex: 9, onlink: true });
  return s;
};
const merge = (...ss: ReturnType<typeof peer>[]) => {
  const out = emptyKernelState();
  for (const s of ss) {
    for (const [k, v] of s.routes) out.routes.set(k, v);
    for (const [k, v] of s.neighs) out.neighs.set(k, v);
    for (const [k, v] of s.fdbs) out.fdbs.set(k, v);
  }
  return out;
};
const kinds = (ops: string[]) => ops.map((o) => o.split(' ')[0]);

describe('converger', () => {
  it('sends its ops as one batch in the diff\'s order, and runs only the refused ones again through single calls', async () => {
    const { nl: single, ops } = recordingNetlink();
    const batches: string[][] = [];
    const nl = {
      ...single,
      writeBatch: async (ws: readonly NetlinkWrite[]) => {
        batches.push(ws.map((w) => w.op));
        // The kernel refuses peer 2's FDB entry (say it exists with another destination already).
        return ws.map((w) => (w.op === 'addFdb' && w.fdb.dst === '192.0.2.2' ? constants.errno.EEXIST : 0));
      },
    } as Netlink;
    const c = new Converger(nl, silentLogger);
    const res = await c.full(merge(peer(1), peer(2)), emptyKernelState());
    expect(batches).toEqual([['addNeigh', 'addNeigh', 'addFdb', 'addFdb', 'addRoute', 'addRoute']]);
    expect(ops).toEqual(['add-fdb {"mac":"aa:00:00:00:00:02","dst":"192.0.2.2","dev":9}']);
    expect(res).toMatchObject({ ops: 6, failed: 0 });
  });

  it('applies a full sync, then only the entries of changed leases', async () => {
    const { nl, ops } = recordingNetlink();
    const c = new Converger(nl, silentLogger);
    expect(c.ready).toBe(false);
    await c.full(merge(peer(1), peer(2)), emptyKernelState());
    expect(kinds(ops)).toEqual(['add-neigh', 'add-neigh', 'add-fdb', 'add-fdb', 'add-route', 'add-route']);
    expect(c.sizes()).toEqual({ route: 2, neigh: 2, fdb: 2 });

    ops.length = 0;
    await c.partial(emptyKernelState(), peer(3));
    expect(kinds(ops)).toEqual(['add-neigh', 'add-fdb', 'add-route']);

    ops.length = 0;
    await c.partial(peer(1), emptyKernelState());
    expect(kinds(ops)).toEqual(['del-route', 'del-neigh', 'del-fdb']);
    expect(c.sizes()).toEqual({ route: 2, neigh: 2, fdb: 2 });

    // Peer 2 comes back with a new VTEP MAC: the neighbour is replaced, the old FDB entry goes.
    ops.length = 0;
    await c.partial(peer(2), peer(2, 'bb:00:00:00:00:02'));
    expect(kinds(ops)).toEqual(['del-fdb', 'replace-neigh', 'add-fdb']);
    expect(ops.join('\n')).toContain('bb:00:00:00:00:02');
  });

  it('forgets what it applied after a failure, so the next sync must be full', async () => {
    const { nl } = recordingNetlink(/10\.5\.4\.0\/24/);
    const c = new Converger(nl, silentLogger);
    await c.full(peer(1), emptyKernelState());
    const res = await c.partial(emptyKernelState(), peer(4));
    expect(res.failed).toBe(1);
    expect(c.ready).toBe(false);
    await expect(c.partial(emptyKernelState(), peer(5))).rejects.toThrow(/before a full/);
  });

  it('replaces a learned neighbour entry for a peer gateway', async () => {
    const { nl, ops } = recordingNetlink();
    const c = new Converger(nl, silentLogger);
    const have = emptyKernelState();
    addNeigh(have, { ip: '10.5.1.0', mac: 'aa:00:00:00:00:01', ifindex: 9, state: 'reachable' });
    await c.full(peer(1), have);
    expect(kinds(ops)).toEqual(['replace-neigh', 'add-fdb', 'add-route']);
  });

  it('describes every op in ip(8) terms', () => {
    const op: KernelOp = { op: 'add-fdb', fdb: { mac: 'aa:00:00:00:00:01', dst: '192.0.2.1', ifindex: 9 } };
    expect(describeOp(op)).toBe('add-fdb fdb aa:00:00:00:00:01 dst 192.0.2.1 dev #9 self permanent');
  });
});

/** A logger whose records (level, msg and fields) land in `records`. */
function recordingLogger(): { log: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug', base: null, timestamp: false }, { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, records };
}

const lease = (n: number, extra: Partial<Lease> = {}): Lease => ({ subnet: parseCidr(`10.5.${n}.0/24`), attrs: { publicIP: `192.0.2.${n}` }, reservation: false, ...extra });

/**
 * A family whose leases become one route each (and a skipped peer for a lease without a PublicIP),
 * counting the dumps (`owned`) it is asked for; `reset` makes its next prepare report a new device.
 */
function fakeFamily(family: Family, have: () => KernelState = emptyKernelState) {
  const f = {
    family,
    prepares: 0,
    dumps: 0,
    reset: false,
    prepare: async (): Promise<FamilySync> => {
      f.prepares++;
      const reset = f.reset;
      f.reset = false;
      return {
        reset,
        desired: (leases) => {
          const s = emptyKernelState();
          const skipped: SkippedPeer[] = [];
          for (const l of leases) {
            const sn = leaseSubnet(l, family);
            if (!sn) continue;
            const gw = leasePublicIP(l, family);
            if (gw) addRoute(s, { dst: formatCidr(sn), gw, ifindex: 2 });
            else skipped.push({ subnet: formatCidr(sn), reason: `no IPv${family} PublicIP` });
          }
          return { state: s, skipped };
        },
        owned: async () => {
          f.dumps++;
          return have();
        },
      };
    },
  };
  return f;
}
describe('route network', () => {
  const dual = (n: number): Lease => ({
    subnet: parseCidr(`10.5.${n}.0/24`),
    ipv6Subnet: parseCidr(`fd00:5:${n}::/64`),
    attrs: { publicIP: `192.0.2.${n}`, publicIPv6: `2001:db8::${n}` },
    reservation: false,
  });

  it('syncs every family in full first, then only the changed leases, without dumps', async () => {
    const { nl, ops } = recordingNetlink();
    const stale = emptyKernelState();
    addRoute(stale, { dst: '10.5.9.0/24', gw: '192.0.2.9', ifindex: 2 });
    const v4 = fakeFamily(4, () => stale);
    const v6 = fakeFamily(6);
    const net = new RouteNetwork(nl, silentLogger, [v4, v6]);
    expect(await net.converge([dual(1), dual(2)])).toBe(0);
    expect({ v4: v4.dumps, v6: v6.dumps }).toEqual({ v4: 1, v6: 1 });
    expect(kinds(ops)).toEqual(['del-route', 'add-route', 'add-route', 'add-route', 'add-route']);
    expect(ops[0]).toContain('10.5.9.0/24');
    expect(net.sizes()).toEqual({ route: 4, neigh: 0, fdb: 0 });

    ops.length = 0;
    expect(await net.converge([dual(2), dual(3)], { added: [dual(3)], removed: [dual(1)] })).toBe(0);
    expect({ v4: v4.dumps, v6: v6.dumps, prepares: v4.prepares + v6.prepares }).toEqual({ v4: 1, v6: 1, prepares: 4 });
    expect(ops.map((o) => o.replace(/"gw".*/, ''))).toEqual([
      'del-route {"dst":"10.5.1.0/24",',
      'add-route {"dst":"10.5.3.0/24",',
      'del-route {"dst":"fd00:5:1::/64",',
      'add-route {"dst":"fd00:5:3::/64",',
    ]);

    // The IPv6 device was recreated: that family alone is read and synced in full again.
    ops.length = 0;
    v6.reset = true;
    expect(await net.converge([dual(2), dual(3)], { added: [dual(4)], removed: [] })).toBe(0);
    expect({ v4: v4.dumps, v6: v6.dumps }).toEqual({ v4: 1, v6: 2 });
    expect(kinds(ops)).toEqual(['add-route', 'add-route', 'add-route']);
    expect(ops.join('\n')).not.toContain('fd00:5:4::');
  });

  it('counts failed updates, and syncs the failed family in full next time', async () => {
    const { nl } = recordingNetlink(/10\.5\.2\.0/);
    const v4 = fakeFamily(4);
    const net = new RouteNetwork(nl, silentLogger, [v4]);
    expect(await net.converge([lease(1), lease(2)])).toBe(1);
    expect(await net.converge([lease(1), lease(2), lease(3)], { added: [lease(3)], removed: [] })).toBe(1);
    expect(v4.dumps).toBe(2);
  });

  it('logs a skipped peer once per subnet and reason, and a refused peer as an error', async () => {
    const { log, records } = recordingLogger();
    const net = new RouteNetwork(recordingNetlink().nl, log, [fakeFamily(4)]);
    const bad = lease(7, { attrs: { publicIPv6: '2001:db8::7' } });
    await net.converge([lease(1), bad]);
    await net.converge([lease(1), bad]);
    await net.converge([lease(1), bad], { added: [bad], removed: [] });
    expect(records.filter((r) => r.msg === 'skipping peer')).toEqual([{ level: 40, msg: 'skipping peer', subnet: '10.5.7.0/24', reason: 'no IPv4 PublicIP' }]);

    const skipped = new SkippedPeerLog(log);
    records.length = 0;
    skipped.note([{ subnet: '10.5.3.0/24', peer: '198.51.100.9', reason: 'off our segment' }]);
    skipped.note([{ subnet: '10.5.3.0/24', peer: '198.51.100.9', reason: 'off our segment' }]);
    skipped.note([{ subnet: '10.5.3.0/24', reason: 'another reason' }]);
    expect(records.map((r) => [r.level, r.msg, r.peer])).toEqual([
      [50, 'refusing peer', '198.51.100.9'],
      [40, 'skipping peer', undefined],
    ]);
  });
});

describe('converger options', () => {
  it('logs each update at the level asked for, and returns the failures with their errors', async () => {
    const { log, records } = recordingLogger();
    const { nl } = recordingNetlink(/10\.5\.2\.0/);
    const c = new Converger(nl, log.child({}, { level: 'info' }), { opLevel: 'info' });
    const want = emptyKernelState();
    addRoute(want, { dst: '10.5.1.0/24', gw: '192.0.2.1', ifindex: 2 });
    addRoute(want, { dst: '10.5.2.0/24', gw: '192.0.2.2', ifindex: 2 });
    const res = await c.full(want, emptyKernelState());
    expect(res.failed).toBe(1);
    expect(describeOp(res.failures[0]!.op)).toBe('add-route route 10.5.2.0/24 via 192.0.2.2 dev #2');
    expect((res.failures[0]!.err as Error).message).toBe('EPERM');
    expect(records.map((r) => `${r.level} ${r.msg}`)).toEqual(['30 programmed', '50 kernel update failed', '30 kernel entries updated']);
  });
});

describe('lease fields by family', () => {
  const l: Lease = {
    subnet: parseCidr('10.5.1.0/24'),
    ipv6Subnet: parseCidr('fd00:5:1::/64'),
    attrs: { publicIP: '192.0.2.1', publicIPv6: '2001:DB8:0::1', backendData: { v: 4 }, backendV6Data: { v: 6 } },
    reservation: false,
  };
  it('reads the subnet, the canonical public IP and the backend data of each family', () => {
    expect([leaseSubnet(l, 4), leaseSubnet(l, 6)]).toEqual([l.subnet, l.ipv6Subnet]);
    expect([leasePublicIP(l, 4), leasePublicIP(l, 6)]).toEqual(['192.0.2.1', '2001:db8::1']);
    expect([leaseBackendData(l, 4), leaseBackendData(l, 6)]).toEqual([{ v: 4 }, { v: 6 }]);
    // A PublicIP of the wrong family, or not an address, is no PublicIP.
    expect(leasePublicIP({ ...l, attrs: { publicIP: '2001:db8::1', publicIPv6: 'nonsense' } }, 4)).toBeUndefined();
    expect(leasePublicIP({ ...l, attrs: { publicIP: '2001:db8::1', publicIPv6: 'nonsense' } }, 6)).toBeUndefined();
  });
  it('writes our attributes of each family, and publishes one public IP per family', () => {
    expect(familyAttrs(4, '192.0.2.1', { VNI: 1 })).toEqual({ publicIP: '192.0.2.1', backendData: { VNI: 1 } });
    expect(familyAttrs(6, '2001:db8::1', { VNI: 1 })).toEqual({ publicIPv6: '2001:db8::1', backendV6Data: { VNI: 1 } });
    expect(familyAttrs(6, '2001:db8::1')).toEqual({ publicIPv6: '2001:db8::1' });
    const addrs = new Map([
      [4, { local: '192.0.2.1', publicIP: '203.0.113.1' }],
      [6, { local: '2001:db8::1', publicIP: '2001:db8::1' }],
    ] as const);
    expect(publishedIPs({ name: 'eth0', index: 2, mtu: 1500, addrs })).toEqual({ publicIP: '203.0.113.1', publicIPv6: '2001:db8::1' });
  });
});
