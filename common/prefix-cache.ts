// List-then-watch of a key prefix, the one implementation the kubelet and the proxy share: list the
// prefix, hand the complete listing over, then follow the watch from just after the listing's
// revision. The watch itself recovers from a compaction or a cancelled watch by listing again and
// yielding a `reset` (watchPrefix, ObjectStore.watch); when the listing or the watch fails outright
// (etcd unreachable), the whole cycle starts over after an exponential back-off, reset by the next
// listing that succeeds. A failure is logged when it is the first, when its error changes, and every
// tenth time while it repeats.
//
// The source is anything with list and watch by prefix, so this module knows nothing of how values
// are decoded (cluster's ObjectStore decodes them; a value it cannot read arrives as `corrupt`).
import { Backoff, sleep as realSleep } from './backoff.js';
import { errorMessage } from '../core/index.js';
import type { Logger } from './log.js';

export interface PrefixCorrupt {
  readonly key: string;
  readonly reason: string;
}

export type PrefixEvent<I, C> = { readonly type: 'put'; readonly item: I } | { readonly type: 'delete'; readonly key: string } | { readonly type: 'corrupt'; readonly corrupt: C };

export type PrefixBatch<I, C> =
  | { readonly kind: 'events'; readonly events: readonly PrefixEvent<I, C>[]; readonly revision: bigint }
  | { readonly kind: 'reset'; readonly items: readonly I[]; readonly corrupt: readonly C[]; readonly revision: bigint };

/** What can be followed: cluster's ObjectStore (or the kubelet's ClusterStore) as it is. */
export interface PrefixSource<I, C> {
  list(prefix: string): Promise<{ readonly items: readonly I[]; readonly corrupt: readonly C[]; readonly revision: bigint }>;
  /** Batches from `fromRevision` on; ends only when the signal aborts (or throws). */
  watch(prefix: string, fromRevision: bigint, signal: AbortSignal): AsyncIterable<PrefixBatch<I, C>>;
}

export interface PrefixHandlers<I, C> {
  /** The complete listing: first, and again after every lost watch or failure. */
  reset(items: readonly I[]): void;
  put(item: I): void;
  delete(key: string): void;
  corrupt?(c: C): void;
  /** After the events of one watch batch (to act once per batch, not per event). */
  batchEnd?(): void;
}

export interface FollowOptions {
  readonly prefix: string;
  readonly log: Logger;
  /** Back-off after a failed listing or watch: from minMs (200) doubling to maxMs (5 s). */
  readonly minMs?: number;
  readonly maxMs?: number;
  readonly random?: () => number;
  /** Injected in tests. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<boolean>;
}

/** Follows the prefix until the signal aborts; never rejects (failures are retried). */
export async function followPrefix<I, C>(src: PrefixSource<I, C>, signal: AbortSignal, o: FollowOptions, h: PrefixHandlers<I, C>): Promise<void> {
  const backoff = new Backoff(o.minMs ?? 200, o.maxMs ?? 5_000, o.random);
  const pause = o.sleep ?? realSleep;
  let failures = 0;
  let lastErr: string | undefined;
  // Bounded by the signal: every failure sleeps before the next attempt.
  while (!signal.aborted) {
    try {
      const { items, corrupt, revision } = await src.list(o.prefix);
      corrupt.forEach((c) => h.corrupt?.(c));
      h.reset(items);
      backoff.reset();
      if (failures) o.log.info({ prefix: o.prefix, failures }, 'listing works again');
      failures = 0;
      lastErr = undefined;
      for await (const b of src.watch(o.prefix, revision + 1n, signal)) {
        if (b.kind === 'reset') {
          b.corrupt.forEach((c) => h.corrupt?.(c));
          h.reset(b.items);
          continue;
        }
        for (const e of b.events) {
          if (e.type === 'put') h.put(e.item);
          else if (e.type === 'delete') h.delete(e.key);
          else h.corrupt?.(e.corrupt);
        }
        h.batchEnd?.();
      }
    } catch (e) {
      if (signal.aborted) break;
      failures++;
      const err = errorMessage(e);
      const delayMs = backoff.next();
      if (failures === 1 || err !== lastErr || failures % 10 === 0) o.log.warn({ prefix: o.prefix, err, failures, retryInMs: delayMs }, 'cannot list or watch; retrying');
      lastErr = err;
      await pause(delayMs, signal);
    }
  }
}

/**
 * A prefix kept in memory by followPrefix: `items` by key, `synced` after the first listing, and
 * onChange with the keys that changed (every key, old and new, after a listing). Corrupt values are
 * logged and dropped from `items`.
 */
export class PrefixCache<I extends { readonly key: string }, C extends PrefixCorrupt = PrefixCorrupt> {
  readonly items = new Map<string, I>();
  synced = false;

  constructor(
    private readonly src: PrefixSource<I, C>,
    private readonly o: FollowOptions,
    private readonly onChange: (changed: ReadonlySet<string>) => void,
  ) {}

  get prefix(): string {
    return this.o.prefix;
  }

  run(signal: AbortSignal): Promise<void> {
    // Keys changed by the current watch batch: onChange runs once per batch.
    let pending = new Set<string>();
    return followPrefix(this.src, signal, this.o, {
      reset: (items) => {
        const changed = new Set<string>([...pending, ...this.items.keys()]);
        pending = new Set();
        this.items.clear();
        for (const it of items) {
          this.items.set(it.key, it);
          changed.add(it.key);
        }
        this.synced = true;
        this.onChange(changed);
      },
      put: (it) => {
        this.items.set(it.key, it);
        pending.add(it.key);
      },
      delete: (key) => {
        if (this.items.delete(key)) pending.add(key);
      },
      corrupt: (c) => {
        this.o.log.warn({ prefix: this.o.prefix, key: c.key, reason: c.reason }, 'skipping a corrupt object');
        if (this.items.delete(c.key)) pending.add(c.key);
      },
      batchEnd: () => {
        if (pending.size === 0) return;
        const changed = pending;
        pending = new Set();
        this.onChange(changed);
      },
    });
  }
}
