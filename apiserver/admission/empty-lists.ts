// LimitRanger's and ResourceQuota's reads of a namespace's LimitRanges or ResourceQuotas, done on every
// pod (and other counted) create: most namespaces have none, and a live list per create cost a third of
// the creates' throughput. A namespace seen to have none is remembered as empty for `ttlMs`, or until
// this apiserver writes one there; any other answer is read live each time, so quota accounting (its
// compare-and-swap on status) never works from a stale copy. Another apiserver's first LimitRange or
// quota in a namespace takes effect within `ttlMs` here, as kube-apiserver's informer-fed listers lag.
import type { Obj } from '../object.js';

export class EmptyListCache {
  private readonly emptyUntil = new Map<string, number>();

  constructor(
    private readonly list: (namespace: string) => Promise<Obj[]>,
    private readonly ttlMs = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(namespace: string): Promise<Obj[]> {
    const until = this.emptyUntil.get(namespace);
    if (until !== undefined && until > this.now()) return [];
    const items = await this.list(namespace);
    if (items.length === 0) {
      if (this.emptyUntil.size > 10_000) this.emptyUntil.clear();
      this.emptyUntil.set(namespace, this.now() + this.ttlMs);
    } else this.emptyUntil.delete(namespace);
    return items;
  }

  /** One of the kind was written in `namespace` (or, for '', anywhere). */
  invalidate(namespace: string): void {
    if (namespace === '') this.emptyUntil.clear();
    else this.emptyUntil.delete(namespace);
  }
}
