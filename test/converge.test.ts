import { describe, expect, it } from 'vitest';
import { Converger, type KernelOp, addFdb, addNeigh, addRoute, describeOp, emptyKernelState } from '../backend/index.js';
import { silentLogger } from '../common/index.js';
import type { Netlink } from '../netlink/index.js';

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
