// Following a /registry prefix: a listing, then a watch from just after it; a lost watch is a new
// listing (ObjectStore hands it over as a `reset`). Handlers see every object exactly as etcd holds
// it; a value that is not JSON is reported to `corrupt` and otherwise ignored.
import type { Corrupt, ObjectStore, Stored } from '../cluster/index.js';
import { Backoff, errorMessage, type Logger, sleep } from '../common/index.js';

export interface FollowHandlers<T> {
  /** The complete listing (first, and after a lost watch). */
  reset(items: readonly Stored<T>[]): void;
  put(item: Stored<T>): void;
  delete(key: string): void;
  corrupt?(c: Corrupt): void;
}

export async function follow<T>(store: ObjectStore, prefix: string, signal: AbortSignal, log: Logger, h: FollowHandlers<T>): Promise<void> {
  const backoff = new Backoff(200, 5_000);
  while (!signal.aborted) {
    try {
      const { items, corrupt, revision } = await store.list<T>(prefix);
      corrupt.forEach((c) => h.corrupt?.(c));
      h.reset(items);
      backoff.reset();
      for await (const b of store.watch<T>(prefix, revision + 1n, signal)) {
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
      }
    } catch (e) {
      if (signal.aborted) break;
      log.warn({ prefix, err: errorMessage(e) }, 'listing failed; retrying');
      await sleep(backoff.next(), signal);
    }
  }
}
