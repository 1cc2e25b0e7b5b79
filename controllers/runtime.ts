// What the controllers that keep their own caches share: a list+watch cache of one key prefix
// (typed by its parser), waiting for the first listings (WaitForCacheSync), workers over a work queue,
// and events written as Kubernetes' recorder writes them. The ApiClient does the writes: the
// key-based store is for reading.
import { type ApiClient, type ClusterStore, type Corrupt, type Node, type Parser, parseJsonObject, parseNodeObject, prefixSource, type Stored } from '../cluster/index.js';
import { errorMessage, type Logger, PrefixCache, sleep } from '../common/index.js';
import { rfc3339 } from './fields.js';
import type { WorkQueue } from './queue.js';

/** The deps a controller of this kind is built from. */
export interface ControllerDeps {
  readonly store: ClusterStore;
  readonly client: ApiClient;
  readonly log: Logger;
}

/** A controller that runs until the signal aborts (its leadership ends). */
export interface RunnableController {
  run(signal: AbortSignal): Promise<void>;
}

/** A Node as the API serves it: a node registered without a spec or a status has empty ones. */
export const parseNode: Parser<Node> = (v) => {
  const o = parseJsonObject(v);
  return parseNodeObject({ ...o, spec: o.spec ?? {}, status: o.status ?? {} });
};

export type Cache<T> = PrefixCache<Stored<T>, Corrupt>;

export function cacheOf<T>(store: ClusterStore, prefix: string, parse: Parser<T>, log: Logger, onChange: (keys: ReadonlySet<string>) => void): Cache<T> {
  return new PrefixCache<Stored<T>, Corrupt>(prefixSource(store, parse), { prefix, log }, onChange);
}

/** Resolves true once every cache has listed, false if the signal aborts first (bounded by it). */
export async function waitSynced(caches: readonly { readonly synced: boolean }[], signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted && !caches.every((c) => c.synced)) await sleep(50, signal);
  return !signal.aborted;
}

/**
 * `n` workers over the queue until it is shut down (when the signal aborts). `sync` throws to be retried
 * with the queue's per-key back-off, or returns a delay after which to look at the key again.
 */
export async function runWorkers(queue: WorkQueue, n: number, sync: (key: string) => Promise<number | undefined | void>, log: Logger, signal: AbortSignal): Promise<void> {
  signal.addEventListener('abort', () => queue.shutDown(), { once: true });
  if (signal.aborted) queue.shutDown();
  const worker = async (): Promise<void> => {
    // Bounded by the queue: get() returns undefined once it is shut down.
    for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
      try {
        const again = await sync(key);
        queue.forget(key);
        if (typeof again === 'number') queue.addAfter(key, again);
      } catch (e) {
        if (!signal.aborted) log.warn({ key, err: errorMessage(e), retryInMs: queue.backoffOf(key) }, 'sync failed; retrying');
        queue.addRateLimited(key);
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, n) }, worker));
}



export interface EventTarget {
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespace?: string;
  readonly name: string;
  readonly uid?: string;
}

/** An event as Kubernetes' recorder writes one (best effort: a failure is logged, never thrown). */
export async function recordEvent(client: ApiClient, log: Logger, component: string, on: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string, signal?: AbortSignal): Promise<void> {
  const now = Date.now();
  const ns = on.namespace ?? 'default';
  const body = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${on.name}.${(BigInt(now) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6))).toString(16)}`, namespace: ns },
    involvedObject: { kind: on.kind, apiVersion: on.apiVersion, name: on.name, ...(on.namespace && { namespace: on.namespace }), ...(on.uid && { uid: on.uid }) },
    reason,
    message,
    source: { component },
    firstTimestamp: rfc3339(now),
    lastTimestamp: rfc3339(now),
    count: 1,
    type,
  };
  try {
    await client.request('POST', `/api/v1/namespaces/${encodeURIComponent(ns)}/events`, { body, attempts: 2, ...(signal && { signal }) });
  } catch (e) {
    log.warn({ reason, object: `${ns}/${on.name}`, err: errorMessage(e) }, 'cannot record an event');
  }
}

export { rfc3339 };
export { isStatus } from '../cluster/index.js';
