// What the controller manager runs besides the replication manager: a controller over list+watch
// caches (its own, plus the manager's shared pods cache), with a work queue of `namespace/name` keys
// and a sync that throws to be retried and may ask to look again after a delay.
import type { ApiClient, Corrupt, Stored } from '../cluster/index.js';
import type { Logger, PrefixCache } from '../common/index.js';
import type { WorkQueue } from './queue.js';

type Obj = Record<string, unknown>;
export type ObjCache = PrefixCache<Stored<Obj>, Corrupt>;

export interface QueueController {
  readonly kind: string;
  readonly queue: WorkQueue;
  /** Its own caches; the manager runs them and waits for their first listing. */
  readonly caches: readonly ObjCache[];
  podsChanged(keys: ReadonlySet<string>): void;
  /** Every object of its kind queued (once the caches have synced). */
  resync(): void;
  sync(key: string): Promise<number | undefined>;
}

export interface ControllerContext {
  readonly client: ApiClient;
  /** A new list+watch cache of a key prefix, calling `onChange` once per watch batch. */
  cache(prefix: string, onChange: (changed: ReadonlySet<string>) => void): ObjCache;
  readonly pods: ObjCache;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly now?: () => number;
}
