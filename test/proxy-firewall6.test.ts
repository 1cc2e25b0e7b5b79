// loadBalancerSourceRanges in both tables: each family's ranges (merged, canonical) guard the LoadBalancer
// addresses of that family, as kube-proxy's nftables mode splits them; ranges of only the other family
// leave this family's addresses open. Checked on the parsed model, the rendered v6 rules and elements,
// and through the fake kernel's packet tracer on `table ip6 kube-proxy`.
import { describe, expect, it } from 'vitest';
import type { Endpoints, Service } from '../cluster/index.js';
import { silentLogger } from '../common/index.js';
import { baseChains, cidrList, type ConntrackPort, parseEndpoints, parseService, Proxier, ProxyState, setDecl } from '../proxy/index.js';
import { FakeNft } from './harness/index.js';

const LB4 = '192.0.2.11';
const LB6 = '2001:db8:5::10';
const ALLOWED6 = '2001:db8:1::7';
const REFUSED6 = '2001:db8:1::8';

function lb(ranges: readonly string[] | undefined, name = 'lb'): Service {
  return {
    metadata: { name, namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z' },
    spec: {
      type: 'LoadBalancer',
      clusterIP: '10.254.0.30',
      clusterIPs: ['10.254.0.30', 'fd00:254::30'],
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
      ...(ranges && { loadBalancerSourceRanges: ranges }),
      ports: [{ port: 80, targetPort: 8080, nodePort: 30090 }],
    },
    status: { loadBalancer: { ingress: [{ ip: LB4 }, { ip: LB6 }] } },
  };
}
const eps: Endpoints = {
  metadata: { name: 'lb', namespace: 'default' },
  subsets: [{ addresses: [{ ip: '10.5.1.2', nodeName: 'a' }, { ip: 'fc00:0:0:1::2', nodeName: 'a' }], ports: [{ port: 8080, protocol: 'TCP' }] }],
};

describe('loadBalancerSourceRanges split by family', () => {
  const mixed = ['198.51.100.0/24', '2001:db8:1::/125', '2001:DB8:1::4/126', ' 2001:db8:2::9 ', '198.51.100.128/25', '2001:db8:3::ff/64'];

  it('gives each table the merged, canonical ranges of its family and serves both LoadBalancer addresses', () => {
    const [v4] = parseService('default/lb', lb(mixed), 4);
    const [v6] = parseService('default/lb', lb(mixed), 6);
    expect(v4).toMatchObject({ loadBalancerIPs: [LB4], sourceRanges: ['198.51.100.0/24'] });
    // /126 inside the /125 is dropped, the bare address is a /128, host bits are cleared.
    expect(v6).toMatchObject({ loadBalancerIPs: [LB6], sourceRanges: ['2001:db8:3::/64', '2001:db8:1::/125', '2001:db8:2::9/128'] });
  });

  it('leaves the addresses of a family without ranges of its own open, as kube-proxy does', () => {
    const [v6] = parseService('default/lb', lb(['198.51.100.0/24']), 6);
    expect(v6!.loadBalancerIPs).toEqual([LB6]);
    expect(v6!.sourceRanges).toBeUndefined();
    const [v4] = parseService('default/lb', lb(['2001:db8:1::/64']), 4);
    expect(v4!.loadBalancerIPs).toEqual([LB4]);
    expect(v4!.sourceRanges).toBeUndefined();
  });

  it('takes a zero-length prefix as every source of its family (no firewall there)', () => {
    expect(cidrList('default/lb', ['::/0', '2001:db8:1::/64', '198.51.100.0/24'], 6)).toEqual([]);
    expect(cidrList('default/lb', ['::/0', '198.51.100.0/24'], 4)).toEqual(['198.51.100.0/24']);
    expect(cidrList('default/lb', ['0.0.0.0/0'], 4)).toEqual([]);
  });

  it('names a bad range in either table', () => {
    for (const f of [4, 6] as const) {
      expect(() => parseService('default/lb', lb(['2001:db8::/64', '2001:db8::/129']), f)).toThrow(/spec.loadBalancerSourceRanges\[1\] must be an IPv4 or IPv6 CIDR \(got "2001:db8::\/129"\)/);
      expect(() => parseService('default/lb', lb(['nope']), f)).toThrow(/spec.loadBalancerSourceRanges\[0\] must be an IPv4 or IPv6 CIDR/);
    }
  });
});

describe('the v6 firewall rules', () => {
  const CFG6 = { masqMark: 0x4000, clusterCIDR: 'fc00::/48', family: 6 as const };

  it('declares the firewall sets with IPv6 addresses and checks the source with ip6 saddr', () => {
    expect(setDecl('firewall-ips', 6)).toBe('type ipv6_addr . inet_proto . inet_service ;');
    expect(setDecl('firewall-allow', 6)).toBe('type ipv6_addr . inet_proto . inet_service . ipv6_addr ; flags interval ;');
    const chains = baseChains(CFG6);
    expect(chains.find((c) => c.name === 'firewall-check')!.rules).toEqual(['ip6 daddr . meta l4proto . th dport . ip6 saddr @firewall-allow return', 'drop']);
    expect(chains.find((c) => c.name === 'filter-prerouting')!.rules[0]).toBe('ct state new ip6 daddr . meta l4proto . th dport @firewall-ips jump firewall-check');
  });

  it('writes the v6 LoadBalancer frontend and its v6 ranges, nothing of v4, into table ip6 kube-proxy', () => {
    const st = new ProxyState(CFG6);
    st.services.update('default/lb', parseService('default/lb', lb(['198.51.100.0/24', '2001:db8:1::/125']), 6));
    st.endpoints.update('default/lb', parseEndpoints('default/lb', eps, 'a', 6));
    const script = st.plan({ full: true }).script;
    expect(script).toContain(`add element ip6 kube-proxy firewall-ips { ${LB6} . tcp . 80 }`);
    expect(script).toContain(`add element ip6 kube-proxy firewall-allow { ${LB6} . tcp . 80 . 2001:db8:1::/125 }`);
    expect(script).toContain(`${LB6} . tcp . 80 : goto ext-pick-tcp-1`);
    expect(script).not.toMatch(/198\.51\.100|192\.0\.2\.11|\bip kube-proxy/);
  });
});

describe('the v6 firewall through the fake kernel', () => {
  const noConntrack: ConntrackPort = { flush: async () => 0 };
  const tcp6 = (src: string, dst: string, dport: number) => ({ src, dst, proto: 'tcp' as const, dport, localAddrs: ['2001:db8:9::1', '::1'] });

  async function proxier(svc: Service) {
    const nft = new FakeNft();
    const p = new Proxier({ nodeName: 'a', ruleset: { masqMark: 0x4000, clusterCIDR: 'fc00::/48', family: 6 }, minSyncMs: 0, syncPeriodMs: 60_000 }, { nft, conntrack: noConntrack, log: silentLogger });
    p.resetServices(new Map([['default/lb', svc]]));
    p.resetEndpoints(new Map([['default/lb', eps]]));
    p.setSynced('services');
    p.setSynced('endpoints');
    await p.sync();
    return { nft, p };
  }

  it('serves the v6 LoadBalancer address to its v6 ranges only; the node port and ClusterIP stay open', async () => {
    const { nft } = await proxier(lb(['198.51.100.0/24', '2001:db8:1::/125']));
    expect(nft.trace(tcp6(ALLOWED6, LB6, 80), 'ip6 kube-proxy')).toMatchObject({ verdict: 'accept', dnat: { ip: 'fc00:0:0:1::2', port: 8080 }, masquerade: true });
    expect(nft.trace(tcp6(REFUSED6, LB6, 80), 'ip6 kube-proxy').verdict).toBe('drop');
    expect(nft.trace(tcp6(REFUSED6, '2001:db8:9::1', 30090), 'ip6 kube-proxy').dnat).toEqual({ ip: 'fc00:0:0:1::2', port: 8080 });
    expect(nft.trace(tcp6(REFUSED6, 'fd00:254::30', 80), 'ip6 kube-proxy').dnat).toEqual({ ip: 'fc00:0:0:1::2', port: 8080 });
  });

  it('follows a change of the ranges in a partial sync, and opens the address when only v4 ranges are left', async () => {
    const { nft, p } = await proxier(lb(['2001:db8:1::/125']));
    expect(nft.trace(tcp6(REFUSED6, LB6, 80), 'ip6 kube-proxy').verdict).toBe('drop');
    p.updateService('default/lb', lb(['2001:db8:1::8/128']));
    await p.sync();
    expect(nft.applied.at(-1)).not.toMatch(/flush/);
    expect(nft.trace(tcp6(REFUSED6, LB6, 80), 'ip6 kube-proxy').verdict).toBe('accept');
    expect(nft.trace(tcp6(ALLOWED6, LB6, 80), 'ip6 kube-proxy').verdict).toBe('drop');
    p.updateService('default/lb', lb(['198.51.100.0/24']));
    await p.sync();
    for (const src of [ALLOWED6, REFUSED6]) expect(nft.trace(tcp6(src, LB6, 80), 'ip6 kube-proxy')).toMatchObject({ verdict: 'accept', dnat: { ip: 'fc00:0:0:1::2', port: 8080 } });
  });
});
