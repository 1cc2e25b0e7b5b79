// NamespaceLifecycle's view of the namespaces, as the real admission plugin keeps one through an
// informer: listed once, then kept by a watch (the namespaces' shared watch cache). A name it does not
// know (not synced yet, or created a moment ago on another apiserver) is read from etcd by the caller.
import { errorMessage, type Logger } from '../common/index.js';
import { nameOf, objAt, strOf } from './object.js';
import type { WatchEvent } from './storage.js';

export type NamespaceState = 'active' | 'terminating';

/** The pure index: events in, the state of a name out; nothing is known until the initial list is in. */
interface Entry {
  readonly state: NamespaceState;
  /** The namespace's resourceVersion: an older state (a watch event behind a write of this apiserver) is ignored. */
  readonly rev: bigint;
}

const revOf = (rv: unknown): bigint => (typeof rv === 'string' && /^\d+$/.test(rv) ? BigInt(rv) : 0n);

export class NamespaceIndex {
  private live = new Map<string, Entry>();
  private pending: Map<string, Entry> | undefined = new Map();

  /** A new list begins (a (re)started watch): lookups answer "unknown" until it is synced. */
  reset(): void {
    this.pending = new Map();
  }

  /** The initial list has been applied: the index answers from now on. */
  markSynced(): void {
    if (this.pending) this.live = this.pending;
    this.pending = undefined;
  }

  get synced(): boolean {
    return this.pending === undefined;
  }

  /**
   * One namespace event: from the watch, or a write this apiserver just made (so that its own next request
   * sees it, before the watch brings it). Events older than what the index holds for the name are ignored.
   */
  apply(e: WatchEvent): void {
    const m = this.pending ?? this.live;
    if (e.type === 'ERROR' || e.type === 'BOOKMARK') return;
    const name = nameOf(e.object);
    if (!name) return;
    const meta = objAt(e.object, 'metadata');
    const rev = revOf(meta.resourceVersion);
    const had = m.get(name);
    if (had && rev < had.rev) return;
    if (e.type === 'DELETED') m.delete(name);
    else m.set(name, { state: strOf(meta.deletionTimestamp) ? 'terminating' : 'active', rev });
  }

  /** The namespace's state, or undefined when the index cannot tell (not synced, or not seen). */
  lookup(name: string): NamespaceState | undefined {
    return this.pending ? undefined : this.live.get(name)?.state;
  }

  get size(): number {
    return (this.pending ?? this.live).size;
  }
}

/** A list-then-watch of the namespaces: sends the current ones as ADDED, then calls `progress` with the list's revision. */
export type NamespaceWatch = (send: (e: WatchEvent) => void, signal: AbortSignal, progress: (rv: string) => void) => Promise<void>;

/** What a list-then-watch keeps fed: the namespace index, the Node authorizer's graph of pods. */
export interface WatchedIndex {
  reset(): void;
  markSynced(): void;
  apply(e: WatchEvent): void;
}

/** Keeps an index fed until `signal` aborts; a watch that ends is listed and watched again. `what` names it in the logs. */
export async function runNamespaceCache(index: WatchedIndex, watch: NamespaceWatch, log: Logger, signal: AbortSignal, retryMs = 1_000, what = 'namespace cache'): Promise<void> {
  while (!signal.aborted) {
    index.reset();
    let synced = false;
    try {
      await watch(
        (e) => {
          if (e.type === 'ERROR') {
            log.info({ reason: strOf(e.object.reason), err: strOf(e.object.message) }, `${what} watch ended; listing again`);
            index.reset();
            return;
          }
          index.apply(e);
        },
        signal,
        () => {
          if (synced) return;
          synced = true;
          index.markSynced();
        },
      );
    } catch (e) {
      log.warn({ err: errorMessage(e) }, `${what} watch failed; listing again`);
    }
    index.reset();
    if (signal.aborted) break;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, retryMs);
      function done(): void {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
