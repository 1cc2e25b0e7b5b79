// Following a /registry prefix: common's followPrefix (a listing, then a watch from just after it; a
// lost watch or a failure is a new listing) over the object store. Handlers see every object exactly
// as etcd holds it; a value that is not JSON is reported to `corrupt` and otherwise ignored.
import type { Corrupt, ObjectStore, Stored } from '../cluster/index.js';
import { followPrefix, type Logger, type PrefixHandlers } from '../common/index.js';

export type FollowHandlers<T> = PrefixHandlers<Stored<T>, Corrupt>;

export function follow<T>(store: ObjectStore, prefix: string, signal: AbortSignal, log: Logger, h: FollowHandlers<T>): Promise<void> {
  return followPrefix<Stored<T>, Corrupt>(store, signal, { prefix, log }, h);
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
