// Lease policy, as flannel's LocalManager, over any SubnetRegistry:
//   1. a lease (or reservation) already held by this node's public IP,
//   2. else the subnet from the previous subnet.env, if nobody holds it,
//   3. else a random free subnet between SubnetMin and SubnetMax,
// created with a create-if-absent transaction. A lost race lists again and retries (flannel's v3
// code gave up), and the lease is renewed `renewMargin` before it expires.
import { Backoff, FlannelError, type Logger, errorMessage, silentLogger, sleep } from '../common/index.js';
import { pickFreeSubnet, subnetFitsConfig } from './allocate.js';
import { type FamilyNetwork, type NetworkConfig } from './config.js';
import { describeLease, type Lease, type LeaseAttrs, leaseKeyName } from './lease.js';
import { type Cidr, cidrEqual, formatCidr } from '../core/index.js';
import type { LeaseSnapshot, SubnetRegistry } from './registry.js';

export const DEFAULT_LEASE_TTL_SEC = 24 * 60 * 60;
export const DEFAULT_RENEW_MARGIN_SEC = 60 * 60;

export class OutOfSubnetsError extends FlannelError {
  readonly code = 'OUT_OF_SUBNETS';
  constructor(readonly range: string) {
    super(`out of subnets: every subnet in ${range} is leased or reserved`);
  }
}

export class LeaseConflictError extends FlannelError {
  readonly code = 'LEASE_CONFLICT';
  override readonly transient = true;
  constructor(readonly attempts: number) {
    super(`lost the race for a free subnet ${attempts} times in a row`);
  }
}

export interface AcquiredLease {
  readonly lease: Lease;
  readonly key: string;
  /** Undefined for a reservation, which never expires. */
  readonly expiration: Date | undefined;
  /** How many listings it took (more than 1 when other nodes won races for the chosen subnet). */
  readonly attempts: number;
}

/**
 * Takes and keeps this node's lease: flannel's own policy over etcd (LeaseManager), or the Node's podCIDR
 * on the Kubernetes API. The daemon drives either the same way.
 */
export interface SubnetLeaser {
  acquire(cfg: NetworkConfig, attrs: LeaseAttrs, signal?: AbortSignal): Promise<AcquiredLease>;
  keepAlive(cfg: NetworkConfig, held: AcquiredLease, signal: AbortSignal, onChange: (l: AcquiredLease, applied: AcquiredLease) => Promise<void> | void): Promise<void>;
  /** Our lease is gone (seen by the peer watch): take one again now. */
  markLost(): void;
  /** The network is up on this node with `held` (subnet.env written): tell whoever waits for it. */
  networkUp?(held: AcquiredLease, signal: AbortSignal): Promise<void>;
  /**
   * The listing the last acquire chose from, handed over once (then forgotten): the peer watch starts
   * from it instead of listing every lease a second time. Undefined when there is none to hand over.
   */
  takeListing?(): LeaseSnapshot | undefined;
}

export interface LeaseManagerOptions {
  readonly registry: SubnetRegistry;
  readonly log?: Logger;
  readonly ttlSec?: number;
  readonly renewMarginSec?: number;
  /** The subnets of the previous run (from subnet.env), preferred when still free. */
  readonly previous?: { subnet?: Cidr; ipv6Subnet?: Cidr };
  readonly rnd?: () => number;
  readonly maxAttempts?: number;
  /** Time and waiting, injected so tests can drive the renew/retry state machine without real waits. */
  readonly clock?: LeaseClock;
  /**
   * A listing started earlier (at the daemon's start, beside the config read and the device set-up,
   * where listing 5,000 leases waited for them), taken by the first acquire when it is fresh.
   */
  readonly prefetched?: Promise<PrefetchedListing | undefined>;
}

export interface PrefetchedListing {
  readonly snap: LeaseSnapshot;
  /** When the listing came back (clock ms). */
  readonly at: number;
}

/** A prefetched listing older than this is listed again: the daemon waited (for a config, for etcd). */
export const PREFETCH_FRESH_MS = 5_000;

export interface LeaseClock {
  now(): number;
  /** Resolves true after `ms`, false as soon as the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<boolean>;
}

export const systemClock: LeaseClock = { now: () => Date.now(), sleep };

export class LeaseManager implements SubnetLeaser {
  private readonly registry: SubnetRegistry;
  private readonly log: Logger;
  readonly ttlSec: number;
  readonly renewMarginSec: number;
  private previous: { subnet?: Cidr; ipv6Subnet?: Cidr };
  private readonly rnd: () => number;
  private readonly maxAttempts: number;
  private readonly clock: LeaseClock;
  private lost = new AbortController();
  private listing: LeaseSnapshot | undefined;
  /** Only the first acquire's listing is wanted (at start); later ones are not kept. */
  private listingTaken = false;
  private prefetched: Promise<PrefetchedListing | undefined> | undefined;

  constructor(o: LeaseManagerOptions) {
    this.registry = o.registry;
    this.log = o.log ?? silentLogger;
    this.ttlSec = o.ttlSec ?? DEFAULT_LEASE_TTL_SEC;
    this.renewMarginSec = o.renewMarginSec ?? DEFAULT_RENEW_MARGIN_SEC;
    if (this.renewMarginSec >= this.ttlSec) {
      throw new RangeError(`renew margin ${this.renewMarginSec}s must be shorter than the lease TTL ${this.ttlSec}s`);
    }
    this.previous = o.previous ?? {};
    this.rnd = o.rnd ?? Math.random;
    this.maxAttempts = o.maxAttempts ?? 30;
    this.clock = o.clock ?? systemClock;
    this.prefetched = o.prefetched;
  }

  /** The prefetched listing, once, if it is fresh; else a listing now. */
  private async list(): Promise<LeaseSnapshot> {
    const early = this.prefetched;
    this.prefetched = undefined;
    const got = early && (await early.catch(() => undefined));
    if (got && this.clock.now() - got.at <= PREFETCH_FRESH_MS) return got.snap;
    return this.registry.listLeases();
  }

  async acquire(cfg: NetworkConfig, attrs: LeaseAttrs, signal?: AbortSignal): Promise<AcquiredLease> {
    const backoff = new Backoff(20, 1_000, this.rnd);
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const snap = await this.list();
      const got = await this.tryAcquire(cfg, attrs, snap, attempt);
      if (got) {
        // Our own key is written after this listing (the watch from its revision on reports it); a
        // lease of ours that was deleted is in it too, so only the plain cases hand it over.
        this.listing = got.deletedOwn || this.listingTaken ? undefined : snap;
        const { lease } = got.acquired;
        this.previous = { ...(lease.subnet && { subnet: lease.subnet }), ...(lease.ipv6Subnet && { ipv6Subnet: lease.ipv6Subnet }) };
        return got.acquired;
      }
      this.log.info({ attempt }, 'another node took the chosen subnet first; retrying');
      if (!(await this.clock.sleep(backoff.next(), signal))) break;
    }
    throw new LeaseConflictError(this.maxAttempts);
  }

  takeListing(): LeaseSnapshot | undefined {
    const l = this.listing;
    this.listing = undefined;
    this.listingTaken = true;
    return l;
  }

  private async tryAcquire(cfg: NetworkConfig, attrs: LeaseAttrs, snap: LeaseSnapshot, attempts: number): Promise<{ acquired: AcquiredLease; deletedOwn: boolean } | undefined> {
    for (const c of snap.corrupt) this.log.warn({ key: c.key, reason: c.reason }, 'skipping corrupt lease');
    const leases = [...snap.leases.values()];

    const mine = leases.find((l) => heldBy(l, attrs, cfg));
    let deletedOwn = false;
    if (mine) {
      if (fitsConfig(cfg, mine)) {
        const lease: Lease = { ...mine, attrs };
        const expiration = await this.registry.updateLease(lease, this.ttlSec);
        this.log.info({ subnet: describeLease(lease), reservation: lease.reservation }, 'reusing the lease held by this node');
        return { acquired: { lease, key: leaseKeyName(lease), expiration, attempts }, deletedOwn: false };
      }
      if (mine.reservation) {
        this.log.error({ subnet: describeLease(mine) }, 'ignoring a reservation for this node that is outside the configured network');
      } else {
        this.log.warn({ subnet: describeLease(mine) }, 'deleting this node\'s lease: it no longer fits the network config');
        await this.registry.deleteLease(mine);
        deletedOwn = true;
      }
    }

    const taken4 = leases.filter((l) => l !== mine || mine.reservation).flatMap((l) => (l.subnet ? [l.subnet] : []));
    const taken6 = leases.filter((l) => l !== mine || mine.reservation).flatMap((l) => (l.ipv6Subnet ? [l.ipv6Subnet] : []));
    let previous = this.previous;
    // A lost race tells us one key is taken; other candidates from the same listing are still
    // likely free, so try a few before paying for another listing.
    for (let tries = 0; tries < CANDIDATES_PER_LISTING; tries++) {
      const subnet = cfg.v4 && this.choose(cfg.v4, previous.subnet, taken4);
      const ipv6Subnet = cfg.v6 && this.choose(cfg.v6, previous.ipv6Subnet, taken6);
      const lease: Lease = { ...(subnet && { subnet }), ...(ipv6Subnet && { ipv6Subnet }), attrs, reservation: false };
      const res = await this.registry.createLease(lease, this.ttlSec);
      if (res.created) {
        this.log.info({ subnet: describeLease(lease) }, 'leased a new subnet');
        return { acquired: { lease, key: leaseKeyName(lease), expiration: res.expiration, attempts }, deletedOwn };
      }
      if (subnet) taken4.push(subnet);
      if (ipv6Subnet) taken6.push(ipv6Subnet);
      previous = {};
    }
    return undefined;
  }

  private choose(net: FamilyNetwork, previous: Cidr | undefined, taken: Cidr[]): Cidr {
    if (previous) {
      const free = !taken.some((t) => cidrEqual(t, previous));
      if (free && subnetFitsConfig(net, previous)) return previous;
      this.log.info({ subnet: formatCidr(previous), free }, 'previous subnet cannot be reused');
    }
    const sn = pickFreeSubnet(net, taken, this.rnd);
    if (!sn) throw new OutOfSubnetsError(`${formatCidr({ addr: net.subnetMin, prefix: net.subnetLen })}..${formatCidr({ addr: net.subnetMax, prefix: net.subnetLen })}`);
    return sn;
  }

  /** Tells a running keepAlive that our key is gone (seen by the lease watch): acquire again now. */
  markLost(): void {
    this.lost.abort();
  }

  /**
   * Keeps `held` alive until the signal aborts: renews it `renewMargin` before it expires and, when
   * it is gone (expired while etcd was unreachable, or deleted by hand), acquires again — the same
   * subnet if it is still free — and reports the new lease through `onChange`. A new lease stays
   * pending until `onChange` has succeeded: a failed apply is retried with back-off (the lease is
   * still renewed meanwhile), and `applied` is the lease last applied, for the caller to compare.
   */
  async keepAlive(
    cfg: NetworkConfig,
    held: AcquiredLease,
    signal: AbortSignal,
    onChange: (l: AcquiredLease, applied: AcquiredLease) => Promise<void> | void,
  ): Promise<void> {
    let cur = held;
    let applied = held;
    // Each step has its own due time and back-off: a renewal keeps its schedule while applying a
    // new lease is being retried, so the lease never runs out because the apply is failing.
    const renewAtOf = (l: AcquiredLease) => (l.expiration ? l.expiration.getTime() - this.renewMarginSec * 1000 : Infinity);
    let renewAt = renewAtOf(cur);
    let acquireAt: number | undefined; // set while the lease is gone
    let applyAt: number | undefined; // set while `cur` is not applied yet
    const backoff = { renew: new Backoff(1_000, 60_000, this.rnd), acquire: new Backoff(1_000, 60_000, this.rnd), apply: new Backoff(1_000, 60_000, this.rnd) };
    const failed = (step: keyof typeof backoff, e: unknown, msg: string): number => {
      const delay = backoff[step].next();
      this.log.error({ err: errorMessage(e), subnet: describeLease(cur.lease), retryInMs: delay }, msg);
      return this.clock.now() + delay;
    };
    while (!signal.aborted) {
      // While the lease is gone, only acquiring is due: a pending apply waits for the new lease.
      const due = acquireAt ?? Math.min(renewAt, applyAt ?? Infinity);
      await this.clock.sleep(Math.min(Math.max(0, due - this.clock.now()), MAX_TIMER_MS), AbortSignal.any([signal, this.lost.signal]));
      if (signal.aborted) return;
      if (this.lost.signal.aborted) {
        this.lost = new AbortController();
        acquireAt = this.clock.now();
      } else if (this.clock.now() < due) {
        continue; // the timer is capped; keep waiting
      }

      if (acquireAt === undefined && this.clock.now() >= renewAt) {
        try {
          const r = await this.registry.renewLease(cur.lease);
          backoff.renew.reset();
          if (r.kind === 'renewed') {
            cur = { ...cur, expiration: r.expiration };
            renewAt = renewAtOf(cur);
            this.log.info({ subnet: describeLease(cur.lease), expiration: r.expiration.toISOString() }, 'renewed lease');
          } else if (r.kind === 'reservation') {
            cur = { ...cur, lease: { ...cur.lease, reservation: true }, expiration: undefined };
            renewAt = Infinity;
          } else {
            acquireAt = this.clock.now();
          }
        } catch (e) {
          if (signal.aborted) return;
          renewAt = failed('renew', e, 'lease renewal failed');
        }
      }

      if (acquireAt !== undefined && this.clock.now() >= acquireAt) {
        try {
          this.log.warn({ subnet: describeLease(cur.lease) }, 'own lease is gone; acquiring again');
          this.previous = { ...(cur.lease.subnet && { subnet: cur.lease.subnet }), ...(cur.lease.ipv6Subnet && { ipv6Subnet: cur.lease.ipv6Subnet }) };
          cur = await this.acquire(cfg, cur.lease.attrs, signal);
          renewAt = renewAtOf(cur);
          acquireAt = undefined;
          applyAt = this.clock.now();
          backoff.acquire.reset();
        } catch (e) {
          if (signal.aborted) return;
          acquireAt = failed('acquire', e, 'acquiring a lease failed');
        }
      }

      if (acquireAt === undefined && applyAt !== undefined && this.clock.now() >= applyAt) {
        const next = cur;
        try {
          await onChange(next, applied);
          applied = next;
          applyAt = undefined;
          backoff.apply.reset();
          this.log.info({ subnet: describeLease(next.lease) }, 'applied the new lease');
        } catch (e) {
          if (signal.aborted) return;
          applyAt = failed('apply', e, 'applying the new lease failed');
        }
      }
    }
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1;
const CANDIDATES_PER_LISTING = 3;

function heldBy(l: Lease, attrs: LeaseAttrs, cfg: NetworkConfig): boolean {
  if (cfg.v4 && attrs.publicIP !== undefined && l.attrs.publicIP !== attrs.publicIP) return false;
  if (cfg.v6 && attrs.publicIPv6 !== undefined && l.attrs.publicIPv6 !== attrs.publicIPv6) return false;
  return (cfg.v4 ? attrs.publicIP !== undefined : true) && (cfg.v6 ? attrs.publicIPv6 !== undefined : true);
}

function fitsConfig(cfg: NetworkConfig, l: Lease): boolean {
  const ok = (net: FamilyNetwork | undefined, sn: Cidr | undefined) => (net ? sn !== undefined && subnetFitsConfig(net, sn) : sn === undefined);
  return ok(cfg.v4, l.subnet) && ok(cfg.v6, l.ipv6Subnet);
}
