// Following a /registry prefix: common's followPrefix (a listing, then a watch from just after it; a
// lost watch or a failure is a new listing) over the object store. Handlers see every object exactly
// as etcd holds it; a value that is not JSON is reported to `corrupt` and otherwise ignored.
import type { Corrupt, ObjectStore, Stored } from '../cluster/index.js';
import { followPrefix, type Logger, type PrefixHandlers } from '../common/index.js';

export type FollowHandlers<T> = PrefixHandlers<Stored<T>, Corrupt>;

export function follow<T>(store: ObjectStore, prefix: string, signal: AbortSignal, log: Logger, h: FollowHandlers<T>): Promise<void> {
  return followPrefix<Stored<T>, Corrupt>(store, signal, { prefix, log }, h);
}
