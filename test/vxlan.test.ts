import { describe, expect, it } from 'vitest';
import { diffKernelState, describeOp, emptyKernelState, addRoute, addNeigh, addFdb } from '../backend/index.js';
import { ConfigError, type Lease, parseCidr } from '../ipam/index.js';
import { desiredVxlanState, parseVxlanConfig, renderVxlanConfig, stableVtepMac } from '../vxlan/index.js';

const peer = (sn: string, ip: string, mac: string, extra: Partial<Lease['attrs']> = {}): Lease => ({
  subnet: parseCidr(sn),
  attrs: { publicIP: ip, backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac }, ...extra },
  reservation: false,
});
const plane = { family: 4 as const, devIndex: 10, extIndex: 2, extCidrs: ['192.0.2.11/24'], directRouting: false };

describe('vxlan config', () => {
  it('fills flannel defaults', () => {
    expect(renderVxlanConfig(parseVxlanConfig({ Type: 'vxlan' }))).toEqual({ Type: 'vxlan', VNI: 1, Port: 8472, GBP: false, Learning: false, DirectRouting: false });
    expect(parseVxlanConfig({ type: 'vxlan', vni: 42, port: 4789, directrouting: true })).toMatchObject({ vni: 42, port: 4789, directRouting: true });
  });
  it.each([
    [{ VNI: -1 }, 'Backend.VNI'],
    [{ VNI: 2 ** 24 }, 'Backend.VNI'],
    [{ Port: 70000 }, 'Backend.Port'],
    [{ DirectRouting: 'yes' }, 'Backend.DirectRouting'],
    [{ MTU: 100 }, 'Backend.MTU'],
  ])('rejects %j naming %s', (raw, path) => {
    expect(() => parseVxlanConfig({ Type: 'vxlan', ...raw })).toThrow(ConfigError);
    try {
      parseVxlanConfig({ Type: 'vxlan', ...raw });
    } catch (e) {
      expect((e as ConfigError).path).toBe(path);
    }
  });
});

describe('VTEP MAC', () => {
  it('is stable for a node, different between nodes, unicast and locally administered', () => {
    const m = stableVtepMac(1, '192.0.2.11');
    expect(m).toBe(stableVtepMac(1, '192.0.2.11'));
    expect(m).not.toBe(stableVtepMac(1, '192.0.2.12'));
    expect(m).not.toBe(stableVtepMac(2, '192.0.2.11'));
    const first = parseInt(m.slice(0, 2), 16);
    expect(first & 1).toBe(0);
    expect(first & 2).toBe(2);
  });
});

describe('desired vxlan state', () => {
  it('programs neighbour, FDB and an onlink route per peer', () => {
    const { state, skipped } = desiredVxlanState([peer('10.5.3.0/24', '192.0.2.13', 'AA:bb:cc:00:00:03')], plane);
    expect(skipped).toEqual([]);
    expect([...state.routes.values()]).toEqual([{ dst: '10.5.3.0/24', gw: '10.5.3.0', ifindex: 10, onlink: true }]);
    expect([...state.neighs.values()]).toEqual([{ ip: '10.5.3.0', mac: 'aa:bb:cc:00:00:03', ifindex: 10 }]);
    expect([...state.fdbs.values()]).toEqual([{ mac: 'aa:bb:cc:00:00:03', dst: '192.0.2.13', ifindex: 10 }]);
  });
  it('routes directly via the peer when DirectRouting and on our segment', () => {
    const peers = [peer('10.5.3.0/24', '192.0.2.13', 'aa:bb:cc:00:00:03'), peer('10.5.4.0/24', '198.51.100.4', 'aa:bb:cc:00:00:04')];
    const { state } = desiredVxlanState(peers, { ...plane, directRouting: true });
    expect([...state.routes.values()]).toEqual([
      { dst: '10.5.3.0/24', gw: '192.0.2.13', ifindex: 2 },
      { dst: '10.5.4.0/24', gw: '10.5.4.0', ifindex: 10, onlink: true },
    ]);
    expect(state.neighs.size).toBe(1);
  });
  it('skips peers of another backend or without a usable VtepMAC, with a reason', () => {
    const { state, skipped } = desiredVxlanState(
      [
        peer('10.5.3.0/24', '192.0.2.13', 'aa:bb:cc:00:00:03', { backendType: 'host-gw' }),
        peer('10.5.4.0/24', '192.0.2.14', 'not-a-mac'),
        { subnet: parseCidr('10.5.5.0/24'), attrs: { publicIP: '192.0.2.15' }, reservation: false },
      ],
      plane,
    );
    expect(state.routes.size).toBe(0);
    expect(skipped.map((s) => s.subnet)).toEqual(['10.5.3.0/24', '10.5.4.0/24', '10.5.5.0/24']);
    expect(skipped[2]!.reason).toContain('udp');
  });
});

describe('kernel state diff', () => {
  it('adds neighbours and FDB before routes, deletes routes first, replaces changed entries', () => {
    const want = emptyKernelState();
    addNeigh(want, { ip: '10.5.3.0', mac: 'aa:bb:cc:00:00:03', ifindex: 10 });
    addFdb(want, { mac: 'aa:bb:cc:00:00:03', dst: '192.0.2.13', ifindex: 10 });
    addRoute(want, { dst: '10.5.3.0/24', gw: '10.5.3.0', ifindex: 10, onlink: true });
    addNeigh(want, { ip: '10.5.4.0', mac: 'aa:bb:cc:00:00:44', ifindex: 10 });
    const have = emptyKernelState();
    addNeigh(have, { ip: '10.5.4.0', mac: 'aa:bb:cc:00:00:04', ifindex: 10 });
    addRoute(have, { dst: '10.5.9.0/24', gw: '10.5.9.0', ifindex: 10, onlink: true });
    addNeigh(have, { ip: '10.5.9.0', mac: 'aa:bb:cc:00:00:09', ifindex: 10 });
    addFdb(have, { mac: 'aa:bb:cc:00:00:09', dst: '192.0.2.19', ifindex: 10 });
    expect(diffKernelState(want, have).map((o) => o.op)).toEqual([
      'del-route',
      'del-neigh',
      'del-fdb',
      'add-neigh',
      'replace-neigh',
      'add-fdb',
      'add-route',
    ]);
    expect(diffKernelState(want, want)).toEqual([]);
  });
  it('replaces a route whose gateway changed', () => {
    const want = emptyKernelState();
    addRoute(want, { dst: '10.5.3.0/24', gw: '10.5.3.0', ifindex: 10, onlink: true });
    const have = emptyKernelState();
    addRoute(have, { dst: '10.5.3.0/24', gw: '192.0.2.13', ifindex: 2 });
    const ops = diffKernelState(want, have);
    expect(ops.map(describeOp)).toEqual(['replace-route route 10.5.3.0/24 via 10.5.3.0 dev #10 onlink']);
  });
});
