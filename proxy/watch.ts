// Following a /registry prefix: common's followPrefix (a listing, then a watch from just after it; a
// lost watch or a failure is a new listing) over the object store, through the kind's parser. A value
// that is not JSON or not of its kind's shape is reported to `corrupt` and otherwise ignored.
import { type Corrupt, type ClusterStore, type Parser, prefixSource, type Stored } from '../cluster/index.js';
import { followPrefix, type Logger, type PrefixHandlers } from '../common/index.js';

export type FollowHandlers<T> = PrefixHandlers<Stored<T>, Corrupt>;

export function follow<T>(store: ClusterStore, prefix: string, parse: Parser<T>, signal: AbortSignal, log: Logger, h: FollowHandlers<T>): Promise<void> {
  return followPrefix<Stored<T>, Corrupt>(prefixSource(store, parse), signal, { prefix, log }, h);
}
