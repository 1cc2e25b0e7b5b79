// The watch cache's pure core, as kube-apiserver's cacher keeps one: the events of one resource in
// revision order, a bounded window of the most recent ones, and the client watches fed from it. A client
// that watches from a revision inside the window gets the held events after it, then every new one, with
// no gap and no duplicate between the two (both happen in one synchronous step); one from before the window
// is refused (the caller reads etcd instead, as without a cache). Written here rather than taken from a
// library: it is a ring buffer and a set of callbacks, bound to the revision rules of etcd.

/** What the window holds: anything with the etcd revision it happened at (non-decreasing as pushed). */
export interface Revisioned {
  readonly rev: bigint;
}

export interface WindowSubscriber<E extends Revisioned> {
  /** Each event after the subscriber's revision, in order; an exception drops the subscriber. */
  readonly onEvent: (e: E) => void;
  /** The window stopped (its etcd watch failed or closed): no event follows. */
  readonly onEnd: (reason: unknown) => void;
}

interface Subscription<E extends Revisioned> {
  readonly from: bigint;
  readonly sub: WindowSubscriber<E>;
}

export class WatchWindow<E extends Revisioned> {
  private readonly ring: (E | undefined)[];
  private head = 0; // index of the oldest held event
  private count = 0;
  private floor: bigint;
  private last: bigint;
  private readonly subs = new Set<Subscription<E>>();
  private ended = false;

  /**
   * `startRev`: the revision the window knows everything up to, i.e. its etcd watch starts at startRev + 1.
   * `capacity`: how many events it keeps.
   */
  constructor(
    readonly capacity: number,
    startRev: bigint,
  ) {
    if (!(capacity > 0)) throw new RangeError(`watch window capacity must be positive, not ${capacity}`);
    this.ring = new Array<E | undefined>(capacity);
    this.floor = startRev;
    this.last = startRev;
  }

  /** The oldest revision a client may watch from (exclusive) and be served from the window. */
  get lowerBound(): bigint {
    return this.floor;
  }

  /** The newest revision the window has an event of (or its start). */
  get latest(): bigint {
    return this.last;
  }

  get size(): number {
    return this.count;
  }

  get subscribers(): number {
    return this.subs.size;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** The held events, oldest first (for tests and debugging). */
  events(): E[] {
    const out: E[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.ring[(this.head + i) % this.capacity]!);
    return out;
  }

  /** Appends one event and hands it to every subscriber whose revision it is after. */
  push(e: E): void {
    if (this.ended) return;
    if (e.rev < this.last) throw new RangeError(`watch window: event at revision ${e.rev} after ${this.last}`);
    if (this.count === this.capacity) {
      // The oldest leaves: a client from before it can no longer be served from here.
      const old = this.ring[this.head]!;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.count--;
      this.floor = old.rev;
    }
    this.ring[(this.head + this.count) % this.capacity] = e;
    this.count++;
    this.last = e.rev;
    for (const s of this.subs) {
      if (e.rev <= s.from) continue;
      try {
        s.sub.onEvent(e);
      } catch (err) {
        this.subs.delete(s);
        s.sub.onEnd(err);
      }
    }
  }

  /**
   * Replays the held events after `from`, then keeps the subscriber on every new one; returns the
   * unsubscribe function, or undefined (nothing delivered) when `from` is older than the window or the
   * window has stopped.
   */
  subscribe(from: bigint, sub: WindowSubscriber<E>): (() => void) | undefined {
    if (this.ended || from < this.floor) return undefined;
    const s: Subscription<E> = { from, sub };
    for (let i = this.firstAfter(from); i < this.count; i++) {
      try {
        sub.onEvent(this.ring[(this.head + i) % this.capacity]!);
      } catch (err) {
        sub.onEnd(err);
        return () => undefined;
      }
    }
    this.subs.add(s);
    return () => void this.subs.delete(s);
  }

  /** Stops the window: every subscriber hears `reason` once, the events are dropped. */
  close(reason: unknown): void {
    if (this.ended) return;
    this.ended = true;
    const subs = [...this.subs];
    this.subs.clear();
    this.ring.fill(undefined);
    this.count = 0;
    for (const s of subs) s.sub.onEnd(reason);
  }

  /** The logical index of the first held event with a revision above `rev` (binary search). */
  private firstAfter(rev: bigint): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ring[(this.head + mid) % this.capacity]!.rev <= rev) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
