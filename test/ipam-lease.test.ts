import { describe, expect, it } from 'vitest';
import {
  CorruptLeaseError,
  type Lease,
  LeaseWatcher,
  formatCidr,
  freeSubnets,
  parseCidr,
  parseLease,
  parseNetworkConfig,
  parseSubnetKeyName,
  pickFreeSubnet,
  previousSubnets,
  renderLeaseAttrs,
  renderSubnetEnv,
  subnetEnvFor,
  subnetKeyName,
} from '../ipam/index.js';
import { silentLogger } from '../common/index.js';

const cfg = parseNetworkConfig('{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}');

describe('lease keys', () => {
  it('round-trips single and dual-stack keys in flannel form', () => {
    expect(subnetKeyName(parseCidr('10.5.72.0/24'))).toBe('10.5.72.0-24');
    expect(subnetKeyName(parseCidr('10.5.72.0/24'), parseCidr('fc00:0:0:48::/64'))).toBe('10.5.72.0-24&fc00:0:0:48::-64');
    expect(subnetKeyName(undefined, parseCidr('fc00:0:0:48::/64'))).toBe('0.0.0.0-0&fc00:0:0:48::-64');
    const k = parseSubnetKeyName('10.5.72.0-24&fc00:0:0:48::-64');
    expect(typeof k !== 'string' && k.subnet && formatCidr(k.subnet)).toBe('10.5.72.0/24');
    expect(typeof k !== 'string' && k.ipv6Subnet && formatCidr(k.ipv6Subnet)).toBe('fc00:0:0:48::/64');
    const only6 = parseSubnetKeyName('0.0.0.0-0&fc00:0:0:48::-64');
    expect(typeof only6 !== 'string' && only6.subnet).toBeUndefined();
  });
  it('rejects malformed keys with a reason', () => {
    for (const k of ['10.5.72.0', '10.5.72.0-33', '10.5.72.1-24', 'garbage', '10.5.72.0-24&10.5.0.0-16', 'a&b&c']) {
      expect(typeof parseSubnetKeyName(k), k).toBe('string');
    }
  });
});

describe('lease values', () => {
  const key = '/coreos.com/network/subnets/10.5.72.0-24';
  it('parses flannel lease JSON and renders it back field for field', () => {
    const raw = '{"PublicIP":"192.0.2.11","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"7e:2d:9a:1c:00:01"}}';
    const l = parseLease(key, raw, false);
    expect(l.attrs).toEqual({ publicIP: '192.0.2.11', backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: '7e:2d:9a:1c:00:01' } });
    expect(renderLeaseAttrs(l.attrs)).toBe(raw);
  });
  it('omits BackendType for udp, as flannel writes it', () => {
    expect(renderLeaseAttrs({ publicIP: '192.0.2.11' })).toBe('{"PublicIP":"192.0.2.11","PublicIPv6":null}');
  });
  it.each([
    ['not JSON', '{"PublicIP":'],
    ['not an object', '"x"'],
    ['no PublicIP', '{"BackendType":"vxlan"}'],
    ['bad PublicIP', '{"PublicIP":"192.0.2"}'],
    ['IPv6 PublicIP', '{"PublicIP":"fc00::1"}'],
    ['PublicIP a number', '{"PublicIP":12}'],
  ])('a corrupt value is a CorruptLeaseError naming the key: %s', (_n, raw) => {
    expect(() => parseLease(key, raw, false)).toThrow(CorruptLeaseError);
    try {
      parseLease(key, raw, false);
    } catch (e) {
      expect((e as CorruptLeaseError).key).toBe(key);
      expect((e as Error).message).toContain(key);
    }
  });
  it('a corrupt key is a CorruptLeaseError', () => {
    expect(() => parseLease('/coreos.com/network/subnets/nonsense', '{"PublicIP":"192.0.2.1"}', false)).toThrow(/bad key/);
  });
});

describe('subnet allocation', () => {
  const net = cfg.v4!;
  it('lists free subnets in order, skipping taken ones and overlaps of other lengths', () => {
    const taken = [parseCidr('10.5.1.0/24'), parseCidr('10.5.2.0/23')];
    expect(freeSubnets(net, taken, 3).map(formatCidr)).toEqual(['10.5.4.0/24', '10.5.5.0/24', '10.5.6.0/24']);
  });
  it('picks randomly within the free window and reports exhaustion', () => {
    const small = parseNetworkConfig('{"Network":"10.5.0.0/22"}').v4!;
    const all = freeSubnets(small, [], 10);
    expect(all.map(formatCidr)).toEqual(['10.5.1.0/24', '10.5.2.0/24', '10.5.3.0/24']);
    expect(formatCidr(pickFreeSubnet(small, [], () => 0.99)!)).toBe('10.5.3.0/24');
    expect(pickFreeSubnet(small, all, Math.random)).toBeUndefined();
  });
});

describe('subnet.env', () => {
  it('renders exactly what flannel writes', () => {
    const lease = { subnet: parseCidr('10.5.72.0/24') };
    expect(renderSubnetEnv(subnetEnvFor(cfg, lease, 1450, false))).toBe(
      'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.72.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n',
    );
  });
  it('renders dual stack and reads back the previous subnets', () => {
    const dual = parseNetworkConfig('{"Network":"10.5.0.0/16","EnableIPv6":true,"IPv6Network":"fc00::/48"}');
    const text = renderSubnetEnv(subnetEnvFor(dual, { subnet: parseCidr('10.5.72.0/24'), ipv6Subnet: parseCidr('fc00:0:0:48::/64') }, 1450, true));
    expect(text).toContain('FLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00:0:0:48::1/64\n');
    const prev = previousSubnets(text);
    expect(prev.subnet && formatCidr(prev.subnet)).toBe('10.5.72.0/24');
    expect(prev.ipv6Subnet && formatCidr(prev.ipv6Subnet)).toBe('fc00:0:0:48::/64');
    expect(previousSubnets('garbage\nFLANNEL_SUBNET=nope\n')).toEqual({});
  });
});

describe('lease watcher', () => {
  const lease = (sn: string, ip: string): Lease => ({ subnet: parseCidr(sn), attrs: { publicIP: ip }, reservation: false });
  it('reports peers once, ignores renewals and our own key, and flags its loss', () => {
    const w = new LeaseWatcher('10.5.1.0-24', silentLogger);
    const r1 = w.apply({
      kind: 'events',
      revision: 5n,
      events: [
        { type: 'put', key: '10.5.1.0-24', lease: lease('10.5.1.0/24', '192.0.2.1') },
        { type: 'put', key: '10.5.2.0-24', lease: lease('10.5.2.0/24', '192.0.2.2') },
      ],
    });
    expect(r1.events.map((e) => `${e.type} ${e.key}`)).toEqual(['added 10.5.2.0-24']);
    const r2 = w.apply({ kind: 'events', revision: 6n, events: [{ type: 'put', key: '10.5.2.0-24', lease: lease('10.5.2.0/24', '192.0.2.2') }] });
    expect(r2.events).toEqual([]);
    const r3 = w.apply({ kind: 'events', revision: 7n, events: [{ type: 'delete', key: '10.5.1.0-24' }] });
    expect(r3.ownLost).toBe(true);
  });
  it('turns a reset snapshot into the difference', () => {
    const w = new LeaseWatcher(undefined, silentLogger);
    w.apply({ kind: 'events', revision: 1n, events: [
      { type: 'put', key: '10.5.2.0-24', lease: lease('10.5.2.0/24', '192.0.2.2') },
      { type: 'put', key: '10.5.3.0-24', lease: lease('10.5.3.0/24', '192.0.2.3') },
    ] });
    const r = w.apply({
      kind: 'reset',
      snapshot: {
        revision: 9n,
        corrupt: [new CorruptLeaseError('x', 'y', 'z')],
        leases: new Map([
          ['10.5.3.0-24', lease('10.5.3.0/24', '192.0.2.3')],
          ['10.5.4.0-24', lease('10.5.4.0/24', '192.0.2.4')],
        ]),
      },
    });
    expect(r.events.map((e) => `${e.type} ${e.key}`)).toEqual(['removed 10.5.2.0-24', 'added 10.5.4.0-24']);
    expect(w.current().map((l) => formatCidr(l.subnet!))).toEqual(['10.5.3.0/24', '10.5.4.0/24']);
  });
  it('treats a peer whose value turns corrupt as removed', () => {
    const w = new LeaseWatcher(undefined, silentLogger);
    w.apply({ kind: 'events', revision: 1n, events: [{ type: 'put', key: '10.5.2.0-24', lease: lease('10.5.2.0/24', '192.0.2.2') }] });
    const r = w.apply({ kind: 'events', revision: 2n, events: [{ type: 'corrupt', key: '10.5.2.0-24', error: new CorruptLeaseError('10.5.2.0-24', '{', 'bad') }] });
    expect(r.events.map((e) => e.type)).toEqual(['removed']);
  });
});
