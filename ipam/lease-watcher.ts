// Turns the registry's watch batches into the peer changes a backend acts on. It remembers every
// peer lease it has reported, so a `reset` snapshot (after a lost watch) becomes the exact set of
// additions and removals, and our own lease never shows up as a peer.
import type { Logger } from '../common/index.js';
import { type Lease, sameSubnets } from './lease.js';
import type { LeaseSnapshot, RegistryEvent, WatchBatch } from './registry.js';

export type LeaseEvent =
  | { readonly type: 'added'; readonly key: string; readonly lease: Lease }
  | { readonly type: 'removed'; readonly key: string; readonly lease: Lease };

export interface WatchOutcome {
  readonly events: LeaseEvent[];
  /** Our own key was deleted (or corrupted) in this batch. */
  readonly ownLost: boolean;
}

export class LeaseWatcher {
  private readonly peers = new Map<string, Lease>();

  constructor(
    private ownKey: string | undefined,
    private readonly log: Logger,
  ) {}

  setOwnKey(key: string): void {
    this.ownKey = key;
    this.peers.delete(key);
  }

  /** How many peer leases are known. */
  get size(): number {
    return this.peers.size;
  }

  /** Every peer lease currently known, for a full reconcile. */
  current(): Lease[] {
    return [...this.peers.values()];
  }

  apply(batch: WatchBatch): WatchOutcome {
    return batch.kind === 'reset' ? this.reset(batch.snapshot) : this.applyEvents(batch.events);
  }

  reset(snap: LeaseSnapshot): WatchOutcome {
    for (const c of snap.corrupt) this.log.warn({ key: c.key, reason: c.reason }, 'skipping corrupt lease');
    const events: LeaseEvent[] = [];
    for (const [key, lease] of this.peers) {
      const now = snap.leases.get(key);
      if (!now || !sameLease(now, lease)) {
        this.peers.delete(key);
        events.push({ type: 'removed', key, lease });
      }
    }
    for (const [key, lease] of snap.leases) {
      if (key === this.ownKey || this.peers.has(key)) continue;
      this.peers.set(key, lease);
      events.push({ type: 'added', key, lease });
    }
    const ownLost = this.ownKey !== undefined && !snap.leases.has(this.ownKey);
    return { events, ownLost };
  }

  private applyEvents(batch: readonly RegistryEvent[]): WatchOutcome {
    const events: LeaseEvent[] = [];
    let ownLost = false;
    for (const ev of batch) {
      if (ev.key === this.ownKey) {
        if (ev.type !== 'put') ownLost = true;
        if (ev.type === 'corrupt') this.log.warn({ key: ev.key, reason: ev.error.reason }, 'own lease is corrupt');
        continue;
      }
      const known = this.peers.get(ev.key);
      if (ev.type === 'put') {
        // A renewal rewrites the same attributes: no change for the backend.
        if (known && sameLease(known, ev.lease)) continue;
        if (known) events.push({ type: 'removed', key: ev.key, lease: known });
        this.peers.set(ev.key, ev.lease);
        events.push({ type: 'added', key: ev.key, lease: ev.lease });
        continue;
      }
      if (ev.type === 'corrupt') this.log.warn({ key: ev.key, reason: ev.error.reason }, 'skipping corrupt lease');
      if (known) {
        this.peers.delete(ev.key);
        events.push({ type: 'removed', key: ev.key, lease: known });
      }
    }
    return { events, ownLost };
  }
}

function sameLease(a: Lease, b: Lease): boolean {
  return sameSubnets(a, b) && JSON.stringify(a.attrs) === JSON.stringify(b.attrs) && a.reservation === b.reservation;
}
