// Following a /registry prefix: a listing, then a watch from just after it; a lost watch is a new
// listing (ObjectStore hands it over as a `reset`). Handlers see every object exactly as etcd holds
// it, through the kind's parser; a value that is not JSON or not of its kind's shape is reported to
// `corrupt` and otherwise ignored.
import type { Corrupt, ObjectStore, Parser, Stored } from '../cluster/index.js';
import { Backoff, errorMessage, type Logger, sleep } from '../common/index.js';

export interface FollowHandlers<T> {
  /** The complete listing (first, and after a lost watch). */
  reset(items: readonly Stored<T>[]): void;
  put(item: Stored<T>): void;
  delete(key: string): void;
  corrupt?(c: Corrupt): void;
}

export async function follow<T>(store: ObjectStore, prefix: string, parse: Parser<T>, signal: AbortSignal, log: Logger, h: FollowHandlers<T>): Promise<void> {
  const backoff = new Backoff(200, 5_000);
  while (!signal.aborted) {
    try {
      const { items, corrupt, revision } = await store.list(prefix, parse);
      corrupt.forEach((c) => h.corrupt?.(c));
      h.reset(items);
      backoff.reset();
      for await (const b of store.watch(prefix, parse, revision + 1n, signal)) {
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

/** Runs `fn` over `items` with at most `limit` in flight; resolves with the failures. */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<{ item: T; err: unknown }[]> {
  const failed: { item: T; err: unknown }[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed.push({ item, err });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return failed;
}
