// Dual stack in the proxy: a service's addresses and endpoints split by family, and the v6 half of the
// layout rendered into `table ip6 kube-proxy` (ip6 expressions, ipv6_addr sets), the v4 table unchanged.
import { describe, expect, it } from 'vitest';
import type { Endpoints, Service } from '../cluster/index.js';
import { baseChains, chainDef, parseEndpoints, parseService, ProxyState, renderCleanup, setDecl } from '../proxy/index.js';

const svc: Service = {
  metadata: { name: 'web', namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z' },
  spec: {
    type: 'NodePort',
    clusterIP: '10.96.0.10',
    clusterIPs: ['10.96.0.10', 'fd00:96::a'],
    ipFamilies: ['IPv4', 'IPv6'],
    ipFamilyPolicy: 'RequireDualStack',
    externalIPs: ['192.0.2.80', '2001:db8::80'],
    ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }],
  },
};
const eps: Endpoints = {
  metadata: { name: 'web', namespace: 'default' },
  subsets: [{ addresses: [{ ip: '10.5.1.2', nodeName: 'a' }, { ip: 'fc00:0:0:1::2', nodeName: 'a' }, { ip: 'fc00:0:0:2::3', nodeName: 'b' }], ports: [{ port: 8080, protocol: 'TCP' }] }],
};

describe('a dual-stack service in each family', () => {
  it('gives each table the ClusterIP, external IPs and endpoints of its family', () => {
    const [v4] = parseService('default/web', svc, 4);
    const [v6] = parseService('default/web', svc, 6);
    expect(v4).toMatchObject({ clusterIP: '10.96.0.10', nodePort: 30080, externalIPs: ['192.0.2.80'] });
    expect(v6).toMatchObject({ clusterIP: 'fd00:96::a', nodePort: 30080, externalIPs: ['2001:db8::80'] });
    expect([...parseEndpoints('default/web', eps, 'a', 4).values()][0]!.map((e) => e.ip)).toEqual(['10.5.1.2']);
    expect([...parseEndpoints('default/web', eps, 'a', 6).values()][0]!.map((e) => `${e.ip}${e.local ? ' local' : ''}`)).toEqual(['fc00:0:0:1::2 local', 'fc00:0:0:2::3']);
  });

  it('leaves a single-stack service to the table of its family', () => {
    const v6only: Service = { ...svc, spec: { ...svc.spec, clusterIP: 'fd00:96::b', clusterIPs: ['fd00:96::b'], ipFamilies: ['IPv6'], externalIPs: [] } };
    expect(parseService('default/web', v6only, 4)).toEqual([]);
    expect(parseService('default/web', v6only, 6)).toHaveLength(1);
    const v4only: Service = { ...svc, spec: { ...svc.spec, clusterIPs: ['10.96.0.10'], ipFamilies: ['IPv4'], externalIPs: [] } };
    expect(parseService('default/web', v4only, 6)).toEqual([]);
  });
});

describe('table ip6 kube-proxy', () => {
  const CFG6 = { masqMark: 0x4000, clusterCIDR: 'fc00::/48', family: 6 as const };

  it('declares the sets with IPv6 addresses and matches with ip6 expressions', () => {
    expect(setDecl('service-ips', 6)).toBe('type ipv6_addr . inet_proto . inet_service : verdict ;');
    expect(setDecl('endpoints-tcp', 6)).toBe('typeof ip6 daddr . tcp dport . numgen random mod 1 : ip6 daddr . tcp dport ;');
    expect(setDecl('affinity-0', 6)).toMatch(/^type ipv6_addr \. ipv6_addr \. inet_proto/);
    expect(setDecl('service-ips')).toBe('type ipv4_addr . inet_proto . inet_service : verdict ;');
    const rules = baseChains(CFG6).flatMap((c) => c.rules);
    expect(rules).toContain('ip6 saddr != fc00::/48 ip6 daddr @cluster-ips meta mark set meta mark | 0x4000');
    expect(rules).toContain('fib daddr type local ip6 daddr != ::1 meta l4proto . th dport vmap @service-nodeports');
    expect(rules.join('\n')).not.toMatch(/\bip (s|d)addr\b|127\.0\.0\.0/);
    expect(chainDef('pick-tcp-2', CFG6).rules).toEqual(['dnat ip6 to ip6 daddr . tcp dport . numgen random mod 2 map @endpoints-tcp']);
    expect(renderCleanup(['pick-tcp-3'], [], 6)).toBe('delete chain ip6 kube-proxy pick-tcp-3\n');
  });

  it('renders a full sync of the v6 half into table ip6 kube-proxy only', () => {
    const st = new ProxyState(CFG6);
    st.services.update('default/web', parseService('default/web', svc, 6));
    st.endpoints.update('default/web', parseEndpoints('default/web', eps, 'a', 6));
    const script = st.plan({ full: true }).script;
    const tables = new Set([...script.matchAll(/ (ip6?) kube-proxy\b/g)].map((m) => m[1]));
    expect(tables).toEqual(new Set(['ip6']));
    expect(script).toContain('add element ip6 kube-proxy service-ips { fd00:96::a . tcp . 80 : goto pick-tcp-2, 2001:db8::80 . tcp . 80 : goto ext-pick-tcp-2 }');
    expect(script).toContain('add element ip6 kube-proxy endpoints-tcp { fd00:96::a . 80 . 0 : fc00:0:0:1::2 . 8080, fd00:96::a . 80 . 1 : fc00:0:0:2::3 . 8080, 2001:db8::80 . 80 . 0 : fc00:0:0:1::2 . 8080, 2001:db8::80 . 80 . 1 : fc00:0:0:2::3 . 8080 }');
  });
});
