import { describe, expect, it } from 'vitest';
import { type Lease, parseCidr } from '../ipam/index.js';
import { desiredHostGwState } from '../hostgw/index.js';

const lease = (sn: string, ip: string, backendType = 'host-gw'): Lease => ({ subnet: parseCidr(sn), attrs: { publicIP: ip, backendType }, reservation: false });
const plane = { family: 4 as const, extIndex: 2, extName: 'eth0', extCidrs: ['192.0.2.11/24'] };

describe('host-gw desired routes', () => {
  it('routes each peer subnet via its public IP on the underlay device', () => {
    const { state, skipped } = desiredHostGwState([lease('10.5.3.0/24', '192.0.2.13'), lease('10.5.4.0/24', '192.0.2.14')], plane);
    expect(skipped).toEqual([]);
    expect([...state.routes.values()]).toEqual([
      { dst: '10.5.3.0/24', gw: '192.0.2.13', ifindex: 2 },
      { dst: '10.5.4.0/24', gw: '192.0.2.14', ifindex: 2 },
    ]);
  });
  it('refuses a peer off our L2 segment, naming it, and skips other backends', () => {
    const { state, skipped } = desiredHostGwState([lease('10.5.3.0/24', '198.51.100.9'), lease('10.5.4.0/24', '192.0.2.14', 'vxlan')], plane);
    expect(state.routes.size).toBe(0);
    expect(skipped[0]).toMatchObject({ subnet: '10.5.3.0/24', peer: '198.51.100.9' });
    expect(skipped[0]!.reason).toContain('not directly reachable on eth0 (192.0.2.11/24)');
    expect(skipped[1]!.reason).toContain('vxlan is not host-gw');
  });
});
