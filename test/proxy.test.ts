// The proxy's pure parts: parsing, slots, change tracking, rule generation checked through a fake
// nftables and a packet tracer, the proxier's full/partial/failed syncs, and the UDP conntrack plan.
import { describe, expect, it } from 'vitest';
import type { Endpoints, Service } from '../cluster/index.js';
import { silentLogger } from '../common/index.js';
import {
  ChangeTracker,
  NftError,
  Proxier,
  ProxyState,
  assignSlots,
  parseEndpoints,
  parseService,
  type ConntrackFlush,
  type ConntrackPort,
} from '../proxy/index.js';
import { FakeNft } from './harness/index.js';

const CFG = { masqMark: 0x4000, clusterCIDR: '10.5.0.0/16' };
const NODE = 'a';
const LOCAL = ['192.0.2.11', '10.5.1.1', '127.0.0.1'];

function svc(name: string, spec: Partial<Service['spec']> & { ports?: Service['spec']['ports'] }, created = '2024-01-01T00:00:00Z'): Service {
  return { metadata: { name, namespace: 'default', creationTimestamp: created }, spec: { ports: [{ port: 80, targetPort: 8080 }], ...spec } };
}

function eps(name: string, ips: readonly string[], port = 8080, o: { portName?: string; protocol?: 'TCP' | 'UDP'; nodeName?: (ip: string) => string } = {}): Endpoints {
  return {
    metadata: { name, namespace: 'default' },
    subsets: ips.length
      ? [{ addresses: ips.map((ip) => ({ ip, nodeName: o.nodeName?.(ip) ?? 'b' })), ports: [{ ...(o.portName && { name: o.portName }), port, protocol: o.protocol ?? 'TCP' }] }]
      : [],
  };
}

class RecordingConntrack implements ConntrackPort {
  readonly calls: ConntrackFlush[] = [];
  async flush(f: ConntrackFlush): Promise<number> {
    this.calls.push(f);
    return 1;
  }
}

function setup() {
  const nft = new FakeNft();
  const ct = new RecordingConntrack();
  const p = new Proxier({ nodeName: NODE, ruleset: CFG, minSyncMs: 0, syncPeriodMs: 60_000 }, { nft, conntrack: ct, log: silentLogger });
  return { nft, ct, p };
}

async function ready(p: Proxier, services: Record<string, Service> = {}, endpoints: Record<string, Endpoints> = {}) {
  p.resetServices(new Map(Object.entries(services).map(([k, v]) => [`default/${k}`, v])));
  p.resetEndpoints(new Map(Object.entries(endpoints).map(([k, v]) => [`default/${k}`, v])));
  p.setSynced('services');
  p.setSynced('endpoints');
  await p.sync();
}

/** Deterministic "random" numbers cycling through [0,1). */
const cycle = (n: number) => {
  let i = 0;
  return () => (i++ % n) / n + 1e-9;
};

describe('parseService', () => {
  it('turns each port into a service port with its defaults', () => {
    const ports = parseService('default/web', svc('web', { clusterIP: '10.254.0.10', type: 'NodePort', sessionAffinity: 'ClientIP', ports: [{ name: 'http', port: 80, nodePort: 30080 }, { name: 'dns', port: 53, protocol: 'UDP' }] }));
    expect(ports).toEqual([
      expect.objectContaining({ key: 'default/web:http', protocol: 'tcp', port: 80, clusterIP: '10.254.0.10', nodePort: 30080, affinityTimeout: 10800 }),
      expect.objectContaining({ key: 'default/web:dns', protocol: 'udp', port: 53, clusterIP: '10.254.0.10', affinityTimeout: 10800 }),
    ]);
    expect(ports[1]).not.toHaveProperty('nodePort');
  });

  it('leaves out the ClusterIP of headless and unallocated services, and ignores nodePort on ClusterIP services', () => {
    expect(parseService('default/h', svc('h', { clusterIP: 'None' }))[0]).not.toHaveProperty('clusterIP');
    expect(parseService('default/u', svc('u', {}))[0]).not.toHaveProperty('clusterIP');
    expect(parseService('default/c', svc('c', { clusterIP: '10.254.0.1', ports: [{ port: 80, nodePort: 30001 }] }))[0]).not.toHaveProperty('nodePort');
  });

  it('names the bad field', () => {
    expect(() => parseService('default/x', svc('x', { ports: [{ port: 0 }] }))).toThrow(/spec.ports\[0\].port must be 1..65535/);
    expect(() => parseService('default/x', svc('x', { clusterIP: 'nope' }))).toThrow(/spec.clusterIP/);
    expect(() => parseService('default/x', svc('x', { ports: [{ port: 1, name: 'a' }, { port: 2, name: 'a' }] }))).toThrow(/spec.ports\[1\].name must be unique/);
    expect(() => parseService('default/x', svc('x', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } } }))).toThrow(/timeoutSeconds/);
  });
});

describe('parseEndpoints', () => {
  it('keys ready endpoints by port name and protocol, marks local ones, drops not-ready ones', () => {
    const e: Endpoints = {
      metadata: { name: 'web' },
      subsets: [
        { addresses: [{ ip: '10.5.2.3', nodeName: 'b' }, { ip: '10.5.1.2', nodeName: 'a' }], notReadyAddresses: [{ ip: '10.5.1.9' }], ports: [{ name: 'http', port: 8080 }] },
        { addresses: [{ ip: '10.5.1.7', nodeName: 'a' }], ports: [{ name: 'http', port: 9090 }] },
      ],
    };
    const m = parseEndpoints('default/web', e, 'a');
    expect(m.get('http/tcp')).toEqual([
      { ip: '10.5.1.2', port: 8080, local: true },
      { ip: '10.5.1.7', port: 9090, local: true },
      { ip: '10.5.2.3', port: 8080, local: false },
    ]);
  });
});

describe('assignSlots', () => {
  it('keeps endpoints in their slots, fills holes with new ones, compacts from the end', () => {
    expect(assignSlots(undefined, ['a', 'b', 'c'])).toEqual(['a', 'b', 'c']);
    expect(assignSlots(['a', 'b', 'c', 'd'], ['a', 'c', 'd'])).toEqual(['a', 'd', 'c']);
    expect(assignSlots(['a', 'b', 'c'], ['a', 'c', 'x'])).toEqual(['a', 'x', 'c']);
    expect(assignSlots(['a', 'b'], ['b', 'c', 'd'])).toEqual(['c', 'b', 'd']);
    expect(assignSlots(['a', 'b', 'c'], [])).toEqual([]);
  });
});

describe('ChangeTracker', () => {
  it('reports a key only when it differs from the last drain', () => {
    const t = new ChangeTracker<{ v: number }>();
    expect(t.update('a', { v: 1 })).toBe(true);
    expect([...t.drain()]).toEqual(['a']);
    expect(t.update('a', { v: 2 })).toBe(true);
    expect(t.update('a', { v: 1 })).toBe(false); // changed and changed back
    expect(t.hasPending).toBe(false);
    t.update('b', { v: 1 });
    expect(t.reset(new Map([['b', { v: 1 }]]))).toBe(true); // a deleted, b pending still
    expect([...t.drain()].sort()).toEqual(['a', 'b']);
  });
});

describe('rules through the fake kernel and the tracer', () => {
  const services = {
    web: svc('web', { clusterIP: '10.254.0.10', type: 'NodePort', ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }] }),
    empty: svc('empty', { clusterIP: '10.254.0.11', type: 'NodePort', ports: [{ port: 80, nodePort: 30081 }] }),
    sticky: svc('sticky', { clusterIP: '10.254.0.12', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }),
    dns: svc('dns', { clusterIP: '10.254.0.53', ports: [{ port: 53, protocol: 'UDP' }] }),
  };
  const endpoints = {
    web: eps('web', ['10.5.1.2', '10.5.2.3', '10.5.2.4'], 8080, { nodeName: (ip) => (ip.startsWith('10.5.1.') ? 'a' : 'b') }),
    sticky: eps('sticky', ['10.5.1.5', '10.5.2.5']),
    dns: eps('dns', ['10.5.2.53'], 53, { protocol: 'UDP' }),
  };

  it('sends ClusterIP connections to every endpoint in equal shares', async () => {
    const { nft, p } = setup();
    await ready(p, services, endpoints);
    const counts = new Map<string, number>();
    const rnd = cycle(3);
    for (let i = 0; i < 300; i++) {
      const r = nft.trace({ src: '10.5.1.9', dst: '10.254.0.10', proto: 'tcp', dport: 80, localAddrs: LOCAL, rnd });
      expect(r.verdict).toBe('accept');
      counts.set(r.dnat!.ip, (counts.get(r.dnat!.ip) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ '10.5.1.2': 100, '10.5.2.3': 100, '10.5.2.4': 100 });
    const r = nft.trace({ src: '10.5.1.9', dst: '10.254.0.10', proto: 'tcp', dport: 80, localAddrs: LOCAL });
    expect(r.path).toEqual(['filter-prerouting', 'nat-prerouting', 'services', 'pick-tcp-3', 'mark-hairpin', 'nat-postrouting']);
    expect(r.masquerade).toBe(false); // pod to pod: the source is kept
  });

  it('masquerades hairpin traffic (a pod reaching itself) but not a pod reaching another pod', async () => {
    const { nft, p } = setup();
    await ready(p, services, endpoints);
    const hair = nft.trace({ src: '10.5.1.2', dst: '10.254.0.10', proto: 'tcp', dport: 80, localAddrs: LOCAL, rnd: () => 0 });
    expect(hair.dnat).toEqual({ ip: '10.5.1.2', port: 8080 });
    expect(hair.masquerade).toBe(true);
    const other = nft.trace({ src: '10.5.1.2', dst: '10.254.0.10', proto: 'tcp', dport: 80, localAddrs: LOCAL, rnd: () => 0.5 });
    expect(other.dnat).toEqual({ ip: '10.5.2.3', port: 8080 });
    expect(other.masquerade).toBe(false);
  });

  it('serves node ports on the node addresses, masqueraded, and rejects what has no endpoints', async () => {
    const { nft, p } = setup();
    await ready(p, services, endpoints);
    const np = nft.trace({ src: '192.0.2.13', dst: '192.0.2.11', proto: 'tcp', dport: 30080, localAddrs: LOCAL, rnd: () => 0.9 });
    expect(np).toMatchObject({ verdict: 'accept', dnat: { ip: '10.5.2.4', port: 8080 }, masquerade: true });
    expect(nft.trace({ src: '192.0.2.13', dst: '192.0.2.12', proto: 'tcp', dport: 30080, localAddrs: LOCAL }).dnat).toBeUndefined(); // not ours
    expect(nft.trace({ src: '10.5.1.9', dst: '10.254.0.11', proto: 'tcp', dport: 80, localAddrs: LOCAL }).verdict).toBe('reject');
    expect(nft.trace({ src: '192.0.2.13', dst: '192.0.2.11', proto: 'tcp', dport: 30081, localAddrs: LOCAL }).verdict).toBe('reject');
    expect(nft.trace({ src: '10.5.1.9', dst: '10.254.0.10', proto: 'udp', dport: 80, localAddrs: LOCAL }).dnat).toBeUndefined(); // wrong protocol
    expect(nft.trace({ src: '192.0.2.11', dst: '10.254.0.11', proto: 'tcp', dport: 80, hook: 'output', localAddrs: LOCAL }).verdict).toBe('reject');
  });

  it("masquerades the node's own and outside traffic to ClusterIPs", async () => {
    const { nft, p } = setup();
    await ready(p, services, endpoints);
    expect(nft.trace({ src: '192.0.2.11', dst: '10.254.0.10', proto: 'tcp', dport: 80, hook: 'output', localAddrs: LOCAL }).masquerade).toBe(true);
    expect(nft.trace({ src: '192.0.2.99', dst: '10.254.0.10', proto: 'tcp', dport: 80, localAddrs: LOCAL }).masquerade).toBe(true);
    expect(nft.trace({ src: '10.5.3.3', dst: '10.254.0.10', proto: 'tcp', dport: 80, localAddrs: LOCAL }).masquerade).toBe(false);
  });

  it('keeps a client on one endpoint while its affinity lasts', async () => {
    const { nft, p } = setup();
    await ready(p, services, endpoints);
    const rnd = cycle(2);
    const first = nft.trace({ src: '10.5.1.9', dst: '10.254.0.12', proto: 'tcp', dport: 80, localAddrs: LOCAL, rnd });
    for (let i = 0; i < 10; i++) expect(nft.trace({ src: '10.5.1.9', dst: '10.254.0.12', proto: 'tcp', dport: 80, localAddrs: LOCAL, rnd }).dnat).toEqual(first.dnat);
    const other = nft.trace({ src: '10.5.3.3', dst: '10.254.0.12', proto: 'tcp', dport: 80, localAddrs: LOCAL, rnd });
    expect(other.dnat).not.toEqual(first.dnat);
    nft.now += 61_000; // the timeout passed
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      nft.now += 61_000;
      seen.add(nft.trace({ src: '10.5.1.9', dst: '10.254.0.12', proto: 'tcp', dport: 80, localAddrs: LOCAL, rnd }).dnat!.ip);
    }
    expect(seen.size).toBe(2);
  });

  it('writes only the changed elements in a partial sync, and one chain per endpoint count', async () => {
    const { nft, p } = setup();
    await ready(p, services, endpoints);
    expect(nft.chainNames().filter((c) => /pick|aff/.test(c))).toEqual(['aff-slot-tcp-0-60', 'aff-slot-tcp-1-60', 'aff-tcp-2-60', 'np-pick-tcp-3', 'pick-tcp-3', 'pick-udp-1']);
    p.updateEndpoints('default/web', eps('web', ['10.5.1.2', '10.5.2.4'], 8080, { nodeName: () => 'b' }));
    await p.sync();
    const script = nft.applied.at(-1)!;
    expect(script).toBe(
      [
        'add chain ip kube-proxy pick-tcp-2',
        'add rule ip kube-proxy pick-tcp-2 dnat ip to ip daddr . tcp dport . numgen random mod 2 map @endpoints-tcp',
        'add chain ip kube-proxy np-pick-tcp-2',
        'add rule ip kube-proxy np-pick-tcp-2 meta mark set meta mark | 0x4000',
        'add rule ip kube-proxy np-pick-tcp-2 dnat ip to tcp dport . numgen random mod 2 map @nodeport-endpoints-tcp',
        'delete element ip kube-proxy service-ips { 10.254.0.10 . tcp . 80 }',
        'delete element ip kube-proxy endpoints-tcp { 10.254.0.10 . 80 . 1, 10.254.0.10 . 80 . 2 }',
        'delete element ip kube-proxy service-nodeports { tcp . 30080 }',
        'delete element ip kube-proxy nodeport-endpoints-tcp { 30080 . 1, 30080 . 2 }',
        'delete element ip kube-proxy hairpin { 10.5.1.2 . 10.5.1.2 }',
        'add element ip kube-proxy service-ips { 10.254.0.10 . tcp . 80 : goto pick-tcp-2 }',
        'add element ip kube-proxy endpoints-tcp { 10.254.0.10 . 80 . 1 : 10.5.2.4 . 8080 }',
        'add element ip kube-proxy service-nodeports { tcp . 30080 : goto np-pick-tcp-2 }',
        'add element ip kube-proxy nodeport-endpoints-tcp { 30080 . 1 : 10.5.2.4 . 8080 }',
        '',
      ].join('\n'),
    );
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) seen.add(nft.trace({ src: '10.5.1.9', dst: '10.254.0.10', proto: 'tcp', dport: 80, localAddrs: LOCAL }).dnat!.ip);
    expect([...seen].sort()).toEqual(['10.5.1.2', '10.5.2.4']);
  });

  it('turns a service without endpoints into a reject, and a deleted service into nothing', async () => {
    const { nft, p } = setup();
    await ready(p, services, endpoints);
    p.updateEndpoints('default/web', eps('web', []));
    await p.sync();
    expect(nft.trace({ src: '10.5.1.9', dst: '10.254.0.10', proto: 'tcp', dport: 80, localAddrs: LOCAL }).verdict).toBe('reject');
    p.updateService('default/web', undefined);
    await p.sync();
    const r = nft.trace({ src: '10.5.1.9', dst: '10.254.0.10', proto: 'tcp', dport: 80, localAddrs: LOCAL });
    expect(r).toMatchObject({ verdict: 'accept', masquerade: false });
    expect(r.dnat).toBeUndefined();
    expect(nft.elements('cluster-ips').has('10.254.0.10')).toBe(false);
  });

  it('plans UDP conntrack deletions for endpoints that left and frontends that got endpoints', async () => {
    const { ct, p } = setup();
    await ready(p, services, endpoints);
    expect(ct.calls).toEqual([{ origDst: '10.254.0.53', origPortDst: 53 }]);
    ct.calls.length = 0;
    p.updateEndpoints('default/dns', eps('dns', ['10.5.2.54'], 53, { protocol: 'UDP' }));
    await p.sync();
    expect(ct.calls).toEqual([{ origDst: '10.254.0.53', origPortDst: 53, dstNat: '10.5.2.53' }]);
    ct.calls.length = 0;
    p.updateEndpoints('default/web', eps('web', ['10.5.9.9'])); // TCP: nothing to flush
    await p.sync();
    expect(ct.calls).toEqual([]);
  });

  it('gives a contested ClusterIP:port to the older service on every node', async () => {
    const { nft, p } = setup();
    const older = svc('older', { clusterIP: '10.254.0.20' }, '2024-01-01T00:00:00Z');
    const newer = svc('newer', { clusterIP: '10.254.0.20' }, '2024-02-01T00:00:00Z');
    await ready(p, { newer, older }, { older: eps('older', ['10.5.1.1']), newer: eps('newer', ['10.5.1.2']) });
    expect(nft.trace({ src: '10.5.1.9', dst: '10.254.0.20', proto: 'tcp', dport: 80, localAddrs: LOCAL }).dnat?.ip).toBe('10.5.1.1');
    p.updateService('default/older', undefined);
    await p.sync();
    expect(nft.trace({ src: '10.5.1.9', dst: '10.254.0.20', proto: 'tcp', dport: 80, localAddrs: LOCAL }).dnat?.ip).toBe('10.5.1.2');
  });
});

describe('Proxier', () => {
  it('writes nothing before both initial listings are in', async () => {
    const { nft, p } = setup();
    p.resetServices(new Map([['default/web', svc('web', { clusterIP: '10.254.0.10' })]]));
    p.setSynced('services');
    await p.sync();
    expect(nft.applied).toEqual([]);
    p.setSynced('endpoints');
    await p.sync();
    expect(nft.applied).toHaveLength(1);
  });

  it('follows a failed sync with a full one that repairs whatever the kernel lost', async () => {
    const { nft, p } = setup();
    await ready(p, { web: svc('web', { clusterIP: '10.254.0.10' }) }, { web: eps('web', ['10.5.1.2']) });
    // Someone flushes our map by hand: the next partial delete fails (ENOENT) ...
    nft.apply('flush map ip kube-proxy endpoints-tcp\n');
    p.updateEndpoints('default/web', eps('web', ['10.5.1.3']));
    const err = await p.sync().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NftError);
    expect((err as NftError).line).toBe(1);
    expect((err as NftError).context[0]).toMatch(/^>1: delete element ip kube-proxy endpoints-tcp/);
    // ... and the retry is a full sync.
    await p.sync();
    expect(nft.applied.at(-1)).toMatch(/^add table ip kube-proxy\n/);
    expect(nft.trace({ src: '10.5.1.9', dst: '10.254.0.10', proto: 'tcp', dport: 80, localAddrs: LOCAL }).dnat?.ip).toBe('10.5.1.3');
  });

  it('recreates the table after two failed full syncs, and never names another table', async () => {
    const { nft, p } = setup();
    nft.apply('add table ip kube-proxy\nadd map ip kube-proxy endpoints-tcp { type ipv4_addr : ipv4_addr ; }\nadd table ip nat\nadd chain ip nat POSTROUTING { type nat hook postrouting priority srcnat ; policy accept ; }\n');
    const before = nft.applied.length;
    await expect(ready(p, { web: svc('web', { clusterIP: '10.254.0.10' }) }, { web: eps('web', ['10.5.1.2']) })).rejects.toBeInstanceOf(NftError);
    await expect(p.sync()).rejects.toBeInstanceOf(NftError);
    await p.sync();
    expect(nft.applied.at(-1)).toMatch(/^add table ip kube-proxy\ndelete table ip kube-proxy\nadd table ip kube-proxy\n/);
    expect(nft.trace({ src: '10.5.1.9', dst: '10.254.0.10', proto: 'tcp', dport: 80, localAddrs: LOCAL }).dnat?.ip).toBe('10.5.1.2');
    expect(nft.hasTable('ip', 'nat')).toBe(true);
    for (const s of nft.applied.slice(before)) for (const line of s.split('\n').filter(Boolean)) expect(line).toMatch(/ ip kube-proxy( |$)/);
  });

  it('removes pick chains nothing uses at the next full sync', async () => {
    const { nft, p } = setup();
    await ready(p, { s: svc('s', { clusterIP: '10.254.0.10', sessionAffinity: 'ClientIP' }) }, { s: eps('s', ['10.5.1.2', '10.5.1.3']) });
    expect(nft.chainNames()).toContain('aff-tcp-2-10800');
    p.updateService('default/s', svc('s', { clusterIP: '10.254.0.10' }));
    await p.sync();
    expect(nft.chainNames()).toContain('aff-tcp-2-10800'); // a partial sync leaves it
    // @ts-expect-error -- force the periodic full sync
    p.lastFull = 0;
    await p.sync();
    expect(nft.chainNames().filter((c) => /pick|aff/.test(c))).toEqual(['pick-tcp-2']);
    expect(nft.dump()).not.toMatch(/set affinity-/);
  });

  it('coalesces: a change that is undone before the sync writes nothing', async () => {
    const { nft, p } = setup();
    await ready(p, { web: svc('web', { clusterIP: '10.254.0.10' }) }, { web: eps('web', ['10.5.1.2']) });
    const n = nft.applied.length;
    p.updateEndpoints('default/web', eps('web', ['10.5.1.3']));
    p.updateEndpoints('default/web', eps('web', ['10.5.1.2']));
    await p.sync();
    expect(nft.applied).toHaveLength(n);
  });
});

describe('ProxyState UDP conntrack plan', () => {
  it('names IPv6 frontends and endpoints whole (no splitting on ":")', () => {
    const st = new ProxyState(CFG);
    const name = 'default/dns6';
    const info = { key: `${name}:`, service: name, portName: '', protocol: 'udp' as const, port: 53, clusterIP: 'fd00:96::a', nodePort: 30053, createdAt: '' };
    const ep = (ip: string) => ({ ip, port: 5353, local: false });
    st.services.update(name, [info]);
    st.endpoints.update(name, new Map([['/udp', [ep('fd00:5:1::2'), ep('fd00:5:2::3')]]]));
    // Frontends that got endpoints: flows that reached them un-NATed are forgotten.
    expect(new Set(st.plan({ full: true }).conntrack)).toEqual(new Set([{ origDst: 'fd00:96::a', origPortDst: 53 }, { origPortDst: 30053 }]));
    st.endpoints.update(name, new Map([['/udp', [ep('fd00:5:2::3')]]]));
    // The endpoint that left: its NATed flows, on both frontends.
    expect(new Set(st.plan({ full: false }).conntrack)).toEqual(
      new Set([
        { origDst: 'fd00:96::a', origPortDst: 53, dstNat: 'fd00:5:1::2' },
        { origPortDst: 30053, dstNat: 'fd00:5:1::2' },
      ]),
    );
    st.endpoints.update(name, new Map([['/udp', [ep('fd00:5:2::3')]]]));
    expect(st.plan({ full: false }).conntrack).toEqual([]);
  });
});

describe('ProxyState at scale', () => {
  it('plans a full sync of 10,000 services x 5 endpoints and a one-service partial sync', () => {
    const st = new ProxyState(CFG);
    for (let i = 0; i < 10_000; i++) {
      const name = `default/s${i}`;
      st.services.update(name, parseService(name, svc(`s${i}`, { clusterIP: `10.254.${i >> 8}.${i & 255}` })));
      st.endpoints.update(name, parseEndpoints(name, eps(`s${i}`, [0, 1, 2, 3, 4].map((k) => `10.${100 + ((i * 5 + k) >> 16)}.${((i * 5 + k) >> 8) & 255}.${(i * 5 + k) & 255}`)), NODE));
    }
    const full = st.plan({ full: true });
    expect(full.script.split('\n').filter((l) => l.startsWith('add element')).length).toBe(20 + 100 + 20);
    st.applied(full);
    st.services.update('default/new', parseService('default/new', svc('new', { clusterIP: '10.254.200.1' })));
    st.endpoints.update('default/new', parseEndpoints('default/new', eps('new', ['10.200.0.1', '10.200.0.2', '10.200.0.3', '10.200.0.4', '10.200.0.5']), NODE));
    const part = st.plan({ full: false });
    expect(part.servicePortsChanged).toBe(1);
    expect(part.script.trim().split('\n')).toHaveLength(3); // service-ips, endpoints, cluster-ips
  }, 60_000);
});
