// The lease manager's whole state machine on the in-memory registry and a fake clock: no etcd, no
// real waits. The renew/retry loop runs as it does in flanneld; the test moves time.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AcquiredLease,
  type Lease,
  type LeaseAttrs,
  LeaseManager,
  type LeaseManagerOptions,
  type LeaseSnapshot,
  PREFETCH_FRESH_MS,
  LeaseWatcher,
  OutOfSubnetsError,
  formatCidr,
  leaseKeyName,
  parseCidr,
  parseNetworkConfig,
} from '../ipam/index.js';
import { FakeClock, MemoryRegistry, settle } from './harness/index.js';

const cfg16 = parseNetworkConfig('{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}');
// 10.5.1.0, 10.5.2.0, 10.5.3.0: three subnets.
const cfg22 = parseNetworkConfig('{"Network":"10.5.0.0/22","Backend":{"Type":"vxlan"}}');
const attrs = (ip: string): LeaseAttrs => ({ publicIP: ip, backendType: 'vxlan', backendData: { VNI: 1 } });
const lease = (cidr: string, ip: string, reservation = false): Lease => ({ subnet: parseCidr(cidr), attrs: attrs(ip), reservation });
const subnetOf = (l: AcquiredLease): string => formatCidr(l.lease.subnet!);

const TTL = 100;
const MARGIN = 10;

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

function setup(o: { ttlSec?: number; renewMarginSec?: number; previous?: string } = {}) {
  const clock = new FakeClock();
  const reg = new MemoryRegistry(clock);
  const logs: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  let seed = 1;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
  const mgr = (ip?: string) =>
    new LeaseManager({
      registry: reg,
      clock,
      log,
      rnd,
      ttlSec: o.ttlSec ?? TTL,
      renewMarginSec: o.renewMarginSec ?? MARGIN,
      ...(o.previous && ip === undefined && { previous: { subnet: parseCidr(o.previous) } }),
    });
  const msgs = () => logs.map((l) => l.msg);
  return { clock, reg, logs, msgs, mgr };
}

/** Runs keepAlive in the background the way flanneld does, recording every onChange. */
function keepAlive(m: LeaseManager, cfg: typeof cfg16, held: AcquiredLease, onChange: (l: AcquiredLease, applied: AcquiredLease) => void = () => {}) {
  const ac = new AbortController();
  const changes: { next: string; applied: string }[] = [];
  const done = m.keepAlive(cfg, held, ac.signal, (l, applied) => {
    changes.push({ next: subnetOf(l), applied: subnetOf(applied) });
    onChange(l, applied);
  });
  stops.push(async () => {
    ac.abort();
    await done;
  });
  return { changes, done, stop: () => ac.abort() };
}
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

describe('acquire', () => {
  it('leases a free subnet in the range with the TTL, and another node gets another one', async () => {
    const { reg, clock, mgr } = setup();
    const a = await mgr().acquire(cfg16, attrs('192.0.2.1'));
    expect(a.lease.reservation).toBe(false);
    expect(a.expiration?.getTime()).toBe(clock.now() + TTL * 1000);
    expect(a.attempts).toBe(1);
    expect(reg.ttlLeft(a.key)).toBe(TTL);
    const sn = a.lease.subnet!;
    expect(sn.prefix).toBe(24);
    expect(formatCidr(sn)).not.toBe('10.5.0.0/24'); // the first subnet is never handed out
    const b = await mgr().acquire(cfg16, attrs('192.0.2.2'));
    expect(b.key).not.toBe(a.key);
    const snap = await reg.listLeases();
    expect([...snap.leases.keys()].sort()).toEqual([a.key, b.key].sort());
    expect(snap.leases.get(a.key)?.attrs.publicIP).toBe('192.0.2.1');
  });

  it('reuses the lease this node already holds, rewriting its attributes', async () => {
    const { reg, mgr } = setup();
    const a = await mgr().acquire(cfg16, attrs('192.0.2.1'));
    const again = await mgr().acquire(cfg16, { ...attrs('192.0.2.1'), backendData: { VNI: 7 } });
    expect(again.key).toBe(a.key);
    expect(reg.calls.update).toBe(1);
    expect((await reg.listLeases()).leases.get(a.key)?.attrs.backendData).toEqual({ VNI: 7 });
  });

  it('prefers the previous subnet (from subnet.env) while it is free', async () => {
    const { reg, mgr } = setup({ previous: '10.5.77.0/24' });
    expect(subnetOf(await mgr().acquire(cfg16, attrs('192.0.2.1')))).toBe('10.5.77.0/24');
    const other = setup({ previous: '10.5.77.0/24' });
    other.reg.put(lease('10.5.77.0/24', '192.0.2.9'), TTL);
    const got = await other.mgr().acquire(cfg16, attrs('192.0.2.1'));
    expect(subnetOf(got)).not.toBe('10.5.77.0/24');
    expect(other.msgs()).toContain('previous subnet cannot be reused');
    expect(reg.has('10.5.77.0-24')).toBe(true);
  });

  it('loses a race (another node creates the chosen key between list and create) and takes another subnet', async () => {
    const { reg, mgr, msgs } = setup();
    let stolen: string | undefined;
    reg.beforeCreate = (l) => {
      if (stolen) return;
      stolen = leaseKeyName(l);
      reg.put({ ...l, attrs: attrs('192.0.2.99') }, TTL);
    };
    const got = await mgr().acquire(cfg16, attrs('192.0.2.1'));
    expect(stolen).toBeDefined();
    expect(got.key).not.toBe(stolen);
    // The winner keeps its lease.
    expect((await reg.listLeases()).leases.get(stolen!)?.attrs.publicIP).toBe('192.0.2.99');
    expect(reg.calls.create).toBe(2);
    expect(msgs()).toContain('leased a new subnet');
  });

  it('lists again after losing every candidate of one listing, backing off on the clock', async () => {
    const { reg, clock, mgr, msgs } = setup();
    let lost = 0;
    reg.beforeCreate = (l) => {
      if (lost++ < 3) reg.put({ ...l, attrs: attrs(`192.0.2.${100 + lost}`) }, TTL);
    };
    const p = mgr().acquire(cfg16, attrs('192.0.2.1'));
    await settle();
    expect(clock.sleepers).toBe(1); // waiting before the second listing
    await clock.advance(1_000);
    const got = await p;
    expect(got.attempts).toBe(2);
    expect(reg.calls.list).toBe(2);
    expect(msgs()).toContain('another node took the chosen subnet first; retrying');
    expect((await reg.listLeases()).leases.size).toBe(4);
  });

  it('fails with OutOfSubnetsError when every subnet is leased or reserved', async () => {
    const { reg, mgr } = setup();
    reg.put(lease('10.5.2.0/24', '192.0.2.50', true)); // a reservation for another node
    await mgr().acquire(cfg22, attrs('192.0.2.1'));
    await mgr().acquire(cfg22, attrs('192.0.2.2'));
    const e = await mgr()
      .acquire(cfg22, attrs('192.0.2.3'))
      .catch((err: unknown) => err);
    expect(e).toBeInstanceOf(OutOfSubnetsError);
    expect((e as OutOfSubnetsError).range).toBe('10.5.1.0/24..10.5.3.0/24');
    expect(reg.calls.create).toBe(2);
  });

  it('takes a subnet again once an old lease has expired on the clock', async () => {
    const { clock, mgr } = setup();
    for (let i = 1; i <= 3; i++) await mgr().acquire(cfg22, attrs(`192.0.2.${i}`));
    await expect(mgr().acquire(cfg22, attrs('192.0.2.4'))).rejects.toBeInstanceOf(OutOfSubnetsError);
    await clock.advance(TTL * 1000);
    expect((await mgr().acquire(cfg22, attrs('192.0.2.4'))).lease.subnet).toBeDefined();
  });

  it('skips a corrupt lease with a warning, and create-if-absent keeps its key from being taken', async () => {
    const { reg, mgr, logs } = setup();
    reg.putRaw('10.5.1.0-24', '{"PublicIP": 7}', TTL);
    reg.put(lease('10.5.2.0/24', '192.0.2.2'), TTL);
    expect(subnetOf(await mgr().acquire(cfg22, attrs('192.0.2.1')))).toBe('10.5.3.0/24');
    const warn = logs.find((l) => l.msg === 'skipping corrupt lease');
    expect(warn).toMatchObject({ key: '10.5.1.0-24' });
  });

  it('replaces its own lease when it no longer fits the config', async () => {
    const { reg, mgr, msgs } = setup();
    reg.put(lease('10.9.1.0/24', '192.0.2.1'), TTL);
    const got = await mgr().acquire(cfg16, attrs('192.0.2.1'));
    expect(subnetOf(got).startsWith('10.5.')).toBe(true);
    expect(reg.has('10.9.1.0-24')).toBe(false);
    expect(msgs()).toContain("deleting this node's lease: it no longer fits the network config");
  });
});

describe('takeListing', () => {
  it('hands the first acquire\'s listing over once, without our own new key (written after it)', async () => {
    const { reg, mgr } = setup();
    reg.put(lease('10.5.2.0/24', '192.0.2.2'), TTL);
    const m = mgr();
    const before = reg.calls.list;
    const a = await m.acquire(cfg16, attrs('192.0.2.1'));
    expect(reg.calls.list - before).toBe(1);
    const snap = m.takeListing();
    expect([...snap!.leases.keys()]).toEqual(['10.5.2.0-24']);
    expect(snap!.leases.has(a.key)).toBe(false);
    expect(m.takeListing()).toBeUndefined();
    // A later acquire (after a loss) keeps nothing: only the start wants it.
    await m.acquire(cfg16, attrs('192.0.2.1'));
    expect(m.takeListing()).toBeUndefined();
  });

  it('hands over nothing when it deleted a lease of ours that the listing still holds', async () => {
    const { reg, mgr } = setup();
    reg.put(lease('10.9.1.0/24', '192.0.2.1'), TTL);
    const m = mgr();
    await m.acquire(cfg16, attrs('192.0.2.1'));
    expect(m.takeListing()).toBeUndefined();
  });
});

describe('a prefetched listing', () => {
  const mgrWith = (s: ReturnType<typeof setup>, prefetched: LeaseManagerOptions['prefetched']) =>
    new LeaseManager({ registry: s.reg, clock: s.clock, ttlSec: TTL, renewMarginSec: MARGIN, ...(prefetched && { prefetched }) });

  it('is the first acquire\'s when fresh (no listing of its own), and is handed over to the peer watch', async () => {
    const s = setup();
    s.reg.put(lease('10.5.2.0/24', '192.0.2.2'), TTL);
    const snap = await s.reg.listLeases();
    const m = mgrWith(s, Promise.resolve({ snap, at: s.clock.now() - PREFETCH_FRESH_MS }));
    const before = s.reg.calls.list;
    await m.acquire(cfg16, attrs('192.0.2.1'));
    expect(s.reg.calls.list - before).toBe(0);
    expect(m.takeListing()).toBe(snap);
  });

  it('is listed again when stale, failed or empty-handed; and is used only once', async () => {
    for (const early of [
      (s: ReturnType<typeof setup>, snap: LeaseSnapshot) => Promise.resolve({ snap, at: s.clock.now() - PREFETCH_FRESH_MS - 1 }),
      () => Promise.reject(new Error('etcd unreachable')),
      () => Promise.resolve(undefined),
    ]) {
      const s = setup();
      const snap = await s.reg.listLeases();
      s.reg.put(lease('10.5.2.0/24', '192.0.2.2'), TTL); // after the early listing: it must be seen
      const m = mgrWith(s, early(s, snap));
      const before = s.reg.calls.list;
      const got = await m.acquire(cfg16, attrs('192.0.2.1'));
      expect(s.reg.calls.list - before).toBe(1);
      expect(m.takeListing()?.leases.has('10.5.2.0-24')).toBe(true);
      expect(subnetOf(got)).not.toBe('10.5.2.0/24');
    }
  });
});

describe('reservations', () => {
  it('gives a node its reservation, without a TTL, and never renews it', async () => {
    const { reg, clock, mgr } = setup();
    reg.put(lease('10.5.3.0/24', '192.0.2.7', true));
    const m = mgr();
    const got = await m.acquire(cfg16, attrs('192.0.2.7'));
    expect(subnetOf(got)).toBe('10.5.3.0/24');
    expect(got.lease.reservation).toBe(true);
    expect(got.expiration).toBeUndefined();
    expect(reg.ttlLeft('10.5.3.0-24')).toBeUndefined();
    const ka = keepAlive(m, cfg16, got);
    await clock.advance(10 * TTL * 1000);
    expect(reg.calls.renew).toBe(0);
    expect(ka.changes).toEqual([]);
    expect(reg.has('10.5.3.0-24')).toBe(true);
  });

  it('keeps a reservation out of everyone else\'s reach', async () => {
    const { reg, mgr } = setup();
    reg.put(lease('10.5.1.0/24', '192.0.2.7', true));
    reg.put(lease('10.5.2.0/24', '192.0.2.8', true));
    expect(subnetOf(await mgr().acquire(cfg22, attrs('192.0.2.1')))).toBe('10.5.3.0/24');
  });

  it('notices a lease turned into a reservation by hand and stops renewing it', async () => {
    const { reg, clock, mgr } = setup();
    const m = mgr();
    const got = await m.acquire(cfg16, attrs('192.0.2.1'));
    reg.put({ ...got.lease, reservation: true });
    keepAlive(m, cfg16, got);
    await clock.advance((TTL - MARGIN) * 1000);
    expect(reg.calls.renew).toBe(1);
    await clock.advance(10 * TTL * 1000);
    expect(reg.calls.renew).toBe(1);
    expect(reg.has(got.key)).toBe(true);
  });
});

describe('keepAlive', () => {
  it('renews the lease the margin before it expires, again and again', async () => {
    const { reg, clock, mgr, msgs } = setup();
    const m = mgr();
    const got = await m.acquire(cfg16, attrs('192.0.2.1'));
    const ka = keepAlive(m, cfg16, got);
    await clock.advance((TTL - MARGIN) * 1000 - 1);
    expect(reg.calls.renew).toBe(0);
    await clock.advance(1);
    expect(reg.calls.renew).toBe(1);
    expect(reg.ttlLeft(got.key)).toBe(TTL);
    await clock.advance(5 * TTL * 1000);
    expect(reg.calls.renew).toBe(1 + Math.floor((5 * TTL) / (TTL - MARGIN)));
    expect(reg.has(got.key)).toBe(true);
    expect(ka.changes).toEqual([]);
    expect(msgs()).toContain('renewed lease');
  });

  it('retries a failed renewal with back-off, logging "lease renewal failed"', async () => {
    const { reg, clock, mgr, logs } = setup();
    const m = mgr();
    const got = await m.acquire(cfg16, attrs('192.0.2.1'));
    reg.failNext('renew');
    keepAlive(m, cfg16, got);
    await clock.advance((TTL - MARGIN) * 1000);
    const fail = logs.find((l) => l.msg === 'lease renewal failed');
    expect(fail).toMatchObject({ subnet: subnetOf(got), err: expect.stringContaining('injected renew failure') });
    expect(fail?.retryInMs).toBeGreaterThan(0);
    await clock.advance(fail!.retryInMs as number);
    expect(reg.calls.renew).toBe(2);
    expect(reg.ttlLeft(got.key)).toBe(TTL);
  });

  it('acquires again when a renewal finds the lease gone, reusing the same subnet when free', async () => {
    const { reg, clock, mgr, msgs } = setup();
    const m = mgr();
    const got = await m.acquire(cfg16, attrs('192.0.2.1'));
    const ka = keepAlive(m, cfg16, got);
    reg.remove(got.key);
    await clock.advance((TTL - MARGIN) * 1000);
    expect(msgs()).toContain('own lease is gone; acquiring again');
    expect(ka.changes).toEqual([{ next: subnetOf(got), applied: subnetOf(got) }]);
    expect(reg.ttlLeft(got.key)).toBe(TTL);
  });

  it('acquires again at once on markLost (the watch saw the key deleted), without waiting for the renewal', async () => {
    const { reg, clock, mgr } = setup();
    const m = mgr();
    const got = await m.acquire(cfg16, attrs('192.0.2.1'));
    const ka = keepAlive(m, cfg16, got);
    await settle();
    reg.remove(got.key);
    m.markLost();
    await settle();
    expect(ka.changes.map((c) => c.next)).toEqual([subnetOf(got)]);
    expect(reg.has(got.key)).toBe(true);
    expect(clock.nextDeadline()).toBe(clock.now() + (TTL - MARGIN) * 1000); // the next renewal of the new lease
  });

  it('moves to another subnet when its own was taken meanwhile, keeping the new owner\'s lease', async () => {
    const { reg, mgr } = setup();
    const m = mgr();
    const got = await m.acquire(cfg16, attrs('192.0.2.1'));
    const ka = keepAlive(m, cfg16, got);
    await settle();
    reg.remove(got.key);
    reg.put({ ...got.lease, attrs: attrs('192.0.2.2') }, TTL);
    m.markLost();
    await settle();
    expect(ka.changes).toHaveLength(1);
    expect(ka.changes[0]!.next).not.toBe(subnetOf(got));
    expect(ka.changes[0]!.applied).toBe(subnetOf(got));
    expect((await reg.listLeases()).leases.get(got.key)?.attrs.publicIP).toBe('192.0.2.2');
  });

  it('acquires again after the lease expired while the registry was unreachable', async () => {
    const { reg, clock, mgr, msgs } = setup();
    const m = mgr();
    const got = await m.acquire(cfg16, attrs('192.0.2.1'));
    const ka = keepAlive(m, cfg16, got);
    reg.down = true;
    await clock.advance(TTL * 1000);
    expect(reg.has(got.key)).toBe(false);
    expect(msgs()).toContain('lease renewal failed');
    expect(ka.changes).toEqual([]);
    reg.down = false;
    await clock.advance(60_000);
    expect(msgs()).toContain('own lease is gone; acquiring again');
    expect(ka.changes.map((c) => c.next)).toEqual([subnetOf(got)]);
    expect(reg.has(got.key)).toBe(true);
  });

  it('retries a failed re-acquisition, logging "acquiring a lease failed"', async () => {
    const { reg, clock, mgr, logs } = setup();
    const m = mgr();
    const got = await m.acquire(cfg16, attrs('192.0.2.1'));
    const ka = keepAlive(m, cfg16, got);
    await settle();
    reg.remove(got.key);
    reg.failNext('list');
    m.markLost();
    await settle();
    const fail = logs.find((l) => l.msg === 'acquiring a lease failed');
    expect(fail).toBeDefined();
    expect(ka.changes).toEqual([]);
    await clock.advance(fail!.retryInMs as number);
    expect(ka.changes.map((c) => c.next)).toEqual([subnetOf(got)]);
  });

  it('keeps a new lease pending until applying it succeeds, retrying with back-off (issue 11)', async () => {
    const { reg, clock, mgr, logs, msgs } = setup();
    const m = mgr();
    const got = await m.acquire(cfg16, attrs('192.0.2.1'));
    let failures = 2;
    const ka = keepAlive(m, cfg16, got, () => {
      if (failures-- > 0) throw new Error('writing subnet.env: disk full');
    });
    await settle();
    reg.remove(got.key);
    reg.put({ ...got.lease, attrs: attrs('192.0.2.2') }, TTL); // our subnet is gone for good
    m.markLost();
    await settle();
    expect(ka.changes).toHaveLength(1);
    const moved = ka.changes[0]!.next;
    expect(moved).not.toBe(subnetOf(got));
    const fails = () => logs.filter((l) => l.msg === 'applying the new lease failed');
    expect(fails()).toHaveLength(1);
    expect(fails()[0]).toMatchObject({ subnet: moved, err: 'writing subnet.env: disk full' });
    expect(msgs()).not.toContain('lease renewal failed');

    await clock.advance(fails()[0]!.retryInMs as number);
    expect(ka.changes).toHaveLength(2);
    expect(fails()).toHaveLength(2);
    await clock.advance(fails()[1]!.retryInMs as number);
    // Applied on the third try: the same new lease each time, compared against the old applied one.
    expect(ka.changes).toEqual([
      { next: moved, applied: subnetOf(got) },
      { next: moved, applied: subnetOf(got) },
      { next: moved, applied: subnetOf(got) },
    ]);
    expect(msgs()).toContain('applied the new lease');
    // Applied: nothing more happens until the renewal, which renews the new lease.
    await clock.advance((TTL - MARGIN) * 1000);
    expect(ka.changes).toHaveLength(3);
    expect(reg.calls.renew).toBeGreaterThanOrEqual(1);
    expect(reg.ttlLeft(moved.replace('/', '-'))).toBeGreaterThan(TTL - MARGIN);
    expect(msgs()).not.toContain('lease renewal failed');
  });

  it('keeps renewing the new lease while applying it keeps failing', async () => {
    const { reg, clock, mgr } = setup();
    const m = mgr();
    const got = await m.acquire(cfg16, attrs('192.0.2.1'));
    let ok = false;
    const ka = keepAlive(m, cfg16, got, () => {
      if (!ok) throw new Error('iptables: resource busy');
    });
    await settle();
    reg.remove(got.key);
    m.markLost();
    await clock.advance(3 * TTL * 1000);
    expect(reg.has(got.key)).toBe(true); // never expired: renewed between apply attempts
    expect(reg.calls.renew).toBe(3); // at 90 s, 180 s and 270 s after the new lease
    expect(reg.calls.list).toBe(2); // the first acquire and one after markLost: the lease never ran out
    const tries = ka.changes.length;
    expect(tries).toBeGreaterThan(3);
    ok = true;
    await clock.advance(60_000);
    expect(ka.changes.length).toBe(tries + 1);
    await clock.advance(60_000);
    expect(ka.changes.length).toBe(tries + 1);
  });

  it('applies only the newest lease when it is lost again while a change is pending', async () => {
    const { reg, mgr } = setup();
    const m = mgr();
    const got = await m.acquire(cfg16, attrs('192.0.2.1'));
    let fail = true;
    const ka = keepAlive(m, cfg16, got, () => {
      if (fail) throw new Error('busy');
    });
    await settle();
    reg.remove(got.key);
    reg.put({ ...got.lease, attrs: attrs('192.0.2.2') }, TTL);
    m.markLost();
    await settle();
    const first = ka.changes[0]!.next;
    reg.remove(first.replace('/', '-'));
    reg.put({ subnet: parseCidr(first), attrs: attrs('192.0.2.3'), reservation: false }, TTL);
    fail = false;
    m.markLost();
    await settle();
    const last = ka.changes[ka.changes.length - 1]!;
    expect(last.next).not.toBe(first);
    expect(last.applied).toBe(subnetOf(got));
    expect(reg.has(last.next.replace('/', '-'))).toBe(true);
  });

  it('does not apply a pending lease that was lost meanwhile: it waits for the next one', async () => {
    const { reg, clock, mgr, logs } = setup();
    const m = mgr();
    const got = await m.acquire(cfg16, attrs('192.0.2.1'));
    let fail = true;
    const ka = keepAlive(m, cfg16, got, () => {
      if (fail) throw new Error('busy');
    });
    await settle();
    reg.remove(got.key);
    m.markLost();
    await settle();
    expect(ka.changes).toHaveLength(1); // the first apply failed
    reg.remove(got.key); // lost again before the retry, and the registry fails for a while
    reg.down = true;
    m.markLost();
    await clock.advance(30_000);
    expect(logs.filter((l) => l.msg === 'acquiring a lease failed').length).toBeGreaterThan(1);
    expect(ka.changes).toHaveLength(1); // no apply of the lost lease meanwhile
    reg.down = false;
    fail = false;
    await clock.advance(60_000);
    expect(ka.changes).toHaveLength(2);
    expect(reg.has(got.key)).toBe(true);
    await clock.advance(60_000);
    expect(ka.changes).toHaveLength(2);
  });

  it('stops when the signal aborts, keeping the lease', async () => {
    const { reg, clock, mgr } = setup();
    const m = mgr();
    const got = await m.acquire(cfg16, attrs('192.0.2.1'));
    const ka = keepAlive(m, cfg16, got);
    await settle();
    ka.stop();
    await ka.done;
    expect(clock.sleepers).toBe(0);
    expect(reg.has(got.key)).toBe(true);
  });
});

describe('the memory registry watch, as flanneld uses it', () => {
  it('reports puts and deletes from a revision on, and a reset after compaction', async () => {
    const { reg } = setup();
    reg.put(lease('10.5.1.0/24', '192.0.2.1'), TTL);
    const snap = await reg.listLeases();
    const ac = new AbortController();
    const it = reg.watchLeases(snap.revision + 1n, ac.signal)[Symbol.asyncIterator]();
    const next = it.next();
    reg.put(lease('10.5.2.0/24', '192.0.2.2'), TTL);
    reg.remove('10.5.1.0-24');
    const b = (await next).value;
    expect(b).toMatchObject({ kind: 'events' });
    const events = b.kind === 'events' ? b.events.map((e: { type: string; key: string }) => `${e.type} ${e.key}`) : [];
    // The watcher may wake after the first write or after both.
    if (events.length === 1) {
      const b2 = (await it.next()).value;
      if (b2.kind === 'events') events.push(...b2.events.map((e: { type: string; key: string }) => `${e.type} ${e.key}`));
    }
    expect(events).toEqual(['put 10.5.2.0-24', 'delete 10.5.1.0-24']);
    reg.compact();
    await expect(reg.watchLeases(snap.revision + 1n, ac.signal)[Symbol.asyncIterator]().next()).resolves.toMatchObject({ value: { kind: 'reset' } });
    ac.abort();
    await expect(it.next()).resolves.toMatchObject({ done: true });
  });

  it('tells the lease watcher our own key is gone, which sends the manager to acquire again', async () => {
    const { reg, mgr } = setup();
    const m = mgr();
    const got = await m.acquire(cfg16, attrs('192.0.2.1'));
    const ka = keepAlive(m, cfg16, got);
    const watcher = new LeaseWatcher(got.key, pino({ level: 'silent' }));
    const ac = new AbortController();
    const from = (await reg.listLeases()).revision + 1n;
    const watching = (async () => {
      for await (const batch of reg.watchLeases(from, ac.signal)) if (watcher.apply(batch).ownLost) m.markLost();
    })();
    reg.remove(got.key);
    await settle();
    ac.abort();
    await watching;
    expect(ka.changes.map((c) => c.next)).toEqual([subnetOf(got)]);
    expect(reg.has(got.key)).toBe(true);
  });
});
