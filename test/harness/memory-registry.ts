// An in-memory SubnetRegistry (flannel's mock_registry.go idea) on a fake clock, for unit tests of
// the lease policy. It keeps etcd's semantics where the lease manager depends on them: values are
// stored as flannel's JSON and parsed back on every listing (so corrupt entries show up as they do
// from etcd), create is create-if-absent, keys written with a TTL expire on the clock and keys
// written without one (reservations) never do, every change bumps one revision and is seen by
// watches from that revision on. Tests steer it through hooks: a write by "another node" between a
// listing and a create, and failures injected into the next call of an operation.
import { EtcdError } from '../../common/index.js';
import {
  CorruptLeaseError,
  type Lease,
  type LeaseClock,
  type LeaseSnapshot,
  type RegistryEvent,
  type RenewResult,
  type SubnetRegistry,
  type WatchBatch,
  leaseKeyName,
  parseLease,
  renderLeaseAttrs,
} from '../../ipam/index.js';

/** A clock whose time moves only when the test says so; sleepers wake in deadline order. */
export class FakeClock implements LeaseClock {
  private t: number;
  private seq = 0;
  private readonly timers: { at: number; seq: number; wake: (fired: boolean) => void }[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = { at: this.t + ms, seq: this.seq++, wake: resolve };
      const onAbort = () => {
        this.timers.splice(this.timers.indexOf(timer), 1);
        resolve(false);
      };
      timer.wake = (fired) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(fired);
      };
      this.timers.push(timer);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** How many sleeps are waiting. */
  get sleepers(): number {
    return this.timers.length;
  }

  /** The deadline of the earliest sleeper, or undefined when nobody sleeps. */
  nextDeadline(): number | undefined {
    return this.timers.reduce<number | undefined>((m, t) => (m === undefined || t.at < m ? t.at : m), undefined);
  }

  /** Moves time forward by `ms`, waking each sleeper at its deadline and letting it run before the next. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers.splice(this.timers.indexOf(due), 1);
      this.t = Math.max(this.t, due.at);
      due.wake(true);
    }
    this.t = target;
    await settle();
  }
}

/** Lets pending promise chains and immediates run: everything in the memory registry resolves at once. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

type Op = 'config' | 'list' | 'create' | 'update' | 'renew' | 'delete';

interface Entry {
  readonly raw: string;
  /** Undefined: no TTL (a reservation, or a key written by hand). */
  readonly expiresAt: number | undefined;
  readonly ttlSec: number | undefined;
}

export class MemoryRegistry implements SubnetRegistry {
  config: string | undefined;
  /** Runs inside createLease after the caller listed and before the key is checked: another node's write. */
  beforeCreate: ((lease: Lease) => void) | undefined;
  /** While true every call fails as when etcd is unreachable (keys still expire on the clock). */
  down = false;
  /** How many times each operation was called. */
  readonly calls: Record<Op, number> = { config: 0, list: 0, create: 0, update: 0, renew: 0, delete: 0 };
  private readonly entries = new Map<string, Entry>();
  private readonly history: { revision: bigint; event: RegistryEvent }[] = [];
  private readonly failures = new Map<Op, Error[]>();
  private readonly waiters = new Set<() => void>();
  private rev = 1n;
  private compacted = 0n;

  constructor(
    private readonly clock: Pick<LeaseClock, 'now'>,
    config?: string,
  ) {
    this.config = config;
  }

  get revision(): bigint {
    return this.rev;
  }

  /** The next call of `op` throws `err` (an EtcdError by default); several calls queue up. */
  failNext(op: Op, err: Error = new EtcdError(op, '(memory)', new Error(`injected ${op} failure`))): void {
    const q = this.failures.get(op) ?? [];
    q.push(err);
    this.failures.set(op, q);
  }

  /** Writes a key as another node or an operator would: with a TTL, or none (a reservation). */
  put(lease: Lease, ttlSec?: number): void {
    this.write(leaseKeyName(lease), renderLeaseAttrs(lease.attrs), ttlSec);
  }

  /** Writes any value under a key name, e.g. a corrupt one. */
  putRaw(name: string, raw: string, ttlSec?: number): void {
    this.write(name, raw, ttlSec);
  }

  /** Deletes a key as an operator would (`etcdctl del`). */
  remove(name: string): boolean {
    this.sweep();
    return this.drop(name);
  }

  has(name: string): boolean {
    this.sweep();
    return this.entries.has(name);
  }

  /** Seconds left on a key's TTL, undefined for a key without one or a missing key. */
  ttlLeft(name: string): number | undefined {
    this.sweep();
    const e = this.entries.get(name);
    return e?.expiresAt === undefined ? undefined : (e.expiresAt - this.clock.now()) / 1000;
  }

  /** Forgets history up to the current revision: older watches get a `reset` snapshot. */
  compact(): void {
    this.compacted = this.rev;
    this.history.splice(0);
    this.notify();
  }

  /** Expires keys whose TTL ran out on the clock (etcd does this by itself; here every call does it). */
  sweep(): void {
    for (const [name, e] of [...this.entries]) {
      if (e.expiresAt !== undefined && e.expiresAt <= this.clock.now()) this.drop(name);
    }
  }

  async getNetworkConfig(): Promise<string | undefined> {
    this.enter('config');
    return this.config;
  }

  async listLeases(): Promise<LeaseSnapshot> {
    this.enter('list');
    return this.snapshot();
  }

  async createLease(lease: Lease, ttlSec: number): Promise<{ created: true; expiration: Date } | { created: false }> {
    this.enter('create');
    this.beforeCreate?.(lease);
    this.sweep();
    const name = leaseKeyName(lease);
    if (this.entries.has(name)) return { created: false };
    this.write(name, renderLeaseAttrs(lease.attrs), lease.reservation ? undefined : ttlSec);
    return { created: true, expiration: new Date(this.clock.now() + ttlSec * 1000) };
  }

  async updateLease(lease: Lease, ttlSec: number): Promise<Date | undefined> {
    this.enter('update');
    this.write(leaseKeyName(lease), renderLeaseAttrs(lease.attrs), lease.reservation ? undefined : ttlSec);
    return lease.reservation ? undefined : new Date(this.clock.now() + ttlSec * 1000);
  }

  async renewLease(lease: Lease): Promise<RenewResult> {
    this.enter('renew');
    const name = leaseKeyName(lease);
    const e = this.entries.get(name);
    if (!e) return { kind: 'missing' };
    if (e.ttlSec === undefined) return { kind: 'reservation' };
    // A keep-alive extends the TTL without a new revision, as in etcd.
    const expiresAt = this.clock.now() + e.ttlSec * 1000;
    this.entries.set(name, { ...e, expiresAt });
    return { kind: 'renewed', expiration: new Date(expiresAt) };
  }

  async deleteLease(lease: Lease): Promise<void> {
    this.enter('delete');
    this.drop(leaseKeyName(lease));
  }

  async *watchLeases(fromRevision: bigint, signal: AbortSignal): AsyncIterable<WatchBatch> {
    let from = fromRevision;
    while (!signal.aborted) {
      this.sweep();
      if (from <= this.compacted) {
        const snapshot = this.snapshot();
        from = snapshot.revision + 1n;
        yield { kind: 'reset', snapshot };
        continue;
      }
      const events = this.history.filter((h) => h.revision >= from);
      if (events.length > 0) {
        const revision = events[events.length - 1]!.revision;
        from = revision + 1n;
        yield { kind: 'events', events: events.map((h) => h.event), revision };
        continue;
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          this.waiters.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.waiters.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  private enter(op: Op): void {
    this.calls[op]++;
    this.sweep();
    if (this.down) throw new EtcdError(op, '(memory)', new Error('connect ECONNREFUSED (registry is down)'));
    const err = this.failures.get(op)?.shift();
    if (err) throw err;
  }

  private snapshot(): LeaseSnapshot {
    const leases = new Map<string, Lease>();
    const corrupt: CorruptLeaseError[] = [];
    for (const [name, e] of this.entries) {
      try {
        leases.set(name, parseLease(name, e.raw, e.expiresAt === undefined));
      } catch (err) {
        if (!(err instanceof CorruptLeaseError)) throw err;
        corrupt.push(err);
      }
    }
    return { leases, corrupt, revision: this.rev };
  }

  private write(name: string, raw: string, ttlSec: number | undefined): void {
    this.sweep();
    this.entries.set(name, { raw, ttlSec, expiresAt: ttlSec === undefined ? undefined : this.clock.now() + ttlSec * 1000 });
    let event: RegistryEvent;
    try {
      event = { type: 'put', key: name, lease: parseLease(name, raw, ttlSec === undefined) };
    } catch (err) {
      if (!(err instanceof CorruptLeaseError)) throw err;
      event = { type: 'corrupt', key: name, error: err };
    }
    this.record(event);
  }

  private drop(name: string): boolean {
    if (!this.entries.delete(name)) return false;
    this.record({ type: 'delete', key: name });
    return true;
  }

  private record(event: RegistryEvent): void {
    this.rev++;
    this.history.push({ revision: this.rev, event });
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
