// The watch cache's etcd edge: one etcd watch per resource (its whole prefix, every namespace), decoded
// once per event and fanned out through a WatchWindow to every client watch of that resource, as
// kube-apiserver's cacher does. When the etcd watch fails (a compaction under a lagging watch, a
// cancel), the window closes, its clients hear why, and a new one starts from etcd's current revision;
// until then client watches are served by etcd directly, as without a cache.
import { type Etcd3, type IKeyValue, type IWatchResponse, type Watcher } from 'etcd3';
import { errorMessage, type Logger, withTimeout } from '../common/index.js';
import { metaOf, type Obj } from './object.js';
import { WatchWindow, type WindowSubscriber } from './watch-window.js';

/** One etcd event of a resource, decoded once and shared by every client watch (never mutated after). */
export interface CachedEvent {
  readonly rev: bigint;
  readonly type: 'put' | 'delete';
  readonly key: string;
  /** The mod revision as etcd gives it (the served resourceVersion). */
  readonly modRevision: string;
  /** A put's new object (undefined when it does not decode). */
  readonly cur?: Obj;
  /** The object before the event; for a delete its resourceVersion is the deletion's revision. */
  readonly prev?: Obj;
}

export interface ResourceCacheOptions {
  readonly client: Etcd3;
  /** The resource's prefix over every namespace: <prefix>/<storage>/. */
  readonly prefix: string;
  readonly decode: (kv: IKeyValue) => Obj | undefined;
  readonly capacity: number;
  readonly log: Logger;
  /** Delay before a failed etcd watch is started again. */
  readonly restartMs?: number;
}

/** The reason a window's clients hear when the cache is stopped (the apiserver shuts down). */
export class CacheStopped extends Error {
  constructor() {
    super('watch cache stopped');
  }
}

const LATEST_KEYS = 20_000;

export class ResourceCache {
  private window: WatchWindow<CachedEvent> | undefined;
  private watcher: Watcher | undefined;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  /**
   * The newest key-value of each key written since the watch started, least recently written first, at most
   * LATEST_KEYS: a read-modify-write tries its compare-and-swap on it before reading etcd (a stale one only
   * fails the swap), as kube-apiserver's GuaranteedUpdate starts from the cached object.
   */
  private readonly latest = new Map<string, IKeyValue>();

  constructor(private readonly o: ResourceCacheOptions) {}

  /** The newest key-value the watch has seen for `key`, if it has seen one (it may lag etcd). */
  latestKv(key: string): IKeyValue | undefined {
    return this.latest.get(key);
  }

  /** The window's lower bound while it is serving, else undefined. */
  get lowerBound(): bigint | undefined {
    return this.window?.lowerBound;
  }

  get subscribers(): number {
    return this.window?.subscribers ?? 0;
  }

  /**
   * Starts the etcd watch at `fromRev` + 1; resolves once etcd has created it, or after 10 s (the window
   * serves from the start: what happens after `fromRev` reaches it whenever the watch connects).
   */
  async start(fromRev: bigint): Promise<void> {
    if (this.stopped) return;
    const window = new WatchWindow<CachedEvent>(this.o.capacity, fromRev);
    // The handlers go on before the watch is created: etcd may send history in the same read as "created".
    const watcher = this.o.client.watch().prefix(this.o.prefix).startRevision((fromRev + 1n).toString()).withPreviousKV().watcher();
    watcher.on('data', (res: IWatchResponse) => {
      for (const e of res.events) {
        const key = e.kv.key.toString();
        this.latest.delete(key);
        if (e.type !== 'Delete') {
          this.latest.set(key, e.kv);
          if (this.latest.size > LATEST_KEYS) this.latest.delete(this.latest.keys().next().value!);
        }
        window.push(this.toCached(e.type === 'Delete' ? 'delete' : 'put', e.kv, e.prev_kv));
      }
    });
    const created = new Promise<void>((resolve, reject) => {
      watcher.once('connected', () => resolve());
      watcher.once('error', reject);
    });
    watcher.on('error', (err: unknown) => {
      if (this.window !== window) return;
      this.o.log.warn({ prefix: this.o.prefix, err: errorMessage(err) }, 'watch cache etcd watch failed; restarting it');
      this.window = undefined;
      this.watcher = undefined;
      // Events may be missed until the restart: what was seen can no longer be known newest.
      this.latest.clear();
      watcher.removeAllListeners();
      void watcher.cancel().catch(() => undefined);
      window.close(err);
      this.scheduleRestart();
    });
    this.watcher = watcher;
    this.window = window;
    try {
      await withTimeout(created, 10_000);
    } catch (e) {
      // The 'error' handler above has closed the window and scheduled the restart.
      this.o.log.debug({ prefix: this.o.prefix, err: errorMessage(e) }, 'watch cache etcd watch not created');
    }
  }

  /** See WatchWindow.subscribe: undefined when the cache is not serving or `from` is older than its window. */
  subscribe(from: bigint, sub: WindowSubscriber<CachedEvent>): (() => void) | undefined {
    return this.window?.subscribe(from, sub);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    const w = this.watcher;
    this.watcher = undefined;
    const window = this.window;
    this.window = undefined;
    window?.close(new CacheStopped());
    if (w) {
      w.removeAllListeners();
      await w.cancel().catch(() => undefined);
    }
  }

  private toCached(type: 'put' | 'delete', kv: IKeyValue, prevKv: IKeyValue | undefined): CachedEvent {
    return new LazyEvent(type, kv, prevKv, this.o.decode);
  }

  private scheduleRestart(): void {
    if (this.stopped) return;
    this.restartTimer = setTimeout(() => {
      void this.restart();
    }, this.o.restartMs ?? 1_000);
    this.restartTimer.unref();
  }

  private async restart(): Promise<void> {
    if (this.stopped) return;
    try {
      const res = await this.o.client.kv.range({ key: Buffer.from(this.o.prefix), limit: 1, keys_only: true });
      await this.start(BigInt(res.header.revision));
    } catch (e) {
      this.o.log.warn({ prefix: this.o.prefix, err: errorMessage(e) }, 'watch cache restart failed; retrying');
      this.scheduleRestart();
    }
  }
}

/**
 * A cached event whose objects are decoded when a client watch first reads them, once: a kind nobody
 * watches (the pods while they are created in bulk) costs no JSON parsing.
 */
class LazyEvent implements CachedEvent {
  readonly rev: bigint;
  readonly key: string;
  readonly modRevision: string;
  private decodedCur: Obj | null | undefined;
  private decodedPrev: Obj | null | undefined;

  constructor(
    readonly type: 'put' | 'delete',
    private readonly kv: IKeyValue,
    private readonly prevKv: IKeyValue | undefined,
    private readonly decode: (kv: IKeyValue) => Obj | undefined,
  ) {
    this.modRevision = kv.mod_revision;
    this.rev = BigInt(kv.mod_revision);
    this.key = kv.key.toString();
  }

  get cur(): Obj | undefined {
    if (this.decodedCur === undefined) this.decodedCur = (this.type === 'put' && this.decode(this.kv)) || null;
    return this.decodedCur ?? undefined;
  }

  get prev(): Obj | undefined {
    if (this.decodedPrev === undefined) {
      const prev = this.prevKv ? this.decode(this.prevKv) : undefined;
      if (this.type === 'delete' && prev) metaOf(prev).resourceVersion = this.kv.mod_revision;
      this.decodedPrev = prev ?? null;
    }
    return this.decodedPrev ?? undefined;
  }
}
