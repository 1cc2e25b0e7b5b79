// kube-dns (from dist/) against one real etcd and one real kube-apiserver, on 127.0.0.1 with a free
// port, asked through node's own resolver (c-ares, the resolver client of node:dns) and raw dns-packet
// queries over UDP and TCP. Its upstream is a tiny DNS server this test runs on loopback, named in a
// resolv.conf the test writes (never the machine's). Services and Endpoints are written through the API
// (no controller manager: the test writes the Endpoints itself).
import { spawn, type ChildProcess } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encode } from 'dns-packet';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APISERVER_BIN, ApiServerProc, dnsQuery, dnsUdpRaw, EtcdServer, freePort, TinyDns } from '../harness/index.js';

const MANIFEST = path.join(path.dirname(path.dirname(APISERVER_BIN)), '..', 'dns', 'kube-dns.yaml');
const DNS_BIN = path.join(path.dirname(path.dirname(APISERVER_BIN)), 'dns', 'main.js');
const DOMAIN = 'k8s.cluster';
const HOST = '127.0.0.1';

let dir: string;
let etcd: EtcdServer | undefined;
let srv: ApiServerProc | undefined;
let upstream: TinyDns | undefined;
let dns: ChildProcess | undefined;
let port: number;
let webappIP: string;

const resolver = (): Resolver => {
  const r = new Resolver({ timeout: 2000, tries: 2 });
  r.setServers([`${HOST}:${port}`]);
  return r;
};
/** dns-packet decodes the rcode's name too, though its types do not say so. */
const rcodeOf = (p: object): string | undefined => (p as { rcode?: string }).rcode;
const errCode = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));

async function api(method: string, p: string, body?: unknown): Promise<Record<string, any>> {
  const r = await srv!.request(method, p, body);
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  return r.json as Record<string, any>;
}

/** Polls `fn` until `ok` holds (bounded: 100 tries within `ms`); the last value. */
async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await fn();
  for (let i = 0; i < 100 && !ok(v) && Date.now() < deadline; i++) {
    await new Promise((r) => setTimeout(r, 200));
    v = await fn();
  }
  return v;
}

const endpoints = (name: string, addrs: { ip: string; hostname?: string }[], ports: { name: string; port: number; protocol?: string }[]) => ({
  apiVersion: 'v1',
  kind: 'Endpoints',
  metadata: { name, namespace: 'default' },
  subsets: [{ addresses: addrs, ports }],
});

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kube-dns-it-'));
  etcd = await EtcdServer.start();
  srv = await ApiServerProc.start(etcd.endpoint, dir);
  upstream = await TinyDns.start({
    'outside.test': [{ name: 'outside.test', type: 'A', ttl: 300, data: '192.0.2.7' }],
    'short.test': [{ name: 'short.test', type: 'A', ttl: 1, data: '192.0.2.8' }],
    'target.test': [{ name: 'target.test', type: 'A', ttl: 300, data: '192.0.2.9' }],
    'wide.test': Array.from({ length: 40 }, (_, i) => ({ name: 'wide.test', type: 'A' as const, ttl: 300, data: `198.51.100.${i + 1}` })),
  });
  await writeFile(path.join(dir, 'resolv.conf'), `# the test's own upstream\nnameserver ${HOST}:${upstream.port}\nsearch example.invalid\n`);
  await api('POST', '/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'webapp' }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
  webappIP = (await api('GET', '/api/v1/namespaces/default/services/webapp')).spec.clusterIP as string;
  await api('POST', '/api/v1/namespaces/default/endpoints', endpoints('webapp', [{ ip: '10.20.5.3' }], [{ name: 'http', port: 8080 }]));
  await api('POST', '/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db' }, spec: { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] } });
  await api('POST', '/api/v1/namespaces/default/endpoints', endpoints('db', [{ ip: '10.20.1.4', hostname: 'db-0' }, { ip: '10.20.2.5' }], [{ name: 'pg', port: 5432, protocol: 'TCP' }]));
  await api('POST', '/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'target.test' } });
  await api('POST', '/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'many' }, spec: { clusterIP: 'None', ports: [{ name: 'x', port: 1 }] } });
  await api('POST', '/api/v1/namespaces/default/endpoints', endpoints('many', Array.from({ length: 30 }, (_, i) => ({ ip: `10.30.0.${i + 1}` })), [{ name: 'x', port: 1 }]));

  port = await freePort();
  dns = spawn(process.execPath, [DNS_BIN, `--kubeconfig=${srv.kubeconfig}`, `--domain=${DOMAIN}`, `--dns-bind-address=${HOST}`, `--dns-port=${port}`, `--resolv-conf=${path.join(dir, 'resolv.conf')}`, '--healthz-port=0', '--upstream-timeout=300'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(path.join(dir, 'kube-dns.log'));
  dns.stdout?.pipe(log);
  dns.stderr?.pipe(log);
  const first = await until(() => errCode(resolver().resolve4(`webapp.default.svc.${DOMAIN}`)), (c) => c === 'ok', 30_000);
  if (first !== 'ok') throw new Error(`kube-dns did not answer: ${first} (log in ${dir})`);
}, 120_000);

afterAll(async () => {
  if (dns?.pid && dns.exitCode === null) {
    dns.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    if (dns.exitCode === null) dns.kill('SIGKILL');
  }
  await upstream?.close().catch(() => undefined);
  await srv?.stop();
  await etcd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('kube-dns on the API', () => {
  it('A of a service (its ClusterIP), SRV of its named port, NODATA for AAAA, NXDOMAIN for a missing one', async () => {
    const r = resolver();
    expect(await r.resolve4(`webapp.default.svc.${DOMAIN}`)).toEqual([webappIP]);
    expect(await r.resolveSrv(`_http._tcp.webapp.default.svc.${DOMAIN}`)).toEqual([{ name: `webapp.default.svc.${DOMAIN}`, port: 80, priority: 0, weight: 100 }]);
    expect(await errCode(r.resolve6(`webapp.default.svc.${DOMAIN}`))).toBe('ENODATA');
    expect(await errCode(r.resolve4(`nothere.default.svc.${DOMAIN}`))).toBe('ENOTFOUND');
    const nodata = await dnsQuery(HOST, port, { questions: [{ name: `webapp.default.svc.${DOMAIN}`, type: 'TXT' }] }, 'udp');
    expect([rcodeOf(nodata), nodata.answers?.length, nodata.authorities?.[0]?.type]).toEqual(['NOERROR', 0, 'SOA']);
  });

  it('headless service: the ready endpoint addresses, endpoint hostnames, SRV per endpoint', async () => {
    const r = resolver();
    expect((await r.resolve4(`db.default.svc.${DOMAIN}`)).sort()).toEqual(['10.20.1.4', '10.20.2.5']);
    expect(await r.resolve4(`db-0.db.default.svc.${DOMAIN}`)).toEqual(['10.20.1.4']);
    expect((await r.resolveSrv(`_pg._tcp.db.default.svc.${DOMAIN}`)).map((s) => s.name).sort()).toEqual([`10-20-2-5.db.default.svc.${DOMAIN}`, `db-0.db.default.svc.${DOMAIN}`]);
  });

  it('pod names, PTR of a ClusterIP and of an endpoint address', async () => {
    const r = resolver();
    expect(await r.resolve4(`10-5-1-3.default.pod.${DOMAIN}`)).toEqual(['10.5.1.3']);
    expect(await r.reverse(webappIP)).toEqual([`webapp.default.svc.${DOMAIN}`]);
    expect(await r.reverse('10.20.1.4')).toEqual([`db-0.db.default.svc.${DOMAIN}`]);
  });

  it('ExternalName: the CNAME with its target resolved upstream', async () => {
    const r = resolver();
    expect(await r.resolveCname(`ext.default.svc.${DOMAIN}`)).toEqual(['target.test']);
    const a = await dnsQuery(HOST, port, { flags: 1 << 8, questions: [{ name: `ext.default.svc.${DOMAIN}`, type: 'A' }] }, 'udp');
    expect(a.answers?.map((x) => [x.type, 'data' in x && x.data])).toEqual([['CNAME', 'target.test'], ['A', '192.0.2.9']]);
  });

  it('forwards other names to the upstream, caches them for their TTL', async () => {
    const r = resolver();
    const before = upstream!.queries;
    expect(await r.resolve4('outside.test')).toEqual(['192.0.2.7']);
    expect(await r.resolve4('outside.test')).toEqual(['192.0.2.7']);
    expect(await r.resolve4('OUTSIDE.test')).toEqual(['192.0.2.7']);
    expect(upstream!.queries - before).toBe(1);
    const ttl = await r.resolve4('outside.test', { ttl: true });
    expect(ttl[0]!.ttl).toBeLessThanOrEqual(300);
    expect(ttl[0]!.ttl).toBeGreaterThan(200);
    // A TTL of 1 s: asked again once it ran out.
    await r.resolve4('short.test');
    const mid = upstream!.queries;
    await new Promise((res) => setTimeout(res, 1500));
    expect(await r.resolve4('short.test')).toEqual(['192.0.2.8']);
    expect(upstream!.queries).toBe(mid + 1);
    expect(await errCode(r.resolve4('missing.test'))).toBe('ENOTFOUND');
  });

  it('TCP answers in full what UDP truncates; the resolver falls back to TCP by itself', async () => {
    const q = { questions: [{ name: `many.default.svc.${DOMAIN}`, type: 'A' as const }] };
    const u = await dnsQuery(HOST, port, q, 'udp');
    expect([u.flag_tc, u.answers?.length]).toEqual([true, 0]);
    const t = await dnsQuery(HOST, port, q, 'tcp');
    expect([t.flag_tc, t.answers?.length]).toEqual([false, 30]);
    expect(await resolver().resolve4(`many.default.svc.${DOMAIN}`)).toHaveLength(30);
    // Forwarded: the upstream's truncated UDP answer is fetched again over TCP and served in full over TCP.
    const w = await dnsQuery(HOST, port, { flags: 1 << 8, questions: [{ name: 'wide.test', type: 'A' }] }, 'tcp');
    expect(w.answers).toHaveLength(40);
    const wu = await dnsQuery(HOST, port, { flags: 1 << 8, questions: [{ name: 'wide.test', type: 'A' }] }, 'udp');
    expect(wu.flag_tc).toBe(true);
  });

  it('follows the API: a service added answers within a bounded wait, and is NXDOMAIN once deleted', async () => {
    const name = `late.default.svc.${DOMAIN}`;
    expect(await errCode(resolver().resolve4(name))).toBe('ENOTFOUND');
    await api('POST', '/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'late' }, spec: { ports: [{ port: 81 }] } });
    const ip = (await api('GET', '/api/v1/namespaces/default/services/late')).spec.clusterIP as string;
    const got = await until(() => resolver().resolve4(name).catch(() => [] as string[]), (v) => v.length > 0);
    expect(got).toEqual([ip]);
    await api('DELETE', '/api/v1/namespaces/default/services/late');
    expect(await until(() => errCode(resolver().resolve4(name)), (c) => c === 'ENOTFOUND')).toBe('ENOTFOUND');
  });

  it('survives garbage on its port: FORMERR when a header is there, nothing otherwise, and answers on', async () => {
    const garbage = Buffer.concat([Buffer.from([0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]), Buffer.from('\u00ff\u00ffnot a name')]);
    const f = await dnsUdpRaw(HOST, port, garbage, 2000);
    expect(f && [f.readUInt16BE(0), f[3]! & 0xf]).toEqual([0xabcd, 1]);
    expect(await dnsUdpRaw(HOST, port, Buffer.from([1, 2, 3]), 500)).toBeUndefined();
    const resp = encode({ type: 'response', id: 5, questions: [{ name: 'x', type: 'A' }] });
    expect(await dnsUdpRaw(HOST, port, resp, 500)).toBeUndefined();
    expect(await resolver().resolve4(`webapp.default.svc.${DOMAIN}`)).toEqual([webappIP]);
  });

  it('the shipped manifest is accepted by the apiserver, and its Service answers by name with the well-known ClusterIP', async () => {
    const docs = parseAllDocuments(await readFile(MANIFEST, 'utf8')).map((d) => d.toJS() as Record<string, any>);
    const svc = docs.find((d) => d.kind === 'Service')!;
    const dep = docs.find((d) => d.kind === 'Deployment')!;
    expect(svc.spec.ports.map((p: { name: string; protocol: string; port: number }) => `${p.name} ${p.port}/${p.protocol}`)).toEqual(['dns 53/UDP', 'dns-tcp 53/TCP']);
    await api('POST', '/api/v1/namespaces/kube-system/services', svc);
    await api('POST', '/apis/apps/v1/namespaces/kube-system/deployments', dep);
    const name = `kube-dns.kube-system.svc.${DOMAIN}`;
    expect(await until(() => resolver().resolve4(name).catch(() => [] as string[]), (v) => v.length > 0)).toEqual(['10.254.0.10']);
    expect(await resolver().resolveSrv(`_dns._udp.${name}`)).toEqual([{ name, port: 53, priority: 0, weight: 100 }]);
  });

  it('SERVFAIL when the upstream is down (cached names still answer)', async () => {
    await upstream!.close();
    const p = await dnsQuery(HOST, port, { flags: 1 << 8, questions: [{ name: 'never-asked.test', type: 'A' }] }, 'udp', 5000);
    expect(rcodeOf(p)).toBe('SERVFAIL');
    expect(await errCode(resolver().resolve4('another.test'))).toBe('ESERVFAIL');
    expect(await resolver().resolve4('outside.test')).toEqual(['192.0.2.7']);
    expect(await resolver().resolve4(`webapp.default.svc.${DOMAIN}`)).toEqual([webappIP]);
    expect(dns!.exitCode).toBeNull();
  });
});
