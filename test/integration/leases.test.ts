// Lease policy and the etcd registry against a real etcd on loopback (no daemon, no namespace).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient } from '../../common/index.js';
import {
  EtcdRegistry,
  LeaseManager,
  LeaseWatcher,
  OutOfSubnetsError,
  type WatchBatch,
  formatCidr,
  parseCidr,
  parseNetworkConfig,
} from '../../ipam/index.js';
import { silentLogger } from '../../common/index.js';
import { EtcdServer } from '../harness/index.js';

let etcd: EtcdServer;
const clients: Etcd3[] = [];
const client = (): Etcd3 => {
  const c = createEtcdClient({ endpoints: [etcd.endpoint] });
  clients.push(c);
  return c;
};
let prefixN = 0;
const freshRegistry = (c = client()) => new EtcdRegistry(c, `/test${++prefixN}/network`);

beforeAll(async () => {
  etcd = await EtcdServer.start();
});
afterAll(async () => {
  for (const c of clients) c.close();
  await etcd?.destroy();
});

const cfg16 = parseNetworkConfig('{"Network":"10.5.0.0/16","Backend":{"Type":"alloc"}}');
const attrs = (ip: string) => ({ publicIP: ip, backendType: 'alloc' });

async function take<T>(it: AsyncIterator<T>, ms: number): Promise<T> {
  const timer = new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`no watch batch within ${ms} ms`)), ms));
  const r = await Promise.race([it.next(), timer]);
  if (r.done) throw new Error('watch ended');
  return r.value;
}

describe('subnet leases in etcd', () => {
  it('gives 50 nodes acquiring at once 50 distinct subnets', async () => {
    const c = client();
    const reg = freshRegistry(c);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => new LeaseManager({ registry: new EtcdRegistry(c, reg.subnetsPrefix.replace(/\/subnets\/$/, '')) }).acquire(cfg16, attrs(`192.0.2.${i + 1}`))),
    );
    const subnets = results.map((r) => formatCidr(r.lease.subnet!));
    expect(new Set(subnets).size).toBe(50);
    const snap = await reg.listLeases();
    expect(snap.leases.size).toBe(50);
    for (const l of snap.leases.values()) expect(l.subnet!.prefix).toBe(24);
  });

  it('runs out of a small network with a clear error', async () => {
    const reg = freshRegistry();
    const small = parseNetworkConfig('{"Network":"10.9.0.0/22","Backend":{"Type":"alloc"}}');
    for (let i = 1; i <= 3; i++) await new LeaseManager({ registry: reg }).acquire(small, attrs(`192.0.2.${i}`));
    const err = await new LeaseManager({ registry: reg }).acquire(small, attrs('192.0.2.4')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutOfSubnetsError);
    expect((err as Error).message).toBe('out of subnets: every subnet in 10.9.1.0/24..10.9.3.0/24 is leased or reserved');
  });

  it('keeps the subnet across a restart: by public IP, and from the previous subnet.env', async () => {
    const reg = freshRegistry();
    const first = await new LeaseManager({ registry: reg }).acquire(cfg16, attrs('192.0.2.10'));
    const again = await new LeaseManager({ registry: reg }).acquire(cfg16, { ...attrs('192.0.2.10'), backendType: 'alloc' });
    expect(formatCidr(again.lease.subnet!)).toBe(formatCidr(first.lease.subnet!));
    expect((await reg.listLeases()).leases.size).toBe(1);

    // The node comes back with a new IP after its lease expired: it asks for its old subnet.
    await reg.deleteLease(first.lease);
    const moved = await new LeaseManager({ registry: reg, previous: { subnet: first.lease.subnet! } }).acquire(cfg16, attrs('192.0.2.99'));
    expect(formatCidr(moved.lease.subnet!)).toBe(formatCidr(first.lease.subnet!));
  });

  it('holds reservations: never given a TTL, never handed to another node', async () => {
    const reg = freshRegistry();
    const small = parseNetworkConfig('{"Network":"10.8.0.0/22","Backend":{"Type":"alloc"}}');
    await etcd.ctl(['put', `${reg.subnetsPrefix}10.8.2.0-24`, '{"PublicIP":"192.0.2.50"}']);
    const others = [];
    for (let i = 1; i <= 2; i++) others.push(await new LeaseManager({ registry: reg }).acquire(small, attrs(`192.0.2.${i}`)));
    expect(others.map((o) => formatCidr(o.lease.subnet!)).sort()).toEqual(['10.8.1.0/24', '10.8.3.0/24']);
    await expect(new LeaseManager({ registry: reg }).acquire(small, attrs('192.0.2.3'))).rejects.toBeInstanceOf(OutOfSubnetsError);

    const owner = new LeaseManager({ registry: reg });
    const got = await owner.acquire(small, attrs('192.0.2.50'));
    expect(formatCidr(got.lease.subnet!)).toBe('10.8.2.0/24');
    expect(got.lease.reservation).toBe(true);
    expect(got.expiration).toBeUndefined();
    expect(await reg.renewLease(got.lease)).toEqual({ kind: 'reservation' });
    const kv = JSON.parse(await etcd.ctl(['get', `${reg.subnetsPrefix}10.8.2.0-24`, '-w', 'json'])) as { kvs: { lease?: number; value: string }[] };
    expect(kv.kvs[0]!.lease ?? 0).toBe(0);
    expect(JSON.parse(Buffer.from(kv.kvs[0]!.value, 'base64').toString())).toMatchObject({ PublicIP: '192.0.2.50', BackendType: 'alloc' });
  });

  it('renews before expiry and re-acquires the same subnet when its key is deleted', async () => {
    const reg = freshRegistry();
    const mgr = new LeaseManager({ registry: reg, ttlSec: 4, renewMarginSec: 3 });
    const got = await mgr.acquire(cfg16, attrs('192.0.2.20'));
    const ac = new AbortController();
    const changes: string[] = [];
    const loop = mgr.keepAlive(cfg16, got, ac.signal, (l) => void changes.push(formatCidr(l.lease.subnet!)));
    try {
      // Without renewal the 4 s lease would be gone by now.
      await new Promise((r) => setTimeout(r, 6_000));
      const snap = await reg.listLeases();
      expect([...snap.leases.keys()]).toEqual([`${formatCidr(got.lease.subnet!).replace('/', '-')}`]);

      await reg.deleteLease(got.lease);
      mgr.markLost();
      for (let i = 0; i < 50 && changes.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(changes).toEqual([formatCidr(got.lease.subnet!)]);
      expect((await reg.listLeases()).leases.size).toBe(1);
    } finally {
      ac.abort();
      await loop;
    }
  });

  it('skips corrupt leases when listing and allocating', async () => {
    const reg = freshRegistry();
    await etcd.ctl(['put', `${reg.subnetsPrefix}10.5.1.0-24`, '{not json']);
    await etcd.ctl(['put', `${reg.subnetsPrefix}bogus-key`, '{"PublicIP":"192.0.2.1"}']);
    await etcd.ctl(['put', `${reg.subnetsPrefix}10.5.2.0-24`, '{"PublicIP":"192.0.2.2"}']);
    const snap = await reg.listLeases();
    expect([...snap.leases.keys()]).toEqual(['10.5.2.0-24']);
    expect(snap.corrupt.map((c) => c.key).sort()).toEqual([`${reg.subnetsPrefix}10.5.1.0-24`, `${reg.subnetsPrefix}bogus-key`]);
    const got = await new LeaseManager({ registry: reg, previous: { subnet: parseCidr('10.5.2.0/24') } }).acquire(cfg16, attrs('192.0.2.30'));
    expect(formatCidr(got.lease.subnet!)).not.toBe('10.5.2.0/24');
  });

  it('keeps watching across an etcd restart', async () => {
    const reg = freshRegistry();
    const snap = await reg.listLeases();
    const ac = new AbortController();
    const it = reg.watchLeases(snap.revision + 1n, ac.signal)[Symbol.asyncIterator]();
    try {
      await etcd.ctl(['put', `${reg.subnetsPrefix}10.5.3.0-24`, '{"PublicIP":"192.0.2.3"}']);
      expect(await take(it, 5_000)).toMatchObject({ kind: 'events', events: [{ type: 'put', key: '10.5.3.0-24' }] });
      await etcd.restart(500);
      await etcd.ctl(['put', `${reg.subnetsPrefix}10.5.4.0-24`, '{"PublicIP":"192.0.2.4"}']);
      await etcd.ctl(['put', `${reg.subnetsPrefix}10.5.5.0-24`, '{garbage']);
      await etcd.ctl(['del', `${reg.subnetsPrefix}10.5.3.0-24`]);
      const seen: string[] = [];
      for (let i = 0; i < 10 && seen.length < 3; i++) {
        const b = await take(it, 15_000);
        if (b.kind === 'events') seen.push(...b.events.map((e) => `${e.type} ${e.key}`));
        else seen.push(...[...b.snapshot.leases.keys()].map((k) => `snapshot ${k}`));
      }
      expect(seen).toEqual(['put 10.5.4.0-24', 'corrupt 10.5.5.0-24', 'delete 10.5.3.0-24']);
    } finally {
      ac.abort();
      await it.return?.();
    }
  });

  it('recovers from a compaction with a snapshot that the watcher turns into a diff', async () => {
    const reg = freshRegistry();
    await etcd.ctl(['put', `${reg.subnetsPrefix}10.5.6.0-24`, '{"PublicIP":"192.0.2.6"}']);
    const start = await reg.listLeases();
    const watcher = new LeaseWatcher(undefined, silentLogger);
    watcher.reset(start);
    await etcd.ctl(['del', `${reg.subnetsPrefix}10.5.6.0-24`]);
    await etcd.ctl(['put', `${reg.subnetsPrefix}10.5.7.0-24`, '{"PublicIP":"192.0.2.7"}']);
    const latest = (await reg.listLeases()).revision;
    await etcd.ctl(['compact', latest.toString()]);

    const ac = new AbortController();
    const it = reg.watchLeases(start.revision + 1n, ac.signal)[Symbol.asyncIterator]();
    try {
      const b: WatchBatch = await take(it, 10_000);
      expect(b.kind).toBe('reset');
      const out = watcher.apply(b);
      expect(out.events.map((e) => `${e.type} ${e.key}`)).toEqual(['removed 10.5.6.0-24', 'added 10.5.7.0-24']);
      // And the watch goes on from the snapshot's revision.
      await etcd.ctl(['put', `${reg.subnetsPrefix}10.5.8.0-24`, '{"PublicIP":"192.0.2.8"}']);
      expect(await take(it, 5_000)).toMatchObject({ kind: 'events', events: [{ type: 'put', key: '10.5.8.0-24' }] });
    } finally {
      ac.abort();
      await it.return?.();
    }
  });
});
