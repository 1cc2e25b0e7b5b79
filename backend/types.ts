import type { Logger } from '../common/index.js';
import type { Family, Lease, LeaseAttrs, NetworkConfig } from '../ipam/index.js';
import type { Netlink } from '../netlink/index.js';

export interface LeaseChanges {
  readonly added: readonly Lease[];
  readonly removed: readonly Lease[];
}

/** One address family's addresses on the external interface. */
export interface FamilyAddrs {
  /** The interface's own address (the VTEP source, the udp socket's bind address). */
  readonly local: string;
  /** What peers use to reach us: --public-ip (--public-ipv6), else `local`. */
  readonly publicIP: string;
}

/** The interface flanneld sends overlay traffic through, and the addresses it publishes. */
export interface ExternalInterface {
  readonly name: string;
  readonly index: number;
  readonly mtu: number;
  /** The addresses of each family the network enables (EnableIPv4, EnableIPv6). */
  readonly addrs: ReadonlyMap<Family, FamilyAddrs>;
}

/** A peer lease a backend cannot program, and why; `peer` when the peer itself is refused (host-gw off our segment). */
export interface SkippedPeer {
  readonly subnet: string;
  readonly peer?: string;
  readonly reason: string;
}

export interface BackendContext {
  readonly cfg: NetworkConfig;
  readonly ext: ExternalInterface;
  readonly nl: Netlink;
  readonly log: Logger;
}

/** A backend as flanneld sees it: a config parser with defaults, and a way to set up its network. */
export interface BackendFactory<C = unknown> {
  readonly type: string;
  /** Validates the `Backend` object and fills in defaults; throws ConfigError naming `Backend.<Field>`. */
  parseConfig(raw: Readonly<Record<string, unknown>>): C;
  /** The effective `Backend` object, every default filled in, with flannel's field names. */
  renderConfig(c: C): Record<string, unknown>;
  /** Creates the backend's devices; the lease is acquired afterwards with the returned attributes. */
  create(ctx: BackendContext, c: C): Promise<Network>;
}

export interface Network {
  readonly mtu: number;
  /** Published in our lease: PublicIP, BackendType, BackendData. */
  readonly attrs: LeaseAttrs;
  /** Our lease was acquired (or replaced): configure local addresses for it. */
  setLease(lease: Lease): Promise<void>;
  /**
   * Converges the kernel to exactly these peers. With `changes` (the leases added and removed since
   * the last successful call), a backend may apply just those; without, or after a failure, it
   * reads the kernel and converges everything. Called on every change and periodically.
   */
  reconcile(peers: readonly Lease[], changes?: LeaseChanges): Promise<void>;
  /**
   * Optional: calls `onDrift` whenever the kernel state the backend owns changes under it (a route
   * deleted by hand, the device removed), until the signal aborts, so the daemon reconciles at once
   * instead of at the next periodic resync.
   */
  watchDrift?(signal: AbortSignal, onDrift: () => void): Promise<void>;
  /** Optional: how many kernel objects of each kind the last reconcile left programmed. */
  objects?(): Readonly<Record<string, number>>;
  /** Releases resources held by the process; the data path stays up so a restart does not cut traffic. */
  close(): Promise<void>;
}
