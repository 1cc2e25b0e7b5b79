// etcd's v3 JSON gateway client against a real etcd: the same answers as etcd3's gRPC client for
// every call the registry makes (through EtcdRegistry and LeaseManager on each), auth with a
// password, an endpoint that does not answer skipped, and a server with no gateway falling back.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Etcd3, IKeyValue } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdClient, EtcdGateway, type KvPair, NoGatewayError, type PrefixWatchBatch, prefixRangeEnd, silentLogger, watchPrefix, watchPrefixViaGateway } from '../../common/index.js';
import { EtcdRegistry, type EtcdKv, fallbackKv, grpcKv, LeaseManager, parseNetworkConfig } from '../../ipam/index.js';
import { EtcdServer } from '../harness/index.js';

let dir: string;
let etcd: EtcdServer;
let authEtcd: EtcdServer;
let grpc: Etcd3;
let plain: Server;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), `flgw${process.pid}-`));
  etcd = await EtcdServer.start({ dir: join(dir, 'plain') });
  authEtcd = await EtcdServer.start({ dir: join(dir, 'auth') });
  await authEtcd.ctl(['user', 'add', 'root:right-password']);
  await authEtcd.ctl(['auth', 'enable']);
  grpc = createEtcdClient({ endpoints: [etcd.endpoint], callTimeoutMs: 10_000 });
  plain = createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n'));
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
});

afterAll(async () => {
  grpc?.close();
  await new Promise((r) => (plain ? plain.close(r) : r(undefined)));
  await etcd?.destroy();
  await authEtcd?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('prefixRangeEnd', () => {
  it('increments the last byte below 0xff, as clientv3.GetPrefixRangeEnd', () => {
    expect(prefixRangeEnd('/a/b/').toString()).toBe('/a/b0');
    expect([...prefixRangeEnd('a\u00ff')]).toEqual([0x61, 0xc3, 0xc0]);
    expect([...prefixRangeEnd('')]).toEqual([0]);
  });
});

describe.each([
  ['gateway', (): EtcdKv => new EtcdGateway({ endpoints: [etcd.endpoint] })],
  ['grpc', (): EtcdKv => grpcKv(grpc)],
])('%s calls', (name, make) => {
  it('get, list, put, create-if-absent, delete, and leases that expire', async () => {
    const kv = make();
    const p = `/gw-${name}/`;
    expect(await kv.get(`${p}x`)).toBeUndefined();
    await kv.put(`${p}x`, 'é1');
    expect(await kv.get(`${p}x`)).toEqual({ key: `${p}x`, value: 'é1', lease: '0' });
    expect(await kv.createIfAbsent(`${p}x`, 'no')).toBe(false);
    const id = await kv.grant(30);
    expect(await kv.createIfAbsent(`${p}y`, 'leased', id)).toBe(true);
    await kv.put(`${p}z`, 'outside');
    await kv.put(`/gw-${name}0`, 'past the prefix');
    const listed = await kv.list(p);
    expect(listed.kvs.map((k) => [k.key, k.value, k.lease === id])).toEqual([
      [`${p}x`, 'é1', false],
      [`${p}y`, 'leased', true],
      [`${p}z`, 'outside', false],
    ]);
    expect(listed.revision).toBeGreaterThan(0n);
    const ttl = await kv.keepAliveOnce(id);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30);
    await kv.revoke(id);
    expect(await kv.get(`${p}y`)).toBeUndefined();
    expect(await kv.keepAliveOnce(id)).toBe(0);
    await kv.delete(`${p}x`);
    expect(await kv.get(`${p}x`)).toBeUndefined();
  });

  it('serves EtcdRegistry and LeaseManager: a lease, a renewal, the same lease after a restart', async () => {
    const prefix = `/gw-${name}-reg/network`;
    const reg = new EtcdRegistry({ calls: make(), watch: (p, f, sig, log) => watchPrefix(grpc, p, f, sig, log) }, prefix);
    await reg.putNetworkConfig('{"Network":"10.9.0.0/16"}');
    expect(await reg.getNetworkConfig()).toBe('{"Network":"10.9.0.0/16"}');
    const cfg = parseNetworkConfig((await reg.getNetworkConfig())!);
    const mgr = new LeaseManager({ registry: reg, ttlSec: 60, renewMarginSec: 10 });
    const got = await mgr.acquire(cfg, { publicIP: '192.0.2.1', backendType: 'alloc' });
    expect((await reg.renewLease(got.lease)).kind).toBe('renewed');
    const again = await new LeaseManager({ registry: new EtcdRegistry(grpc, prefix), ttlSec: 60, renewMarginSec: 10 }).acquire(cfg, { publicIP: '192.0.2.1', backendType: 'alloc' });
    expect(again.key).toBe(got.key);
    const snap = await reg.listLeases();
    expect([...snap.leases.keys()]).toEqual([got.key]);
  });
});

describe.each([
  ['gateway', (p: string, f: bigint, sig: AbortSignal) => watchPrefixViaGateway(new EtcdGateway({ endpoints: [etcd.endpoint] }), p, f, sig, silentLogger)],
  ['grpc', (p: string, f: bigint, sig: AbortSignal) => watchPrefix(grpc, p, f, sig, silentLogger)],
])('%s watch', (name, watch) => {
  /** The batches until `n` events (or a reset) came, as [type, key, value, leased] rows. */
  const take = async (it: AsyncIterator<PrefixWatchBatch<KvPair | IKeyValue>>, n: number) => {
    const rows: unknown[] = [];
    while (rows.length < n) {
      const { value: b, done } = await it.next();
      if (done) break;
      if (b.kind === 'reset') rows.push(['reset', b.kvs.map((kv) => kv.key.toString())]);
      else for (const e of b.events) rows.push([e.type, e.kv.key.toString(), e.kv.value.toString(), e.kv.lease !== '0']);
    }
    return rows;
  };

  it('starts at the revision given (missing nothing written since a listing), and tells puts, leases and deletes apart', async () => {
    const p = `/gww-${name}/`;
    const ac = new AbortController();
    await grpc.put(`${p}old`).value('o');
    const from = BigInt((await grpc.getAll().prefix(p).exec()).header.revision) + 1n;
    const lease = grpc.lease(60, { autoKeepAlive: false });
    await lease.put(`${p}leased`).value('é');
    const it = watch(p, from, ac.signal)[Symbol.asyncIterator]();
    await grpc.put(`/gww-${name}-other`).value('no');
    await grpc.put(`${p}x`).value('1');
    await grpc.delete().key(`${p}old`);
    try {
      expect(await take(it, 3)).toEqual([
        ['put', `${p}leased`, 'é', true],
        ['put', `${p}x`, '1', false],
        ['delete', `${p}old`, '', false],
      ]);
    } finally {
      ac.abort();
      await lease.revoke();
    }
  });

  it('lists again (a reset) when the revision asked for was compacted', async () => {
    const p = `/gwc-${name}/`;
    const ac = new AbortController();
    await grpc.put(`${p}a`).value('1');
    const first = BigInt((await grpc.getAll().prefix(p).exec()).header.revision);
    await grpc.put(`${p}b`).value('2');
    const rev = (await grpc.getAll().prefix(p).exec()).header.revision;
    await grpc.kv.compact({ revision: rev });
    const it = watch(p, first, ac.signal)[Symbol.asyncIterator]();
    try {
      expect(await take(it, 1)).toEqual([['reset', [`${p}a`, `${p}b`]]]);
    } finally {
      ac.abort();
    }
  });
});

describe('the gateway client', () => {
  it('authenticates with a password, and names a wrong one', async () => {
    const ok = new EtcdGateway({ endpoints: [authEtcd.endpoint], username: 'root', password: 'right-password' });
    await ok.put('/auth/x', 'v');
    expect((await ok.get('/auth/x'))?.value).toBe('v');
    const ac = new AbortController();
    const it = watchPrefixViaGateway(ok, '/auth/', (await ok.list('/auth/')).revision + 1n, ac.signal, silentLogger)[Symbol.asyncIterator]();
    const next = it.next();
    await ok.put('/auth/y', 'w');
    expect(await next).toMatchObject({ value: { kind: 'events', events: [{ type: 'put', kv: { key: '/auth/y', value: 'w' } }] } });
    ac.abort();
    const bad = new EtcdGateway({ endpoints: [authEtcd.endpoint], username: 'root', password: 'wrong-password' });
    await expect(bad.get('/auth/x')).rejects.toThrow(/authentication failed/);
  });

  it('lists a prefix in pages at one revision, the same keys as one gRPC range', async () => {
    for (let i = 0; i < 7; i++) await grpc.put(`/paged/k${i}`).value(`v${i}`);
    await grpc.put('/paged0').value('outside');
    const paged = await new EtcdGateway({ endpoints: [etcd.endpoint] }, 10_000, 3).list('/paged/');
    const once = await grpcKv(grpc).list('/paged/');
    expect(paged.kvs.map((kv) => [kv.key, kv.value])).toEqual(once.kvs.map((kv) => [kv.key, kv.value]));
    expect(paged.kvs).toHaveLength(7);
    expect(paged.revision).toBe(once.revision);
  });

  it('skips an endpoint that does not answer, and names every failure when none does', async () => {
    const gw = new EtcdGateway({ endpoints: ['http://127.0.0.1:1', etcd.endpoint] });
    await gw.put('/skip/x', 'v');
    expect((await gw.get('/skip/x'))?.value).toBe('v');
    await expect(new EtcdGateway({ endpoints: ['http://127.0.0.1:1'] }).get('/x')).rejects.toThrow(/127\.0\.0\.1:1: .*ECONNREFUSED/);
  });

  it('falls back to gRPC for good when the endpoint serves no gateway', async () => {
    const gw = new EtcdGateway({ endpoints: [`http://127.0.0.1:${(plain.address() as AddressInfo).port}`] });
    await expect(gw.get('/x')).rejects.toBeInstanceOf(NoGatewayError);
    let fallbacks = 0;
    const kv = fallbackKv(gw, () => {
      fallbacks++;
      return grpcKv(grpc);
    });
    await kv.put('/fallback/x', 'v');
    expect((await kv.get('/fallback/x'))?.value).toBe('v');
    expect(fallbacks).toBe(1);
  });

  it('is used only for plain-http endpoints without TLS files', () => {
    expect(EtcdGateway.usable({ endpoints: ['http://127.0.0.1:2379'] })).toBe(true);
    expect(EtcdGateway.usable({ endpoints: ['http://127.0.0.1:2379'], username: 'u' })).toBe(true);
    expect(EtcdGateway.usable({ endpoints: ['https://127.0.0.1:2379'] })).toBe(false);
    expect(EtcdGateway.usable({ endpoints: ['http://127.0.0.1:2379'], cafile: '/ca.crt' })).toBe(false);
  });
});
