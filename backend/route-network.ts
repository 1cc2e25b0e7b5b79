// flannel's `route_network` idea, for every backend that programs its peers into the kernel: one
// network, parameterised per address family by how a peer lease becomes kernel entries (vxlan: a
// neighbour, an FDB entry and an onlink route; host-gw: a route via the peer) and by which entries
// in the kernel are the family's. The loop over the families, the choice between a partial sync
// (only the changed leases, no dumps) and a full one (dump and diff), and the skipped-peer log live
// here once; the backends supply the per-family parts and keep their own devices and errors.
import type { Logger } from '../common/index.js';
import type { Family, Lease } from '../ipam/index.js';
import type { Netlink } from '../netlink/index.js';
import { Converger, type KernelState } from './kernel-state.js';
import type { LeaseChanges, SkippedPeer } from './types.js';

/** The entries the kernel must hold for some leases, and the leases that could not be programmed. */
export interface DesiredState {
  readonly state: KernelState;
  readonly skipped: readonly SkippedPeer[];
}

/** What one family's sync works with, read afresh before each sync. */
export interface FamilySync {
  /** How leases become this family's kernel entries (pure). */
  desired(leases: readonly Lease[]): DesiredState;
  /** The entries the kernel holds that are this family's (dumps: full syncs only). */
  owned(): Promise<KernelState>;
  /** The objects under the entries changed (a device recreated): forget what was applied, sync in full. */
  readonly reset?: boolean;
}

export interface RouteFamily {
  readonly family: Family;
  /** The logger of this family's kernel updates; the network's by default. */
  readonly log?: Logger;
  /** Runs before each sync of the family: checks what its entries sit on, reads what `desired` needs. */
  prepare(): Promise<FamilySync>;
}

/**
 * Logs each skipped peer once per subnet and reason, so that a peer that stays unusable is not
 * logged again on every sync: `refusing peer` (error) when the peer itself is refused, else
 * `skipping peer` (warn).
 */
export class SkippedPeerLog {
  private readonly logged = new Set<string>();

  constructor(private readonly log: Logger) {}

  note(skipped: readonly SkippedPeer[]): void {
    for (const s of skipped) {
      const k = `${s.subnet} ${s.reason}`;
      if (this.logged.has(k)) continue;
      this.logged.add(k);
      if (s.peer) this.log.error({ subnet: s.subnet, peer: s.peer, reason: s.reason }, 'refusing peer');
      else this.log.warn({ subnet: s.subnet, reason: s.reason }, 'skipping peer');
    }
  }
}

export class RouteNetwork {
  private readonly planes: readonly { readonly spec: RouteFamily; readonly sync: Converger }[];
  private readonly skipped: SkippedPeerLog;

  constructor(nl: Netlink, log: Logger, families: readonly RouteFamily[]) {
    this.planes = families.map((spec) => ({ spec, sync: new Converger(nl, spec.log ?? log) }));
    this.skipped = new SkippedPeerLog(log);
  }

  /**
   * Converges every family to the peers, one after the other: with `changes` and a family that has
   * synced before, only the entries of the changed leases (no dumps); otherwise the kernel is read
   * and everything diffed. Returns how many kernel updates failed (the next sync is then full).
   */
  async converge(peers: readonly Lease[], changes?: LeaseChanges): Promise<number> {
    let failed = 0;
    for (const { spec, sync } of this.planes) {
      const f = await spec.prepare();
      if (f.reset) sync.forget();
      const desired = (leases: readonly Lease[]): KernelState => {
        const d = f.desired(leases);
        this.skipped.note(d.skipped);
        return d.state;
      };
      const res =
        changes && sync.ready
          ? await sync.partial(desired(changes.removed), desired(changes.added))
          : await sync.full(desired(peers), await f.owned());
      failed += res.failed;
    }
    return failed;
  }

  /** How many entries of each kind the families' last syncs left programmed. */
  sizes(): { route: number; neigh: number; fdb: number } {
    const total = { route: 0, neigh: 0, fdb: 0 };
    for (const { sync } of this.planes) {
      const s = sync.sizes();
      total.route += s.route;
      total.neigh += s.neigh;
      total.fdb += s.fdb;
    }
    return total;
  }
}
