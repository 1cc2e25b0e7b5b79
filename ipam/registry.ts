// Storage of the network config and the subnet leases, and nothing else: lease policy lives in
// LeaseManager above it. etcd is one implementation; tests may supply others.
import type { CorruptLeaseError, Lease } from './lease.js';

export type RegistryEvent =
  | { readonly type: 'put'; readonly key: string; readonly lease: Lease }
  | { readonly type: 'corrupt'; readonly key: string; readonly error: CorruptLeaseError }
  | { readonly type: 'delete'; readonly key: string };

export interface LeaseSnapshot {
  /** Valid leases by key name (`10.5.72.0-24`). */
  readonly leases: ReadonlyMap<string, Lease>;
  readonly corrupt: readonly CorruptLeaseError[];
  readonly revision: bigint;
}

export type WatchBatch =
  | { readonly kind: 'events'; readonly events: readonly RegistryEvent[]; readonly revision: bigint }
  /** The watch was lost (compaction, cancellation): a fresh listing replaces everything known. */
  | { readonly kind: 'reset'; readonly snapshot: LeaseSnapshot };

export type RenewResult = { readonly kind: 'renewed'; readonly expiration: Date } | { readonly kind: 'reservation' } | { readonly kind: 'missing' };

/** What a registry looked for when there is no config, and how an operator writes one. */
export interface MissingConfig {
  readonly lookedFor: readonly string[];
  readonly note?: string;
  readonly write: readonly string[];
}

/** Where the config and the peers' leases come from: what every flanneld reads (etcd, or the Nodes of the API). */
export interface PeerRegistry {
  /** Where the config is read, for the logs (an etcd key, a file). */
  readonly configSource?: string;
  /** The raw config document, or undefined when the key does not exist. */
  getNetworkConfig(): Promise<string | undefined>;
  /** For the waiting line when getNetworkConfig found nothing. */
  explainMissingConfig?(): Promise<MissingConfig>;
  listLeases(): Promise<LeaseSnapshot>;
  /** Events from `fromRevision` on; recovers from lost watches with a `reset` batch. */
  watchLeases(fromRevision: bigint, signal: AbortSignal): AsyncIterable<WatchBatch>;
}

/** A registry that also stores the leases themselves, for flannel's own lease policy (LeaseManager). */
export interface SubnetRegistry extends PeerRegistry {
  /** Creates the lease only if its key is absent; false when another node holds it. */
  createLease(lease: Lease, ttlSec: number): Promise<{ created: true; expiration: Date } | { created: false }>;
  /** Rewrites the attributes of an existing lease: a fresh TTL, or none for a reservation. */
  updateLease(lease: Lease, ttlSec: number): Promise<Date | undefined>;
  /** Extends the TTL of the lease's key without rewriting it. */
  renewLease(lease: Lease): Promise<RenewResult>;
  deleteLease(lease: Lease): Promise<void>;
}
