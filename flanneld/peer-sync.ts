// Feeds lease changes to the backend through one coalescing writer. Changes since the last sync are
// handed over as a partial sync (only those leases); a full sync (the backend reads the kernel and
// converges everything) runs first, every `resyncMs`, on drift, and after any failure.
import type { Lease } from '../ipam/index.js';
import type { LeaseChanges, Network } from '../backend/index.js';
import { type Logger, SyncRunner } from '../common/index.js';
import type { LeaseEvent } from '../ipam/index.js';
import type { FlannelMetrics } from './metrics.js';

export class PeerSync {
  private added = new Map<string, Lease>();
  private removed = new Map<string, Lease[]>();
  private needFull = true;
  private readonly runner: SyncRunner;
  private firstDone!: () => void;
  /** Settles once the first sync has run (whether or not it succeeded; a failed one is retried). */
  readonly firstSync = new Promise<void>((r) => (this.firstDone = r));

  constructor(
    private readonly network: Network,
    private readonly peers: () => Lease[],
    log: Logger,
    resyncMs: number,
    private readonly metrics?: FlannelMetrics,
  ) {
    this.runner = new SyncRunner({ name: 'reconcile', fn: () => this.sync(), minMs: 10, maxMs: resyncMs, retryMs: 1_000, log });
  }

  record(events: readonly LeaseEvent[]): void {
    for (const ev of events) {
      if (ev.type === 'added') {
        this.added.set(ev.key, ev.lease);
      } else {
        // Whatever version of the lease the kernel holds must go; one never applied just disappears.
        this.added.delete(ev.key);
        this.removed.set(ev.key, [...(this.removed.get(ev.key) ?? []), ev.lease]);
      }
    }
    if (events.length > 0) this.runner.request();
  }

  requestFull(): void {
    this.needFull = true;
    this.runner.request();
  }

  private async sync(): Promise<void> {
    const pending = this.added.size + this.removed.size > 0;
    const changes: LeaseChanges | undefined =
      this.needFull || !pending ? undefined : { added: [...this.added.values()], removed: [...this.removed.values()].flat() };
    this.added = new Map();
    this.removed = new Map();
    const end = this.metrics?.reconcileDuration.startTimer();
    try {
      await this.network.reconcile(this.peers(), changes);
      this.needFull = false;
    } catch (e) {
      this.needFull = true;
      this.metrics?.reconcileErrors.inc();
      throw e;
    } finally {
      this.firstDone();
      end?.();
      for (const [kind, n] of Object.entries(this.network.objects?.() ?? {})) this.metrics?.kernelObjects.set({ kind }, n);
    }
  }

  run(signal: AbortSignal): Promise<unknown> {
    return Promise.all([this.runner.run(signal), this.network.watchDrift?.(signal, () => this.requestFull())]);
  }
}
