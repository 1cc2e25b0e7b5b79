// kube-dns's pure parts: names, the records of services and endpoints, the zone, the answer to a
// query (NXDOMAIN, NODATA, CNAME, SRV, PTR, truncation, FORMERR), the upstream cache, resolv.conf;
// and the server's handling of one message without upstreams (SERVFAIL) or with garbage.
import { decode, encode, type Answer, type Packet, RECURSION_DESIRED } from 'dns-packet';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../common/index.js';
import {
  addDnsOptions,
  AnswerCache,
  addressOfReverse,
  compressIPv6,
  dashed,
  decide,
  DnsServer,
  dnsOptions,
  encodeForUdp,
  Forwarder,
  formerrFor,
  parseResolvConf,
  RCODE,
  recordsOf,
  refusal,
  renderResolvConf,
  reverseName,
  ttlOf,
  udpLimit,
  undashed,
  upstreamServers,
  Zone,
  type DnsEndpoints,
  type DnsService,
} from '../dns/index.js';

const D = 'cluster.local';
const svc = (name: string, spec: DnsService['spec'], ns = 'default'): DnsService => ({ metadata: { name, namespace: ns }, spec });
const eps = (name: string, addrs: { ip: string; hostname?: string }[], ports: { name?: string; port: number; protocol?: string }[] = [], notReady: { ip: string }[] = []): DnsEndpoints => ({
  metadata: { name, namespace: 'default' },
  subsets: [{ addresses: addrs, notReadyAddresses: notReady, ports }],
});
const query = (name: string, type: string, extra: Partial<Packet> = {}): ReturnType<typeof decode> => decode(encode({ type: 'query', id: 4242, flags: RECURSION_DESIRED, questions: [{ name, type: type as 'A', class: 'IN' }], ...extra }));
const rcode = (p: Packet): number => (p.flags ?? 0) & 0xf;
const data = (as: readonly Answer[] | undefined): unknown[] => (as ?? []).map((a) => ('data' in a ? a.data : undefined));

function zone(): Zone {
  const z = new Zone(D);
  z.setService('default/webapp', svc('webapp', { clusterIP: '10.254.0.20', clusterIPs: ['10.254.0.20', 'fd00::20'], ports: [{ name: 'http', protocol: 'TCP', port: 80 }, { port: 81 }] }));
  z.setEndpoints('default/webapp', eps('webapp', [{ ip: '10.20.5.3' }], [{ name: 'http', port: 8080 }]));
  z.setService('default/db', svc('db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] }));
  z.setEndpoints('default/db', eps('db', [{ ip: '10.20.1.4', hostname: 'db-0' }, { ip: '10.20.2.5' }], [{ name: 'pg', port: 5432, protocol: 'TCP' }], [{ ip: '10.20.3.6' }]));
  z.setService('default/ext', svc('ext', { type: 'ExternalName', externalName: 'example.org.' }));
  z.setService('default/alias', svc('alias', { type: 'ExternalName', externalName: 'webapp.default.svc.cluster.local' }));
  return z;
}

const answer = (z: Zone, name: string, type: string): Packet => {
  const d = decide(query(name, type), z);
  if (d.kind === 'forward') throw new Error(`${name} forwarded`);
  return d.packet;
};

describe('names', () => {
  it('reverse names both ways, IPv4 and IPv6', () => {
    expect(reverseName('10.5.1.3')).toBe('3.1.5.10.in-addr.arpa');
    expect(addressOfReverse('3.1.5.10.in-addr.arpa')).toBe('10.5.1.3');
    const r6 = reverseName('fd00::1')!;
    expect(r6).toMatch(/^1(\.0){29}\.d\.f\.ip6\.arpa$/);
    expect(addressOfReverse(r6)).toBe('fd00::1');
    expect(addressOfReverse('300.1.5.10.in-addr.arpa')).toBeUndefined();
    expect(addressOfReverse('example.org')).toBeUndefined();
  });
  it('dashed pod addresses', () => {
    expect(dashed('10.5.1.3')).toBe('10-5-1-3');
    expect(undashed('10-5-1-3')).toBe('10.5.1.3');
    expect(dashed('fd00:0:0::1')).toBe('fd00--1');
    expect(undashed('fd00--1')).toBe('fd00::1');
    expect(undashed('10-5-1')).toBeUndefined();
    expect(undashed('web')).toBeUndefined();
    expect(compressIPv6('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
  });
});

describe('records of a service', () => {
  it('ClusterIP: A, AAAA, PTR, SRV for named ports only', () => {
    const r = recordsOf('default', 'webapp', svc('webapp', { clusterIPs: ['10.254.0.20', 'fd00::20'], clusterIP: '10.254.0.20', ports: [{ name: 'http', port: 80 }, { port: 81 }] }), undefined, D, 30);
    expect(r.filter((x) => x.type === 'A').map((x) => [x.name, 'data' in x && x.data])).toEqual([['webapp.default.svc.cluster.local', '10.254.0.20']]);
    expect(r.filter((x) => x.type === 'AAAA')).toHaveLength(1);
    expect(r.filter((x) => x.type === 'SRV').map((x) => x.name)).toEqual(['_http._tcp.webapp.default.svc.cluster.local']);
    expect(r.find((x) => x.type === 'PTR' && x.name === '20.0.254.10.in-addr.arpa')).toBeDefined();
    expect(r.every((x) => x.type === 'OPT' || x.ttl === 30)).toBe(true);
  });
  it('headless: ready addresses only, hostnames and dashed names, SRV per endpoint', () => {
    const r = recordsOf('default', 'db', svc('db', { clusterIP: 'None' }), eps('db', [{ ip: '10.20.1.4', hostname: 'db-0' }, { ip: '10.20.2.5' }], [{ name: 'pg', port: 5432 }], [{ ip: '10.20.3.6' }]), D, 30);
    expect(r.filter((x) => x.name === 'db.default.svc.cluster.local').map((x) => 'data' in x && x.data)).toEqual(['10.20.1.4', '10.20.2.5']);
    expect(r.find((x) => x.name === 'db-0.db.default.svc.cluster.local')).toMatchObject({ type: 'A', data: '10.20.1.4' });
    expect(r.find((x) => x.name === '10-20-2-5.db.default.svc.cluster.local')).toMatchObject({ type: 'A', data: '10.20.2.5' });
    expect(r.filter((x) => x.type === 'SRV').map((x) => 'data' in x && x.data)).toEqual([
      { priority: 0, weight: 50, port: 5432, target: 'db-0.db.default.svc.cluster.local' },
      { priority: 0, weight: 50, port: 5432, target: '10-20-2-5.db.default.svc.cluster.local' },
    ]);
    expect(JSON.stringify(r)).not.toContain('10.20.3.6');
    const pub = recordsOf('default', 'db', svc('db', { clusterIP: 'None', publishNotReadyAddresses: true }), eps('db', [], [], [{ ip: '10.20.3.6' }]), D, 30);
    expect(pub.filter((x) => x.type === 'A').map((x) => 'data' in x && x.data)).toContain('10.20.3.6');
  });
  it('ExternalName is a CNAME; a service without an address has no records; no service, nothing', () => {
    expect(recordsOf('default', 'ext', svc('ext', { type: 'ExternalName', externalName: 'Example.ORG.' }), undefined, D, 30)).toEqual([{ name: 'ext.default.svc.cluster.local', type: 'CNAME', class: 'IN', ttl: 30, data: 'example.org' }]);
    expect(recordsOf('default', 'x', svc('x', { clusterIP: '', ports: [{ name: 'p', port: 1 }] }), undefined, D, 30)).toEqual([]);
    expect(recordsOf('default', 'x', undefined, eps('x', [{ ip: '10.0.0.1' }]), D, 30)).toEqual([]);
  });
});

describe('answers', () => {
  it('A and AAAA of a service, in the asker\'s case, authoritative', () => {
    const p = answer(zone(), 'WebApp.default.svc.cluster.local', 'A');
    expect(rcode(p)).toBe(RCODE.NOERROR);
    expect(p.answers).toEqual([{ name: 'WebApp.default.svc.cluster.local', type: 'A', class: 'IN', ttl: 30, data: '10.254.0.20' }]);
    expect((p.flags ?? 0) & (1 << 10)).toBeTruthy();
    expect(p.id).toBe(4242);
    expect(data(answer(zone(), 'webapp.default.svc.cluster.local.', 'AAAA').answers)).toEqual(['fd00::20']);
  });
  it('NXDOMAIN for a missing name, NODATA (SOA in authority) for another type or an empty non-terminal', () => {
    const nx = answer(zone(), 'nothere.default.svc.cluster.local', 'A');
    expect(rcode(nx)).toBe(RCODE.NXDOMAIN);
    expect(nx.authorities?.[0]).toMatchObject({ type: 'SOA', name: D });
    expect(rcode(answer(zone(), 'webapp.nons.svc.cluster.local', 'A'))).toBe(RCODE.NXDOMAIN);
    for (const [n, t] of [['webapp.default.svc.cluster.local', 'TXT'], ['default.svc.cluster.local', 'A'], ['svc.cluster.local', 'A'], ['cluster.local', 'A']] as const) {
      const p = answer(zone(), n, t);
      expect([n, rcode(p), p.answers?.length]).toEqual([n, RCODE.NOERROR, 0]);
      expect(p.authorities?.[0]?.type).toBe('SOA');
    }
    expect(answer(zone(), 'cluster.local', 'SOA').answers?.[0]?.type).toBe('SOA');
  });
  it('headless service, endpoint hostnames, SRV with the targets\' addresses as glue', () => {
    const z = zone();
    expect(data(answer(z, 'db.default.svc.cluster.local', 'A').answers)).toEqual(['10.20.1.4', '10.20.2.5']);
    expect(data(answer(z, 'db-0.db.default.svc.cluster.local', 'A').answers)).toEqual(['10.20.1.4']);
    const srv = answer(z, '_pg._tcp.db.default.svc.cluster.local', 'SRV');
    expect(srv.answers).toHaveLength(2);
    expect(data(srv.additionals)).toEqual(['10.20.1.4', '10.20.2.5']);
    const s2 = answer(z, '_http._tcp.webapp.default.svc.cluster.local', 'SRV');
    expect(data(s2.answers)).toEqual([{ priority: 0, weight: 100, port: 80, target: 'webapp.default.svc.cluster.local' }]);
    expect(rcode(answer(z, '_nope._tcp.webapp.default.svc.cluster.local', 'SRV'))).toBe(RCODE.NXDOMAIN);
  });
  it('pod names from the name itself', () => {
    expect(answer(zone(), '10-5-1-3.default.pod.cluster.local', 'A').answers).toMatchObject([{ type: 'A', data: '10.5.1.3' }]);
    expect(answer(zone(), 'fd00--7.kube-system.pod.cluster.local', 'AAAA').answers).toMatchObject([{ type: 'AAAA', data: 'fd00::7' }]);
    expect(rcode(answer(zone(), '10-5-1.default.pod.cluster.local', 'A'))).toBe(RCODE.NXDOMAIN);
    expect(answer(zone(), '10-5-1-3.default.pod.cluster.local', 'AAAA').answers).toEqual([]);
  });
  it('PTR for ClusterIPs and endpoint addresses; other reverse names and outside names are forwarded', () => {
    const z = zone();
    expect(data(answer(z, '20.0.254.10.in-addr.arpa', 'PTR').answers)).toEqual(['webapp.default.svc.cluster.local']);
    expect(data(answer(z, '4.1.20.10.in-addr.arpa', 'PTR').answers)).toEqual(['db-0.db.default.svc.cluster.local']);
    expect(data(answer(z, '3.5.20.10.in-addr.arpa', 'PTR').answers)).toEqual(['10-20-5-3.webapp.default.svc.cluster.local']);
    expect(data(answer(z, reverseName('fd00::20')!, 'PTR').answers)).toEqual(['webapp.default.svc.cluster.local']);
    expect(decide(query('9.9.9.10.in-addr.arpa', 'PTR'), z).kind).toBe('forward');
    expect(decide(query('example.org', 'A'), z).kind).toBe('forward');
  });
  it('ExternalName: the CNAME, its target chased upstream or in the zone', () => {
    const z = zone();
    const d = decide(query('ext.default.svc.cluster.local', 'A'), z);
    expect(d).toMatchObject({ kind: 'chase', target: { name: 'example.org', type: 'A' } });
    const c = answer(z, 'ext.default.svc.cluster.local', 'CNAME');
    expect(c.answers).toMatchObject([{ type: 'CNAME', data: 'example.org' }]);
    expect(answer(z, 'alias.default.svc.cluster.local', 'A').answers).toMatchObject([{ type: 'CNAME' }, { type: 'A', data: '10.254.0.20' }]);
  });
  it('the zone follows changes: a removed service is NXDOMAIN, its namespace gone with it', () => {
    const z = zone();
    const g = z.generation;
    z.setService('default/webapp', undefined);
    expect(z.generation).toBeGreaterThan(g);
    expect(rcode(answer(z, 'webapp.default.svc.cluster.local', 'A'))).toBe(RCODE.NXDOMAIN);
    expect(decide(query('20.0.254.10.in-addr.arpa', 'PTR'), z).kind).toBe('forward');
    for (const k of ['default/db', 'default/ext', 'default/alias']) z.setService(k, undefined);
    expect(rcode(answer(z, 'default.svc.cluster.local', 'A'))).toBe(RCODE.NXDOMAIN);
    z.resetServices(new Map([['other/web', svc('web', { clusterIP: '10.254.9.9' }, 'other')]]));
    expect(data(answer(z, 'web.other.svc.cluster.local', 'A').answers)).toEqual(['10.254.9.9']);
  });
  it('truncates a UDP answer past 512 bytes, or past the EDNS size (names are not compressed: 20 A records are ~950 bytes)', () => {
    const z = new Zone(D);
    z.setService('default/big', svc('big', { clusterIP: 'None' }));
    z.setEndpoints('default/big', eps('big', Array.from({ length: 20 }, (_, i) => ({ ip: `10.30.0.${i + 1}` }))));
    const q = query('big.default.svc.cluster.local', 'A');
    const d = decide(q, z);
    expect(d.kind).toBe('answer');
    const p = (d as { packet: Packet }).packet;
    const small = decode(encodeForUdp(p, udpLimit(q)));
    expect(small.flag_tc).toBe(true);
    expect(small.answers).toEqual([]);
    expect(small.questions).toEqual(q.questions);
    expect(decode(encodeForUdp(p, 65535)).answers).toHaveLength(20);
    const qe = query('big.default.svc.cluster.local', 'A', { additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] });
    expect(udpLimit(qe)).toBe(1232);
    const pe = (decide(qe, z) as { packet: Packet }).packet;
    const e = decode(encodeForUdp(pe, udpLimit(qe)));
    expect([e.flag_tc, e.answers?.length]).toEqual([false, 20]);
    expect(e.additionals?.find((a) => a.type === 'OPT')).toBeDefined();
  });
  it('refuses what is no single query: FORMERR, NOTIMP, a response ignored; garbage with a header gets FORMERR', () => {
    expect(rcode(refusal(decode(encode({ type: 'query', id: 1, questions: [] }))) as Packet)).toBe(RCODE.FORMERR);
    expect(rcode(refusal(decode(encode({ type: 'query', id: 1, flags: 2 << 11, questions: [{ name: 'a', type: 'A' }] }))) as Packet)).toBe(RCODE.NOTIMP);
    expect(refusal(decode(encode({ type: 'response', id: 1, questions: [{ name: 'a', type: 'A' }] })))).toBe('ignore');
    expect(refusal(query('a', 'A'))).toBeUndefined();
    const f = decode(formerrFor(Buffer.from([0x12, 0x34, 0x01, 0, 0, 9, 0xff, 0xff]).subarray(0, 8)) ?? Buffer.alloc(12));
    expect(f.id).toBe(0); // shorter than a header: nothing to answer
    const g = formerrFor(Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0xc0, 0xff])]))!;
    expect(decode(g)).toMatchObject({ id: 0x1234, rcode: 'FORMERR' });
  });
});

describe('the answer cache', () => {
  const upstream = (ttl: number, rc = 0): Packet => ({ type: 'response', id: 7, flags: 0x0180 | rc, questions: [{ name: 'example.org', type: 'A', class: 'IN' }], answers: rc ? [] : [{ name: 'example.org', type: 'A', class: 'IN', ttl, data: '192.0.2.1' }], authorities: rc === 3 ? [{ name: 'org', type: 'SOA', class: 'IN', ttl: 900, data: { mname: 'a', rname: 'b', minimum: 60 } }] : [] });
  it('keeps an answer for its TTL, counting down, with the asker\'s id; SERVFAIL is never kept', () => {
    const c = new AnswerCache(10);
    const q = query('Example.org', 'A');
    c.put(q.questions![0]!, upstream(100), 0);
    const hit = c.get({ ...q, id: 99 }, 40_500)!;
    expect(hit.id).toBe(99);
    expect(hit.answers).toMatchObject([{ data: '192.0.2.1', ttl: 60 }]);
    expect(c.get(q, 100_000)).toBeUndefined();
    expect(ttlOf(upstream(100, 2), 3600)).toBe(0);
    expect(ttlOf(upstream(100, 3), 3600)).toBe(60);
    expect(ttlOf(upstream(100_000), 3600)).toBe(3600);
  });
  it('is bounded, the least recently used going first', () => {
    const c = new AnswerCache(2);
    for (const n of ['a.org', 'b.org']) c.put({ name: n, type: 'A', class: 'IN' }, upstream(100), 0);
    c.get(query('a.org', 'A'), 1);
    c.put({ name: 'c.org', type: 'A', class: 'IN' }, upstream(100), 2);
    expect(c.size).toBe(2);
    expect(c.get(query('b.org', 'A'), 3)).toBeUndefined();
    expect(c.get(query('a.org', 'A'), 3)).toBeDefined();
  });
});

describe('resolv.conf', () => {
  it('reads nameservers, the last search/domain, options; renders it back', () => {
    const c = parseResolvConf('# c\nnameserver 10.0.0.2\nnameserver 127.0.0.1:5353 ; here\ndomain x.example\nsearch a.example. b.example\noptions ndots:2 rotate\nnameserver [::1]:54\nbogus line\n');
    expect(c).toEqual({ nameservers: ['10.0.0.2', '127.0.0.1:5353', '[::1]:54'], searches: ['a.example', 'b.example'], options: ['ndots:2', 'rotate'] });
    expect(upstreamServers(c)).toEqual([{ address: '10.0.0.2', port: 53 }, { address: '127.0.0.1', port: 5353 }, { address: '::1', port: 54 }]);
    expect(upstreamServers(parseResolvConf('nameserver not-an-ip\n'))).toEqual([]);
    expect(renderResolvConf(c)).toBe('nameserver 10.0.0.2\nnameserver 127.0.0.1:5353\nnameserver [::1]:54\nsearch a.example b.example\noptions ndots:2 rotate\n');
    expect(renderResolvConf({ nameservers: ['1.1.1.1'], searches: [], options: [] })).toBe('nameserver 1.1.1.1\n');
  });
});

describe('the server, one message at a time', () => {
  const server = (): DnsServer => new DnsServer(zone(), new Forwarder([], { timeoutMs: 100, log: silentLogger }), { bindAddress: '127.0.0.1', port: 0, log: silentLogger });
  it('answers from the zone (again from its memo, under the new id); SERVFAIL when no upstream answers', async () => {
    const s = server();
    const a = decode((await s.handle(encode({ type: 'query', id: 1, questions: [{ name: 'webapp.default.svc.cluster.local', type: 'A' }] }), 'udp'))!);
    const b = decode((await s.handle(encode({ type: 'query', id: 2, questions: [{ name: 'webapp.default.svc.cluster.local', type: 'A' }] }), 'udp'))!);
    expect([a.id, b.id, data(b.answers)]).toEqual([1, 2, ['10.254.0.20']]);
    s.zone.setService('default/webapp', svc('webapp', { clusterIP: '10.254.0.21' }));
    const c = decode((await s.handle(encode({ type: 'query', id: 3, questions: [{ name: 'webapp.default.svc.cluster.local', type: 'A' }] }), 'udp'))!);
    expect(data(c.answers)).toEqual(['10.254.0.21']);
    const f = decode((await s.handle(encode({ type: 'query', id: 4, questions: [{ name: 'example.org', type: 'A' }] }), 'udp'))!);
    expect(rcode(f)).toBe(RCODE.SERVFAIL);
  });
  it('SERVFAIL for the cluster domain until the zone is listed (no NXDOMAIN for clients to cache)', async () => {
    let listed = false;
    const s = new DnsServer(zone(), new Forwarder([], { timeoutMs: 100, log: silentLogger }), { bindAddress: '127.0.0.1', port: 0, ready: () => listed, log: silentLogger });
    const ask = async () => decode((await s.handle(encode({ type: 'query', id: 1, questions: [{ name: 'webapp.default.svc.cluster.local', type: 'A' }] }), 'udp'))!);
    expect(rcode(await ask())).toBe(RCODE.SERVFAIL);
    listed = true;
    expect(data((await ask()).answers)).toEqual(['10.254.0.20']);
  });
  it('never throws on garbage', async () => {
    const s = server();
    for (let i = 0; i < 300; i++) {
      const junk = Buffer.from(Array.from({ length: i % 60 }, (_, k) => (k * 7919 + i * 104729) & 255));
      const out = await s.handle(junk, i % 2 ? 'udp' : 'tcp');
      if (out) expect(out.length).toBeGreaterThanOrEqual(12);
    }
  });
});

describe('kube-dns flags', () => {
  const parse = (args: string[]) => {
    const cmd = addDnsOptions(new Command('kube-dns')).exitOverride().configureOutput({ writeErr: () => undefined });
    cmd.parse(args, { from: 'user' });
    return dnsOptions(cmd.opts());
  };
  it('kube-dns\'s names and defaults; the API from a kubeconfig and/or a master URL', () => {
    const o = parse(['--kubecfg-file=/k.conf']);
    expect(o).toMatchObject({ api: { kubeconfig: '/k.conf' }, domain: 'cluster.local', dnsPort: 53, dnsBindAddress: '0.0.0.0', resolvConf: '/etc/resolv.conf', healthzPort: 8081 });
    expect(parse(['--kubeconfig=/k.conf', '--domain=K8s.Cluster.', '--dns-port=5353']).domain).toBe('k8s.cluster');
    expect(parse(['--kube-master-url=http://10.0.0.1:8080']).api).toEqual({ servers: ['http://10.0.0.1:8080'] });
    expect(parse(['--kubeconfig=/k', '--kube-master-url=http://m:8080']).api).toEqual({ kubeconfig: '/k', servers: ['http://m:8080'] });
    // Neither: the in-cluster configuration, as kube-dns in its pod.
    expect(parse([]).api).toEqual({});
  });
  it('refuses what it cannot use, naming the flag', () => {
    expect(() => parse(['--kubecfg-file=/a', '--kubeconfig=/b'])).toThrow(/--kubecfg-file and --kubeconfig/);
    expect(() => parse(['--kubeconfig=/k', '--domain=bad_domain'])).toThrow(/--domain/);
    expect(() => parse(['--kubeconfig=/k', '--dns-port=70000'])).toThrow(/--dns-port/);
    expect(() => parse(['--kubeconfig=/k', '--dns-bind-address=localhost'])).toThrow(/--dns-bind-address/);
    expect(() => parse(['--kube-master-url=master:8080'])).toThrow(/--kube-master-url/);
  });
});
