// Allocation within one range set: a requested address is checked and reserved; otherwise the
// round-robin iterator (the Go plugin's GetIter/Next) proposes candidates starting just after the
// last reserved address, skipping gateways and wrapping across the set's ranges, and the store's
// atomic reserve decides. A crash-looping pod therefore does not get the same address back until
// the whole set has been cycled through. The iterator is pure; the allocator only talks to IpStore.
import { type IpAddr, addIp, formatIp, ipEqual } from '../../core/index.js';
import { AddressesExhaustedError, DuplicateAllocationError, IpUnavailableError } from './errors.js';
import { type IpRange, type IpRangeSet, formatRangeSet, rangeContains, rangeFor, rangeSetContains, rangeSize } from './range.js';
import type { IpStore } from './store.js';

export interface Candidate {
  readonly ip: IpAddr;
  readonly range: IpRange;
}

/** An allocated address: the IP with its subnet's prefix length, and the range's gateway. */
export interface IpamAllocation {
  readonly ip: IpAddr;
  readonly prefix: number;
  readonly gateway: IpAddr;
}

/**
 * Every allocatable address of the set once, in round-robin order: from `last` + 1 when `last` is in
 * the set (ending with `last` itself), else from the first range's start. Gateways are skipped.
 */
export function* rangeIter(set: IpRangeSet, last?: IpAddr): Generator<Candidate, void, undefined> {
  if (set.length === 0) return;
  let idx = 0;
  let cur: IpAddr | undefined;
  let start: IpAddr | undefined;
  const from = last === undefined ? -1 : set.findIndex((r) => rangeContains(r, last));
  if (last !== undefined && from >= 0) {
    idx = from;
    cur = last;
  }
  // Bounded: one step per address of every range, one per range boundary, and the step back to the start.
  const limit = set.reduce((n, r) => n + rangeSize(r), 0n) + BigInt(set.length) + 1n;
  for (let step = 0n; step < limit; step++) {
    if (cur === undefined) {
      cur = set[idx]!.rangeStart;
      start = cur;
    } else {
      const r = set[idx]!;
      if (ipEqual(cur, r.rangeEnd)) {
        idx = (idx + 1) % set.length;
        cur = set[idx]!.rangeStart;
      } else {
        cur = addIp(cur, 1n);
      }
      if (start === undefined) start = cur;
      else if (ipEqual(cur, start)) return;
    }
    const range = set[idx]!;
    if (ipEqual(cur, range.gateway)) continue;
    yield { ip: cur, range };
  }
}

export class Allocator {
  constructor(
    private readonly set: IpRangeSet,
    private readonly store: IpStore,
    /** The set's index in the config, which names its `last_reserved_ip.<n>` file. */
    private readonly rangeIndex: number,
  ) {}

  private get rangeId(): string {
    return String(this.rangeIndex);
  }

  /** Reserves `requested`, or the next free address in round-robin order. */
  async get(id: string, ifname: string, requested?: IpAddr): Promise<IpamAllocation> {
    if (requested) return this.getRequested(id, ifname, requested);
    for (const held of await this.store.getById(id, ifname)) {
      if (rangeSetContains(this.set, held)) throw new DuplicateAllocationError(formatIp(held), id, this.rangeIndex);
    }
    for (const c of rangeIter(this.set, await this.store.lastReserved(this.rangeId))) {
      if (await this.store.reserve(id, ifname, c.ip, this.rangeId)) return { ip: c.ip, prefix: c.range.subnet.prefix, gateway: c.range.gateway };
    }
    throw new AddressesExhaustedError(this.rangeIndex, formatRangeSet(this.set));
  }

  private async getRequested(id: string, ifname: string, ip: IpAddr): Promise<IpamAllocation> {
    const r = rangeFor(this.set, ip);
    const text = formatIp(ip);
    if (!r) throw new IpUnavailableError(text, `${text} not in range set ${formatRangeSet(this.set)}`);
    if (ipEqual(ip, r.gateway)) throw new IpUnavailableError(text, `requested ip ${text} is subnet's gateway`);
    if (!(await this.store.reserve(id, ifname, ip, this.rangeId))) {
      throw new IpUnavailableError(text, `requested IP address ${text} is not available in range set ${formatRangeSet(this.set)}`);
    }
    return { ip, prefix: r.subnet.prefix, gateway: r.gateway };
  }
}
