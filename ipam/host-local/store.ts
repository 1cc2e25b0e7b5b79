// The store behind the allocator (STYLE 3.4): the allocator picks candidates, the store says yes or
// no. `reserve` is the atomic test-and-set; everything else reads or removes reservations. The disk
// implementation is DiskStore; tests use an in-memory one.
import type { IpAddr } from '../../core/index.js';

export interface IpStore {
  /** Atomically claims `ip` for (id, ifname); false when it is already taken. Records it as the range's last reserved. */
  reserve(id: string, ifname: string, ip: IpAddr, rangeId: string): Promise<boolean>;
  /** The address last reserved in range set `rangeId`, where round-robin resumes. */
  lastReserved(rangeId: string): Promise<IpAddr | undefined>;
  /** Addresses held by (id, ifname), or by `id` alone when written by an old plugin without the ifname. */
  getById(id: string, ifname: string): Promise<IpAddr[]>;
  /** Releases what getById would return; returns the released addresses. Idempotent. */
  releaseById(id: string, ifname: string): Promise<IpAddr[]>;
}

/** A store whose operations are serialised across processes by a lock around `fn`. */
export interface LockedStore extends IpStore {
  withLock<T>(fn: () => Promise<T>): Promise<T>;
}
